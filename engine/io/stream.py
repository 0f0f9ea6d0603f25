"""Data read by chunks, for data that does not fit in memory (NumPy only, pyarrow for Parquet).

A source reads its rows in order, a chunk at a time, into a buffer of its own: `.npy` files by plain reads from
the data's offset (never memory-mapped: mapped pages would count in the process's resident set), Parquet files
by row groups (pyarrow), and a folder or a glob of such files one after another. The first pass (`survey`)
checks every value, computes the columns' moments and gathers the initialisation's sample: the rows that
`sample_rows` draws from (seed, N, sample size) alone, so that in memory, by chunks of any size and on a Dask
cluster's parts the same seed starts from the same rows.
"""

from __future__ import annotations

import glob as globbing
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .columns import MISSING_HINT
from .formats import IN_FOLDER_SUFFIXES, TEXT, format_of
from .stamp import check_cancelled

# Rows of the initialisation's sample (k-means++, k-means and random-data draw from it) when there are more: the
# same for data in memory, read by chunks or on a cluster. (gui.frames.SAMPLE_SIZE, 20,000, is another matter:
# how many of them the window draws as dots.)
SAMPLE_SIZE = 100_000


class MultiSource:
    """Files read one after another (a folder or a glob), all with the same columns."""

    def __init__(self, sources: list) -> None:
        first = sources[0]
        for s in sources[1:]:
            if s.n_features != first.n_features:
                raise DataError(f"{s.path}: {s.n_features} columns, but {first.path} has {first.n_features}")
        self.sources = sources
        self.path = first.path.parent
        self.names, self.idx, self.columns = first.names, first.idx, first.columns
        self.n_samples = sum(s.n_samples for s in sources)
        self.n_features = first.n_features

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        for source in self.sources:
            yield from source.chunks(rows)


def open_source(spec: str | Path, columns: list[str] | None = None, missing: bool = False):
    """The source for a `.npy`, Parquet or CSV/TSV file, a folder of `.npy`/Parquet files, or a glob of them
    ('data/part-*.parquet'); missing: an empty cell, NA token or null reads as NaN (--missing em)."""
    text = str(spec)
    if any(ch in text for ch in "*?["):
        paths = sorted(Path(p) for p in globbing.glob(text))
        if not paths:
            raise DataError(f"{text}: no file matches")
    elif Path(text).is_dir():
        paths = sorted(p for p in Path(text).iterdir() if p.suffix.lower() in IN_FOLDER_SUFFIXES)
        if not paths:
            raise DataError(f"{text}: the folder holds no {' or '.join(IN_FOLDER_SUFFIXES)} file")
    else:
        paths = [Path(text)]
    sources = []
    for path in paths:
        fmt = format_of(path, default=None)
        if fmt is None or fmt.source is None or (len(paths) > 1 and not fmt.in_folders):
            raise DataError(f"{path}: data bigger than memory is read from {' or '.join(IN_FOLDER_SUFFIXES)} files")
        sources.append(fmt.source(path, columns, missing) if missing else fmt.source(path, columns))
    return sources[0] if len(sources) == 1 else MultiSource(sources)


def chunked_source(spec: str, columns: list | None, limit: int, cluster: bool = False, missing: bool = False):
    """The data as a chunked source (open_source) when it must be read by chunks: a folder or a glob, a
    table larger than `limit` bytes (in float64: a float32 file counts twice), or any data a Dask cluster fits
    (cluster=True); None when it is loaded whole (by engine.load, with its own messages)."""
    path = Path(spec)
    many = any(ch in spec for ch in "*?[") or path.is_dir()
    text = format_of(path, default=None) is TEXT
    if text and path.is_file() and (cluster or path.stat().st_size > limit):
        return open_source(spec, columns, missing)  # a text table larger than the limit, or for a cluster's workers
    if not many and path.suffix.lower() not in IN_FOLDER_SUFFIXES:
        if cluster:
            raise DataError(
                f"{spec}: on a Dask cluster the workers read the data from .npy, Parquet or CSV/TSV files (a folder "
                "or a glob of .npy or Parquet files): save it with numpy.save or as Parquet"
            )
        return None
    if not many and not cluster and (not path.is_file() or path.stat().st_size * 2 <= limit):
        return None  # in memory (float32 on disk is twice as big in float64); the loader's own messages
    source = open_source(spec, columns, missing)
    if not many and not cluster and source.n_samples * source.n_features * 8 <= limit:
        return None
    return source


