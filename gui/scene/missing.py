"""Data with missing values (NaN cells, fitted by exact EM: engine fit(..., missing="em")) in the plot.

A point whose two view coordinates are both observed is drawn as any other; one missing its y is a tick on the x
axis's margin at its x (and vice versa), so that a user sees it exists; one missing both is counted in a note.
Only a view of two of the data's own columns can say which coordinate is missing: in a projection (a mix of
columns) a point with any missing column has no position, and is counted instead."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MissingTicks:
    """The shown-view's incomplete points. x_rows (A,): rows (of the data) observed on x, missing y; x_values (A,):
    their x; y_rows (B,), y_values (B,): the converse; hidden: the number of points missing both coordinates."""

    x_rows: np.ndarray
    x_values: np.ndarray
    y_rows: np.ndarray
    y_values: np.ndarray
    hidden: int

    def note(self, names: tuple[str, str] = ("x", "y")) -> str:
        """The plot's title on them (names: the axes'): how many each margin's ticks stand for, and how many points
        are not drawn at all ('' when the view's points are all complete)."""
        from engine import counted

        parts = [
            f"{counted(len(rows), 'point')} missing {name}: ticks {where}"
            for rows, name, where in ((self.x_rows, names[1], "at the bottom"), (self.y_rows, names[0], "at the left"))
            if len(rows)
        ]
        parts += [f"{counted(self.hidden, 'point')} missing both: not drawn"] if self.hidden else []
        return "; ".join(parts)


def missing_cells(points: np.ndarray) -> tuple[int, int]:
    """(cells, rows) of points (N, D) that are NaN (missing)."""
    if not points.size:  # (no points: cleared, or drawn by hand)
        return 0, 0
    nan = np.isnan(points.reshape(len(points), -1))
    return int(nan.sum()), int(nan.any(axis=1).sum())


def split_missing(xy: np.ndarray, shown: np.ndarray) -> tuple[np.ndarray, MissingTicks]:
    """Of the shown rows (S,) of the view xy (N, 2) with NaN: the complete ones (S',) and the ticks of the rest."""
    nan = np.isnan(xy[shown])
    x_only, y_only = shown[~nan[:, 0] & nan[:, 1]], shown[nan[:, 0] & ~nan[:, 1]]
    ticks = MissingTicks(x_only, xy[x_only, 0], y_only, xy[y_only, 1], int((nan[:, 0] & nan[:, 1]).sum()))
    return shown[~nan.any(axis=1)], ticks


def observed_points(xy: np.ndarray) -> np.ndarray:
    """The view xy (N, 2) with each axis' missing values replaced by that axis' observed ones (for the bounds:
    ticks lie inside them); an axis with no observed value is 0."""
    out = np.array(xy, dtype=np.float64)
    for j in range(2):
        seen = out[~np.isnan(out[:, j]), j]
        out[np.isnan(out[:, j]), j] = seen[0] if len(seen) else 0.0
    return out


def observed_resp(points: np.ndarray, weights: np.ndarray, means: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """The responsibilities (S, K) of points (S, D) with missing values given their observed coordinates (the
    plot's colours are their argmax: a point's component is the fit's, whatever it misses); mixture (K,), (K, D),
    (K, D, D) in data units."""
    import engine

    return engine.impute(points, weights, means, cov)[0]
