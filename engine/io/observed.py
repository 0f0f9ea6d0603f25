"""The first pass over data read by chunks with missing values (`--missing em`, issue 25): each column's moments
over its observed values (weighted), what the in-memory fit takes from inference/missing.py's check_missing, and
the checks that name a bad row: an infinity, a row with no observed value, a column with none.

A column's count here is an array (D,): its observed values (or their weights), not the rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .places import Place, listed, row_places, source_places
from .stream import Moments


class NoObservedValue(DataError):
    """Rows of data read with its missing values that have no observed value among the fitted columns: fitting
    missing values by EM cannot take them (the window says so at open, rather than offering --missing em's fit)."""


def observed_moments(points: np.ndarray, weights: np.ndarray | None = None) -> Moments:
    """The moments of a chunk's observed values (c, D) (NaN: missing), column by column: count (D,) (the weights'
    sum with frequency weights (c,)), mean and sum of squared deviations (D,) of the observed values, and their
    extremes (NaN for a column with none here). A chunk without a NaN: Moments.of's numbers, bit for bit."""
    x = np.asarray(points)
    seen = ~np.isnan(x)
    if seen.all():
        m = Moments.of(x, weights)
        return Moments(np.full(x.shape[1], float(m.count)), m.mean, m.m2, m.low, m.high)
    x = x.astype(np.float64)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    count = w @ seen
    filled = np.where(seen, x, 0.0)
    mean = np.divide(w @ filled, count, out=np.zeros_like(count), where=count > 0)
    m2 = w @ (np.where(seen, x - mean, 0.0) ** 2)
    low, high = np.fmin.reduce(x, axis=0, initial=np.inf), np.fmax.reduce(x, axis=0, initial=-np.inf)
    return Moments(count, mean, m2, low, high)


def add_observed(a: Moments, b: Moments) -> Moments:
    """The column-by-column moments of both sets of values (Moments.add's Chan combination, each column with its
    own count (D,), the same operations: complete data gets Moments.add's bits); a column with no value in b keeps
    a's."""
    total = a.count + b.count
    share = np.divide(b.count, total, out=np.zeros_like(total), where=total > 0)
    cross = np.divide(a.count * b.count, total, out=np.zeros_like(total), where=total > 0)
    delta = b.mean - a.mean
    mean = a.mean + delta * share
    m2 = a.m2 + b.m2 + delta**2 * cross
    return Moments(total, mean, m2, np.fmin(a.low, b.low), np.fmax(a.high, b.high))


EMPTY_LISTED = 5  # the rows with no observed value whose places the error lists (the count says how many in all)


class EmptyRows:
    """The rows with no observed value a pass over data read by chunks (here or on Dask's workers) meets: the first
    EMPTY_LISTED (from 0, without the header) and how many, refused in one line once the pass has read them all
    (check)."""

    def __init__(self) -> None:
        self.first: list[int] = []
        self.count = 0

    def add(self, rows: np.ndarray, first_row: int, count: int | None = None) -> None:
        """A chunk's (or a Dask part's) such rows (their places in it, from 0, ascending), the chunk's first row
        first_row; count: how many it has in all when rows lists only its first ones (a part's), else len(rows)."""
        self.first += [first_row + int(r) for r in rows[: max(EMPTY_LISTED - len(self.first), 0)]]
        self.count += len(rows) if count is None else count

    def check(self, source, names: tuple[str, ...]) -> None:
        """no_observed_value's line, with the rows' places in the file (places.source_places), if there were any."""
        if self.count:
            raise no_observed_value(source.path, source_places(source, self.first), self.count, names)


def check_observed_chunk(source, names: tuple[str, ...], points: np.ndarray, first_row: int, empty: EmptyRows) -> int:
    """The missing cells (NaN) of a chunk (c, D) of a source (stream.open_source's) whose first row is first_row
    (from 0, without the header); a DataError naming the first infinity; the rows with every coordinate missing
    go to empty (refused once the pass ends)."""
    infinite = np.argwhere(np.isinf(points))
    if len(infinite):
        r, j = infinite[0]
        raise DataError(
            f"{source.path}: row {first_row + r}, column {j} ({names[j]!r}) is {points[r, j]}: remove or fill "
            "infinite values"
        )
    holes = np.isnan(points)
    empty.add(np.flatnonzero(holes.all(1)), first_row)
    return int(holes.sum())


def check_observed_rows(path: Path, points: np.ndarray, names: tuple[str, ...]) -> None:
    """No row of data read in memory with its missing values (N, D) (NaN: missing) is missing every coordinate:
    else no_observed_value's line, with the file's lines of the first EMPTY_LISTED such rows (places.row_places)."""
    empty = np.flatnonzero(np.isnan(points).all(1))
    if len(empty):
        raise no_observed_value(path, row_places(path, [int(r) for r in empty[:EMPTY_LISTED]]), len(empty), names)


def no_observed_value(path, places: list[Place], count: int, names: tuple[str, ...]) -> NoObservedValue:
    """The one line for rows with no observed value among the fitted columns, in memory or by chunks: the first's
    place, how many more and where (places: up to EMPTY_LISTED, count in all), and what to do. Refused rather than
    dropped: the labels export and a session keep one row per data row of the file, and BIC's n counts them."""
    more = ""
    if count > 1:
        more = f" (and {count - 1:,} more such row{'s' * (count > 2)}: {listed(places[1:], count > len(places))})"
    return NoObservedValue(
        f"{path}: {places[0]} has no value in any fitted column ({', '.join(map(repr, names))}){more}: such a row "
        "tells nothing about the mixture: remove it, or choose other columns"
    )


def check_observed_columns(path: Path, names: tuple[str, ...], m: Moments) -> None:
    """DataError naming the first column with no observed value (of weight > 0) once the pass is done."""
    empty = np.flatnonzero(np.asarray(m.count) == 0)
    if len(empty):
        j = int(empty[0])
        raise DataError(
            f"{path}: column {j} ({names[j]!r}) has no observed value (of weight > 0): leave it out of --columns"
        )