def digest(source, rows: int, cancelled=None) -> str:
    """SHA-256 of all the rows as little-endian float64 in C order, read by chunks: data.points_sha256 of the
    whole array, which this never holds. cancelled() is asked before each chunk (True: stream.Cancelled)."""
    sha = hashlib.sha256()
    for chunk in source.chunks(rows):
        check_cancelled(cancelled)
        sha.update(np.ascontiguousarray(chunk, dtype="<f8"))
    return sha.hexdigest()


@dataclass(frozen=True)
class Moments:
    """Count, column means (D,), sums of squared deviations (D,), smallest and largest values (D,) of some rows,
    in float64."""

    count: int
    mean: np.ndarray
    m2: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @staticmethod
    def none(d: int) -> Moments:
        """The moments of no rows."""
        return Moments(0, np.zeros(d), np.zeros(d), np.full(d, np.inf), np.full(d, -np.inf))

    @staticmethod
    def of(chunk: np.ndarray, weights: np.ndarray | None = None) -> Moments:
        """The moments of a chunk's rows (c, D); with frequency weights (c,) the weighted ones (count: sum w; the
        extremes of every row, a row of weight 0 too)."""
        low, high = chunk.min(axis=0).astype(np.float64), chunk.max(axis=0).astype(np.float64)
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            total = float(w.sum())
            if total == 0:
                return Moments(0, np.zeros(chunk.shape[1]), np.zeros(chunk.shape[1]), low, high)
            mean = (w @ chunk) / total
            dev = chunk - mean
            return Moments(total, mean, np.einsum("i,ij,ij->j", w, dev, dev), low, high)
        mean = chunk.mean(axis=0, dtype=np.float64)  # float32 files too: the moments in float64
        dev = chunk - mean
        return Moments(len(chunk), mean, np.einsum("ij,ij->j", dev, dev), low, high)

    def add(self, other: Moments) -> Moments:
        """The moments of both sets of rows (Chan's pairwise combination; counts may be sums of weights)."""
        if other.count == 0:
            return Moments(
                self.count, self.mean, self.m2, np.minimum(self.low, other.low), np.maximum(self.high, other.high)
            )
        total = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / total)
        m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / total)
        return Moments(total, mean, m2, np.minimum(self.low, other.low), np.maximum(self.high, other.high))

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.count)


def first_non_finite(chunk: np.ndarray) -> tuple[int, int, float] | None:
    """(row, column, value) of a chunk's first non-finite value, or None."""
    finite = np.isfinite(chunk)
    if finite.all():
        return None
    r, j = np.argwhere(~finite)[0]
    return int(r), int(j), float(chunk[r, j])


def sample_rows(seed: int, n: int, size: int) -> np.ndarray:
    """The rows of the initialisation's sample (S,), S = min(size, n), ascending: every row when n <= size, else
    `size` distinct rows drawn uniformly by numpy's generator seeded `seed`. They depend on (seed, n, size) only,
    never on how the rows are read: each reader (in memory, by chunks, a Dask cluster's parts) gathers these.
    (Generator.choice holds at most max(50 * size, ...) row numbers while it draws: 40 MB at the default size.)"""
    if n <= size:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def rows_within(rows: np.ndarray, start: int, count: int) -> np.ndarray:
    """The places, counted from start, of the ascending rows (S,) that lie in [start, start + count)."""
    lo, hi = np.searchsorted(rows, [start, start + count])
    return rows[lo:hi] - start


@dataclass(frozen=True)
class Survey:
    """What the first pass learnt: N, the columns' means and standard deviations (D,), a uniform random sample
    of the rows (S, D) and which rows it holds (S,), the columns' smallest and largest values (D,)."""

    n_samples: int
    mean: np.ndarray
    std: np.ndarray
    sample: np.ndarray
    sample_rows: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_effective: float | None = None  # sum w of a weighted source (engine/io/weighted.py); None: unweighted
    sample_weights: np.ndarray | None = None  # (S,) the sample's weights (weighted)
    missing_cells: int = 0  # the missing values (NaN) read with missing=True: the sample holds them as NaN


