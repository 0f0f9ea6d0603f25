"""The picture of data read by chunks: how many of ALL its points fall in each cell of a grid over a 2-D view,
counted in one pass (NumPy only; the window draws it as a density image under a sample of the points).

A view is any function from rows (c, D) to their 2-D coordinates (c, 2), such as engine.model.projection.View.points.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..io.stamp import check_cancelled

Project = Callable[[np.ndarray], np.ndarray]


def bin_counts(xy: np.ndarray, bounds: tuple[float, float, float, float], bins: int) -> np.ndarray:
    """Counts (bins, bins) int64 of points xy (N, 2) on a grid over bounds (xmin, xmax, ymin, ymax), x along
    axis 0; points outside are not counted, a point on the upper edge is in the last cell (as np.histogram2d).

    One bincount over flat cell numbers: faster than np.histogram2d (measured: docs/performance.md, 'Reading big
    files')."""
    x0, x1, y0, y1 = bounds
    ix = _cells(xy[:, 0], x0, x1, bins)
    iy = _cells(xy[:, 1], y0, y1, bins)
    inside = (ix >= 0) & (iy >= 0)
    flat = ix[inside] * bins + iy[inside]
    return np.bincount(flat, minlength=bins * bins).reshape(bins, bins)


def _cells(v: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    """Each value's cell 0..bins-1 along one axis, -1 outside [lo, hi]: np.histogram's uniform-bin rule (the
    cell from the scaled value, then corrected against the exact edges, so rounding never moves a point)."""
    edges = np.linspace(lo, hi, bins + 1)
    cell = np.floor((v - lo) * (bins / (hi - lo))).astype(np.int64)
    cell = np.clip(cell, 0, bins - 1)
    cell -= v < edges[cell]  # rounding put it one cell too high
    cell += (v >= edges[np.minimum(cell + 1, bins)]) & (cell < bins - 1)  # ... or one too low
    cell[(v < lo) | (v > hi) | np.isnan(v)] = -1
    return cell


def view_range(source, rows: int, project: Project, cancelled=None) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and largest coordinates (2,), (2,) of all the source's points in a view: one pass."""
    low, high = np.full(2, np.inf), np.full(2, -np.inf)
    for chunk in source.chunks(rows):
        check_cancelled(cancelled)
        xy = project(chunk)
        if len(xy):
            low, high = np.minimum(low, xy.min(axis=0)), np.maximum(high, xy.max(axis=0))
    return low, high


def density_counts(
    source, rows: int, project: Project, bounds: tuple[float, float, float, float], bins: int, cancelled=None
) -> np.ndarray:
    """Counts (bins, bins) int64 of all the source's points in a view on a grid over bounds: one pass."""
    counts = np.zeros((bins, bins), dtype=np.int64)
    for chunk in source.chunks(rows):
        check_cancelled(cancelled)
        counts += bin_counts(project(chunk), bounds, bins)
    return counts


def histogram_counts(source, rows: int, lo: float, hi: float, bins: int, cancelled=None) -> np.ndarray:
    """Counts (bins,) int64 of all the values of a 1-D source in equal bins over [lo, hi]: one pass."""
    counts = np.zeros(bins, dtype=np.int64)
    for chunk in source.chunks(rows):
        check_cancelled(cancelled)
        counts += np.histogram(chunk[:, 0], bins=bins, range=(lo, hi))[0]
    return counts
