"""A data file's column of frequency weights (`--weights COLUMN`, issue 25): read beside the fitted columns, never
one of them, and checked with one line that names the file, the row, the column, the value and what to do.

Data in memory: `load_weighted` gives the fitted columns (a Dataset) and the weights (N,). Data read by chunks:
`open_weighted` gives a `WeightedSource`, whose chunks carry the weights as their last column (c, D + 1), split
off by the chunk E-step (sources.chunk_sums, told by PassPlan.weighted) and by the first pass (stream.survey).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import DataError
from .columns import MISSING_HINT
from .dataset import Dataset
from .formats import TEXT, format_of

FIX = "weights count each point (0 drops it): fix that row or choose another --weights column"


class WeightedSource:
    """A chunked source (stream.open_source) opened with the fitted columns and then the weights' column: it
    presents the fitted columns (n_features, columns) and reads chunks (c, D + 1), the weights last."""

    weighted = True

    def __init__(self, source) -> None:
        self.source = source
        self.path, self.n_samples = source.path, source.n_samples
        self.n_features = source.n_features - 1
        self.columns = tuple(source.columns[:-1])
        self.weight_column = source.columns[-1]
        self.weight_index = source.idx[-1]  # its place in the file
        self.names, self.idx = source.names, list(source.idx[:-1])

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """The rows in order (c, D + 1): the fitted columns, then the weights."""
        return self.source.chunks(rows)

    def __getattr__(self, name: str):
        return getattr(self.source, name)  # parts, stamp, ...: the wrapped source's


def names_of(source) -> tuple[str, ...]:
    """The names of a source's chunks' columns: the fitted ones, and a weighted source's weights last."""
    if getattr(source, "weighted", False):
        return (*source.columns, source.weight_column)
    return tuple(source.columns)


def check_weight_chunk(source: WeightedSource, weights: np.ndarray, first_row: int) -> None:
    """DataError naming the first negative weight of a chunk (c,) whose first row is first_row (counted from 0
    without a header); the first pass has checked every value finite."""
    bad = np.flatnonzero(weights < 0)
    if len(bad):
        raise negative_weight(source, source.path, first_row + int(bad[0]), float(weights[bad[0]]))


def negative_weight(source: WeightedSource, path, row: int, value: float) -> DataError:
    """The error for a negative weight in data row `row` (from 0, without the header) of the file at path."""
    return DataError(
        f"{path}: row {row} (counted from 0 without the header), column {source.weight_index} "
        f"({source.weight_column!r}): weight {value:g} is negative: {FIX}"
    )


def all_zero(path, index: int, name: str) -> DataError:
    """The error when every weight is 0."""
    return DataError(
        f"{path}: every weight in column {index} ({name!r}) is 0: at least one point must count (a weight > 0): "
        "fix the weights or choose another --weights column"
    )


def weight_index_conflict(path, index: int, name: str) -> DataError:
    """The error when the weights' column is also named in --columns."""
    return DataError(
        f"{path}: column {index} ({name!r}) is both --weights and in --columns: the weights are never fitted; "
        "leave it out of --columns"
    )


def open_weighted(spec: str, columns: list | None, weight: str, missing: bool = False) -> WeightedSource:
    """The data as a WeightedSource: the chosen columns (columns None: the default ones, without the weights'),
    then the weights' column (a 0-based index or a header name, as --columns takes it); missing: the fitted
    columns' missing values read as NaN (a missing weight is refused by the first pass)."""
    from .stream import open_source

    at = open_source(spec, [weight])
    index, name = at.idx[0], at.columns[0]
    fitted = [j for j in open_source(spec, columns, missing).idx]
    if index in fitted:
        if columns is not None:
            raise weight_index_conflict(spec, index, name)
        fitted.remove(index)
    if not fitted:
        raise DataError(f"{spec}: no column is left to fit beside the weights ({name!r}): choose some with --columns")
    return WeightedSource(open_source(spec, [f"index:{j}" for j in [*fitted, index]], missing))


def load_weighted(
    path: str | Path, columns: list | None, weight: str, missing: bool = False
) -> tuple[Dataset, np.ndarray, int, str]:
    """The fitted columns (columns None: the default ones, without the weights') and the weights (N,) of a data
    file in memory; DataError in one line for a weight that is not a finite number >= 0 (the file's line with its
    header counted, or a binary file's row from 0), for all weights 0, and for a weights' column also in columns.
    Also the weights' column's place in the file and its name. missing: the fitted columns' missing values read as
    NaN (data.load); a missing weight is refused."""
    from .data import load

    path = Path(path)
    try:
        found = load(path, [weight])  # a value that is not a number, or not finite: the loader names its line
    except DataError as exc:  # a weight that is missing is no missing coordinate: --missing em does not fit it
        raise DataError(str(exc).replace(MISSING_HINT, "")) from None
    index, name, w = found.column_indices[0], found.columns[0], found.points[:, 0]
    ds = load(path, columns, missing=missing)
    if index in ds.column_indices:
        if columns is not None:
            raise weight_index_conflict(path, index, name)
        kept = [j for j in ds.column_indices if j != index]
        if not kept:
            raise DataError(
                f"{path}: no column is left to fit beside the weights ({name!r}): choose some with --columns"
            )
        ds = load(path, [f"index:{j}" for j in kept], missing=missing)
    bad = np.flatnonzero(w < 0)
    if len(bad):
        where = _row_name(path, int(bad[0]))
        raise DataError(f"{path}: {where}, column {index} ({name!r}): weight {w[bad[0]]:g} is negative: {FIX}")
    if not w.any():
        raise all_zero(path, index, name)
    return ds, np.ascontiguousarray(w, dtype=np.float64), index, name


def point_chunks(source, rows: int) -> Iterator[np.ndarray]:
    """A source's chunks of points (c, D): a weighted source's without their weights' column."""
    if not getattr(source, "weighted", False):
        yield from source.chunks(rows)
        return
    for chunk in source.chunks(rows):
        yield chunk[:, :-1]


def _row_name(path: Path, row: int) -> str:
    """Where data row `row` (from 0) is in the file, as its reader counts: a text table's line (the header and
    any comment or blank lines counted), or a binary table's row from 0."""
    if format_of(path, default=None) is not TEXT:
        return f"row {row}"
    from .text import read_header, text_rows

    lines = text_rows(path, path.read_bytes())
    return f"line {lines[row + int(read_header(lines[0][1])[0])][0]}"