def survey(source, rows: int, sample_size: int, seed: int, cancelled=None, missing: bool = False) -> Survey:
    """One pass: every value checked (finite; the row and column named), the moments (Chan's pairwise
    combination of per-chunk means and squared deviations, in float64), and the rows sample_rows(seed, N,
    sample_size) gathered as the chunks pass, in row order. cancelled() (optional) is asked before each chunk:
    True ends the pass with stream.Cancelled. A weighted source's chunks end with the weights' column: the
    weights checked (>= 0, not all 0), the moments weighted, the sample's weights kept. missing: a NaN in a fitted
    column is a missing value (engine/io/observed.py: each column's moments over its observed values, the sample
    with its NaN, Survey.missing_cells)."""
    from .weighted import all_zero, names_of

    weighted = bool(getattr(source, "weighted", False))
    wanted = sample_rows(seed, source.n_samples, sample_size)
    d = source.n_features
    sample, sample_w = np.empty((len(wanted), d)), np.empty(len(wanted)) if weighted else None
    moments, read, holes, names, weight_sum = _no_moments(d, missing), 0, 0, names_of(source), 0.0
    from .observed import EmptyRows

    empty = EmptyRows()  # rows with nothing observed (missing): refused with all their places once the pass ends
    for chunk in source.chunks(rows):
        check_cancelled(cancelled)
        points, w = (chunk[:, :-1], chunk[:, -1]) if weighted else (chunk, None)
        holes += _checked_chunk(source, names, chunk, read, missing, empty)
        moments = _add_chunk(moments, points, w, missing)
        weight_sum += float(w.sum()) if missing and weighted else 0.0
        lo, hi = np.searchsorted(wanted, [read, read + len(chunk)])
        sample[lo:hi] = points[wanted[lo:hi] - read]
        if weighted:
            sample_w[lo:hi] = w[wanted[lo:hi] - read]
        read += len(chunk)
    empty.check(source, names[:d])
    if read == 0:
        raise DataError(f"{source.path}: there are no rows")
    check_row_count(source.path, read, source.n_samples)
    m = moments
    total = (weight_sum if missing else float(m.count)) if weighted else None
    if weighted and total == 0:
        raise all_zero(source.path, source.weight_index, source.weight_column)
    if missing:
        from .observed import check_observed_columns

        check_observed_columns(source.path, names, m)
    return Survey(read, m.mean, m.std, sample, wanted, m.low, m.high, total, sample_w, holes)


def _no_moments(d: int, missing: bool) -> Moments:
    """The moments of no rows: one count, or (missing) one count a column (D,)."""
    none = Moments.none(d)
    return Moments(np.zeros(d), none.mean, none.m2, none.low, none.high) if missing else none


def _checked_chunk(source, names: tuple[str, ...], chunk: np.ndarray, read: int, missing: bool, empty) -> int:
    """A chunk's values checked (DataError naming the row and column of a bad one); its missing cells (missing:
    NaN in a fitted column; its rows with nothing observed go to empty, an observed.EmptyRows), else 0."""
    from .weighted import check_weight_chunk

    weighted = bool(getattr(source, "weighted", False))
    points = chunk[:, :-1] if weighted else chunk
    holes = 0
    if missing:  # the fitted columns may hold NaN (not an infinity); the weights none
        from .observed import check_observed_chunk

        holes = check_observed_chunk(source, names[: points.shape[1]], points, read, empty)
    bad = None if missing else first_non_finite(points)
    if bad is not None:
        r, j, value = bad
        hint = MISSING_HINT if np.isnan(value) else ""
        raise DataError(  # columns.check_finite's words, as the data in memory says it
            f"{source.path}: row {read + r}, column {j} ({names[j]!r}): value {value} is not a finite number: remove "
            f"or fill that row{hint}"
        )
    if weighted:  # a weight that is not a finite number >= 0: its line, as in memory
        check_weight_chunk(source, chunk[:, -1], read)
    return holes


def _add_chunk(m: Moments, points: np.ndarray, w: np.ndarray | None, missing: bool) -> Moments:
    """The moments m with a chunk's rows (c, D) added (missing: column by column over the observed values)."""
    if not missing:
        return m.add(Moments.of(points, w))
    from .observed import add_observed, observed_moments

    return add_observed(m, observed_moments(points, w))


def check_row_count(path, read: int, counted: int) -> None:
    """DataError when a pass read another number of rows than the source counted when it opened (the sample's
    rows were drawn among those counted)."""
    if read != counted:
        raise DataError(
            f"{path}: {read:,} rows read where {counted:,} were counted when it was opened: the data changed while "
            "it was read; open it again"
        )
