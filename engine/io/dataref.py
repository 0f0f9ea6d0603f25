"""Where a data set comes from, so that a session finds it again: its file (path, columns), its generator
recipe (mixture, n, seed) or the points themselves, with the points' SHA-256. NumPy only: the window makes
one for every data set it shows, before the engine's torch part has loaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from .data import column_names, load, sample_mixture
from .dataset import Dataset, points_sha256, unnamed_columns
from .stream import digest, open_source


@dataclass(frozen=True)
class DataRef:
    """Where the data comes from: kind "file" (path, columns), "generated" (mixture, n, seed) or "inline"."""

    kind: str
    sha256: str
    n_samples: int
    path: str = ""
    columns: tuple = ()
    mixture: dict | None = None
    n: int = 0
    seed: int = 0
    points: list | None = None
    n_features: int = 2  # D, the points' dimension (sessions before it existed held 2-D data)
    chunked: bool = False  # a file bigger than memory: read by chunks (open_chunked), never loaded whole
    weights_column: int | None = None  # the file's column of the points' frequency weights (--weights), by place
    weights_sha256: str = ""  # their SHA-256 as an (N, 1) table (in memory; by chunks the data's digest holds them)
    missing: bool = False  # a file with missing values (empty cells, NA, nulls, NaN) read as NaN: fit --missing em

    def column_names(self) -> tuple[str, ...]:
        """The fitted columns' names as the fit's tables said them: a file's own (its header's, or x0, x1, ...) for
        its columns, else x0, x1, ... (generated or inline data)."""
        if self.kind != "file" or not self.columns:
            return unnamed_columns(self.n_features)
        names = column_names(self.path)
        return tuple(names[j] if isinstance(j, int) and j < len(names) else str(j) for j in self.columns)

    def load_weights(self) -> np.ndarray | None:
        """The points' frequency weights (N,) of a file fitted with them, checked against the saved hash (None
        without): the same checks and messages as `--weights`."""
        if self.weights_column is None:
            return None
        from .weighted import load_weighted

        columns = [f"index:{j}" for j in self.columns] if self.columns else None
        _, weights, _, _ = load_weighted(self.path, columns, f"index:{self.weights_column}", self.missing)
        digest = points_sha256(weights.reshape(-1, 1))
        if digest != self.weights_sha256:
            raise UserError(
                f"{self.path}: its weights' column {self.weights_column} has changed since the session was saved "
                f"(SHA-256 {digest[:12]}… but the session recorded {self.weights_sha256[:12]}…)"
            )
        return weights

    def load(self) -> np.ndarray:
        """The points, checked against the saved hash; UserError naming what changed."""
        if self.chunked:
            raise UserError(f"{self.path}: this data is read by chunks (it was bigger than memory): open_chunked")
        if self.kind == "file":
            points = load(self.path, list(self.columns) if self.columns else None, missing=self.missing).points
        elif self.kind == "generated":
            m = self.mixture
            points, _ = sample_mixture(m["weights"], m["means"], m["covariances"], self.n, self.seed)
        elif self.kind == "inline":
            points = np.asarray(self.points, dtype=np.float64).reshape(-1, self.n_features)
        else:
            raise UserError(f"session data kind {self.kind!r} is unknown: the file is damaged or from a newer version")
        self._check(points_sha256(points))
        return points

    def _check(self, digest: str) -> None:
        if digest != self.sha256:
            where = self.path if self.kind == "file" else f"the {self.kind} data"
            raise UserError(
                f"{where} has changed since the session was saved (SHA-256 {digest[:12]}… but the "
                f"session recorded {self.sha256[:12]}…): the fits would not be the same"
            )

    def open_chunked(self, rows: int, cancelled=None):
        """The source of a file read by chunks (engine.io.stream), checked in one pass against the saved size and
        SHA-256; UserError naming what changed."""
        source = open_source(self.path, list(self.columns) or None, self.missing)
        if self.weights_column is not None:  # the weights read with each chunk, last (engine/io/weighted.py)
            from .weighted import WeightedSource

            places = [f"index:{j}" for j in [*source.idx, self.weights_column]]
            source = WeightedSource(open_source(self.path, places, self.missing))
        if (source.n_samples, source.n_features) != (self.n_samples, self.n_features):
            raise UserError(
                f"{self.path} has changed since the session was saved: {source.n_samples:,} rows x "
                f"{source.n_features} columns, but the session recorded {self.n_samples:,} x {self.n_features}"
            )
        self._check(digest(source, rows, cancelled))
        return source


def file_ref(dataset: Dataset, weights: np.ndarray | None = None, weights_column: int | None = None) -> DataRef:
    """The reference of a file's data set in memory; with the frequency weights (N,) fitted with it, and their
    column's place in the file. Points with missing values (NaN) are read so again (missing)."""
    return DataRef(
        "file",
        dataset.sha256,
        len(dataset.points),
        path=str(Path(dataset.source).resolve()),
        columns=tuple(dataset.column_indices),
        n_features=dataset.points.shape[1],
        weights_column=weights_column,
        weights_sha256="" if weights is None else points_sha256(np.asarray(weights).reshape(-1, 1)),
        missing=bool(np.isnan(dataset.points).any()),
    )


def chunked_ref(source, path: str, rows: int, cancelled=None, missing: bool = False) -> DataRef:
    """The reference of a file read by chunks (an engine.io.stream source opened from path): its chosen columns by
    place, and the SHA-256 of all its points, taken in one pass (the hash data.points_sha256 gives them whole);
    missing: it holds missing values, read as NaN."""
    return DataRef(
        "file",
        digest(source, rows, cancelled),
        source.n_samples,
        path=str(Path(path).resolve()),
        columns=tuple(int(j) for j in source.idx),
        n_features=source.n_features,
        chunked=True,
        weights_column=getattr(source, "weight_index", None),  # a WeightedSource's: its digest holds the weights
        missing=missing,
    )


def generated_ref(mixture: dict, n: int, seed: int, points: np.ndarray) -> DataRef:
    m = {k: np.asarray(mixture[k]).tolist() for k in ("weights", "means", "covariances")}
    return DataRef("generated", points_sha256(points), n, mixture=m, n=n, seed=seed, n_features=points.shape[1])


def inline_ref(points: np.ndarray) -> DataRef:
    points = np.asarray(points)
    return DataRef("inline", points_sha256(points), len(points), points=points.tolist(), n_features=points.shape[1])
