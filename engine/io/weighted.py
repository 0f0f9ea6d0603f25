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
from .columns import BadValue
from .dataset import Dataset
from .places import Place, row_places, source_place
from .text import is_missing, is_number

MISSING = "the weight is missing (only the fitted columns may miss values)"
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
        """The rows in order (c, D + 1): the fitted columns, then the weights; a weight the reader refuses (text, an
        empty cell, an infinity) is bad_weight's line, as in memory."""
        try:
            yield from self.source.chunks(rows)
        except BadValue as exc:
            if exc.column != self.weight_index:
                raise
            raise bad_weight(self.path, exc.place, self.weight_index, self.weight_column, exc.text) from None

    def __getattr__(self, name: str):
        return getattr(self.source, name)  # parts, stamp, ...: the wrapped source's


def names_of(source) -> tuple[str, ...]:
    """The names of a source's chunks' columns: the fitted ones, and a weighted source's weights last."""
    if getattr(source, "weighted", False):
        return (*source.columns, source.weight_column)
    return tuple(source.columns)


def check_weight_chunk(source: WeightedSource, weights: np.ndarray, first_row: int) -> None:
    """bad_weight's DataError for the first weight of a chunk (c,) that is not a finite number >= 0 (a NaN: the
    source was opened with missing values), its first row first_row (counted from 0 without a header)."""
    bad = np.flatnonzero(~(weights >= 0) | np.isinf(weights))
    if len(bad):
        place = source_place(source, first_row + int(bad[0]))
        raise bad_weight(source.path, place, source.weight_index, source.weight_column, float(weights[bad[0]]))


def bad_weight(path, place: Place, index: int, name: str, value: str | float) -> DataError:
    """The one line for a weight that is not a finite number >= 0, read in memory or by chunks: the file, its
    place (places.Place, written 'line 5' or 'row 4 (counted from 0)'), the weights' column, the value (as the file
    writes it, or as read) and what to do."""
    if isinstance(value, float) and not np.isinf(value):
        problem = MISSING if np.isnan(value) else f"weight {value:g} is negative"
    elif is_missing(str(value)):
        problem = MISSING
    else:
        problem = f"weight {str(value)!r} is not a " + ("finite number" if is_number(str(value)) else "number")
    return DataError(f"{path}: {place}, column {index} ({name!r}): {problem}: {FIX}")


def negative_weight(source: WeightedSource, path, row: int, value: float) -> DataError:
    """bad_weight's line for a negative weight in data row `row` (from 0, without the header) (a Dask part's)."""
    return bad_weight(path, source_place(source, row), source.weight_index, source.weight_column, value)


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
        "leave it out of --columns (--columns all means every column but the weights')"
    )


def open_weighted(spec: str, columns: list | None, weight: str, missing: bool = False) -> WeightedSource:
    """The data as a WeightedSource: the chosen columns (columns None: the default ones, without the weights';
    'all': every column but the weights'), then the weights' column (a 0-based index or a header name, as --columns
    takes it); missing: the fitted columns' missing values read as NaN (a missing weight is refused by the first
    pass)."""
    from .stream import open_source

    at = open_source(spec, [weight])
    index, name = at.idx[0], at.columns[0]
    columns = all_but(columns, list(at.names), index)
    fitted = [j for j in open_source(spec, columns, missing).idx]
    if index in fitted:
        if columns is not None:
            raise weight_index_conflict(spec, index, name)
        fitted.remove(index)
    if not fitted:
        raise DataError(f"{spec}: no column is left to fit beside the weights ({name!r}): choose some with --columns")
    return WeightedSource(open_source(spec, [f"index:{j}" for j in [*fitted, index]], missing))


def all_but(columns: list | None, names: list[str], index: int) -> list | None:
    """A column choice whose item 'all' (every column, where no column is named so) means every column but the
    weights' (at index): the weights are never fitted."""
    if columns is None or not any(_means_all(c, names) for c in columns):
        return columns
    out: list = []
    for c in columns:
        out += [f"index:{j}" for j in range(len(names)) if j != index] if _means_all(c, names) else [c]
    return out


def _means_all(item, names: list[str]) -> bool:
    text = str(item).strip()
    return text.lower() == "all" and text not in names


def load_weighted(
    path: str | Path, columns: list | None, weight: str, missing: bool = False
) -> tuple[Dataset, np.ndarray, int, str]:
    """The fitted columns (columns None: the default ones, without the weights'; 'all': every column but the
    weights') and the weights (N,) of a data file in memory; bad_weight's line for a weight that is not a finite
    number >= 0, a DataError for all weights 0 and for a weights' column also in columns. Also the weights'
    column's place in the file and its name. missing: the fitted columns' missing values read as NaN (data.load);
    a missing weight is refused."""
    from .data import column_names, load, load_cells

    path = Path(path)
    try:  # a missing weight reads as NaN, to be named below as a weight (never a missing coordinate)
        found = load_cells(path, [weight], missing=True)
    except BadValue as exc:  # text, an infinity: its line, as a weight
        raise bad_weight(path, exc.place, exc.column, exc.name, exc.text) from None
    index, name, w = found.column_indices[0], found.columns[0], found.points[:, 0]
    bad = np.flatnonzero(~(w >= 0))  # NaN (missing) or negative
    if len(bad):
        raise bad_weight(path, row_places(path, [int(bad[0])])[0], index, name, float(w[bad[0]]))
    if not w.any():
        raise all_zero(path, index, name)
    if columns is not None and any(_means_all(c, []) for c in columns):
        columns = all_but(columns, column_names(path), index)
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
    return ds, np.ascontiguousarray(w, dtype=np.float64), index, name


def point_chunks(source, rows: int) -> Iterator[np.ndarray]:
    """A source's chunks of points (c, D): a weighted source's without their weights' column."""
    if not getattr(source, "weighted", False):
        yield from source.chunks(rows)
        return
    for chunk in source.chunks(rows):
        yield chunk[:, :-1]
