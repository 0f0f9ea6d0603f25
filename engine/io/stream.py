"""Data read by chunks, for data that does not fit in memory (NumPy only, pyarrow for Parquet).

A source reads its rows in order, a chunk at a time, into a buffer of its own: `.npy` files by plain reads from
the data's offset (never memory-mapped: mapped pages would count in the process's resident set), Parquet files
by row groups (pyarrow), and a folder or a glob of such files one after another. The first pass (`survey`)
checks every value, computes the columns' moments and gathers the initialisation's sample: the rows that
`sample_rows` draws from (seed, N, sample size) alone, so that in memory, by chunks of any size and on a Dask
cluster's parts the same seed starts from the same rows.
"""

from __future__ import annotations

import codecs
import glob as globbing
import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

# Rows of the initialisation's sample (k-means++, k-means and random-data draw from it) when there are more: the
# same for data in memory, read by chunks or on a cluster. (gui.frames.SAMPLE_SIZE, 20,000, is another matter:
# how many of them the window draws as dots.)
SAMPLE_SIZE = 100_000

STREAM_SUFFIXES = (".npy", ".parquet")  # what a folder or a glob is made of (and what Dask workers read)
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")  # streamed on this machine
GUESS_ROWS = 65536  # rows at a time when a whole column of a text table settles a guess (row index, class label)


STAMP_BLOCK = 1 << 16  # bytes at each end of a file whose hash is part of its stamp


@dataclass(frozen=True)
class FileStamp:
    """What identifies a file's content cheaply: size, modification time (ns) and the SHA-256 of its first and last
    STAMP_BLOCK bytes (a rewrite in place at the same size and time is seen where it changes either end)."""

    size: int
    mtime_ns: int
    ends: str

    @staticmethod
    def of(path: Path) -> FileStamp:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            sha = hashlib.sha256(f.read(STAMP_BLOCK))
            f.seek(max(st.st_size - STAMP_BLOCK, 0))
            sha.update(f.read(STAMP_BLOCK))
        return FileStamp(st.st_size, st.st_mtime_ns, sha.hexdigest())

    def check(self, path: Path) -> None:
        """DataError if the file at path is no longer the one stamped (rewritten, grown, replaced)."""
        try:
            now = FileStamp.of(path)
        except OSError as exc:
            raise DataError(
                f"{path}: can no longer be read ({exc.strerror}): it was removed or moved during the fit"
            ) from None
        if now == self:
            return
        if now.size != self.size:
            how = f"its size went from {self.size:,} to {now.size:,} bytes"
        elif now.mtime_ns != self.mtime_ns:
            how = "it was modified (same size, a later time)"
        else:
            how = "its content changed (same size and time)"
        raise DataError(
            f"{path}: the file changed while it was being read ({how}): a fit reads it once per iteration, so it "
            "must stay as it is; fit a copy, or wait until it is written"
        )


def stamped(path: Path, stamp: FileStamp, chunks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """The chunks of one pass over a file, its stamp checked before the first and after the last."""
    stamp.check(path)
    yield from chunks
    stamp.check(path)


class Cancelled(Exception):  # noqa: N818 - not an error: the caller stopped a pass that was no longer wanted
    """A pass was stopped on its caller's request (its result is not wanted any more)."""


def check_cancelled(cancelled) -> None:
    """Raise Cancelled when cancelled() (a pass's optional question, asked before each chunk) says so."""
    if cancelled is not None and cancelled():
        raise Cancelled


class NpySource:
    """A 2-D (or 1-D) C-ordered `.npy` array of numbers, read rows at a time; all its columns, or the chosen ones
    (indices or ranges, as --columns takes them).

    Every source has: path, names (every column of the file), idx (the chosen columns' places among them),
    columns (their names), n_samples, n_features, and chunks(rows)."""

    def __init__(self, path: str | Path, columns: list | None = None) -> None:
        from .data import resolve_columns, unnamed_columns

        self.path = Path(path)
        self.stamp = FileStamp.of(self.path)
        with open(self.path, "rb") as f:
            try:
                version = np.lib.format.read_magic(f)
                read_header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(f)
            except ValueError as exc:
                raise DataError(f"{self.path}: not a .npy file ({exc})") from None
            self.offset = f.tell()
        if fortran and len(shape) == 2 and shape[1] > 1:
            raise DataError(f"{self.path}: the array is in Fortran order: save it in C order (np.ascontiguousarray)")
        if len(shape) not in (1, 2) or dtype.kind not in "fiu":
            raise DataError(f"{self.path}: a data set is a 1-D or 2-D array of numbers, found {dtype} {shape}")
        self.dtype = dtype
        self.n_samples = int(shape[0])
        self.width = int(shape[1]) if len(shape) == 2 else 1  # the file's columns
        self.names = list(unnamed_columns(self.width))  # every column of the file, named as in memory
        self.idx = resolve_columns(self.path, columns, self.names, list(range(self.width)))  # the chosen ones
        self.n_features = len(self.idx)
        self.columns = tuple(self.names[j] for j in self.idx)

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """The rows in order, `rows` at a time (c, D) in the file's dtype; one buffer reused (valid until the next).
        The file must not change during the fit (its stamp is checked at each pass's start and end)."""
        return stamped(self.path, self.stamp, self._chunks(rows))

    def _chunks(self, rows: int) -> Iterator[np.ndarray]:
        buffer = np.empty((min(rows, max(self.n_samples, 1)), self.width), dtype=self.dtype)
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            for start in range(0, self.n_samples, rows):
                yield self._read(f, buffer[: min(rows, self.n_samples - start)])

    def read(self, start: int, count: int) -> np.ndarray:
        """Rows [start, start + count) (count, D) in the file's dtype (a Dask worker's part)."""
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * self.width * self.dtype.itemsize)
            return np.ascontiguousarray(self._read(f, np.empty((count, self.width), dtype=self.dtype)))

    def _read(self, f, out: np.ndarray) -> np.ndarray:
        """The next len(out) rows of the open file into out (c, width); the chosen columns of them."""
        if f.readinto(memoryview(out).cast("B")) != out.nbytes:
            raise DataError(f"{self.path}: the file ends before its {self.n_samples} rows: it is truncated")
        chosen = out if self.idx == list(range(self.width)) else out[:, self.idx]  # the caller converts it once
        if not self.dtype.isnative or self.dtype.itemsize > 8:  # big-endian, long double: torch takes neither
            return chosen.astype(np.float64)
        return chosen


class ParquetSource:
    """The numeric columns (or the chosen ones: names, indices, ranges) of a Parquet file, read by row groups."""

    def __init__(self, path: str | Path, columns: list | None = None) -> None:
        import pyarrow.parquet as pq

        from .data import check_unique_names, resolve_columns

        self.path = Path(path)
        try:
            self.stamp = FileStamp.of(self.path)
            self.file = pq.ParquetFile(self.path)
        except Exception as exc:  # noqa: BLE001 - pyarrow's many errors: one message for the user
            raise DataError(f"{self.path}: not a Parquet file ({str(exc).splitlines()[0]})") from None
        schema = self.file.schema_arrow
        self.names = names = list(schema.names)  # every column of the file
        check_unique_names(self.path, names)
        numeric = [j for j, f in enumerate(schema) if _is_number(f.type) and f.name != "__index_level_0__"]
        self.idx = resolve_columns(self.path, columns, names, numeric)  # names, indices, ranges as --columns takes
        words = [names[j] for j in self.idx if j not in numeric]
        if words:
            raise DataError(f"{self.path}: column {words[0]!r} does not hold numbers: choose numeric columns")
        self.columns = tuple(names[j] for j in self.idx)
        self.n_samples = self.file.metadata.num_rows
        self.n_features = len(self.idx)

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """Whole row groups, as many as fit in `rows` rows, in one chunk (a row group bigger than that in batches
        of `rows`). Not iter_batches over the file: its read-ahead kept 2.4 GB in pyarrow's pool over a 1.8 GB
        file, against 16 MB by row groups, which also read 6x faster (2e7 rows: 0.17 s against 1.0 s). The file must
        not change during the fit (its stamp is checked at each pass's start and end)."""
        return stamped(self.path, self.stamp, self._chunks(rows))

    def _chunks(self, rows: int) -> Iterator[np.ndarray]:
        meta, names = self.file.metadata, list(self.columns)
        pending, count = [], 0
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            if count and count + n > rows:
                yield self.read_groups(pending)
                pending, count = [], 0
            if n > rows:
                for batch in self.file.iter_batches(rows, row_groups=[g], columns=names, use_threads=False):
                    yield self._array(batch)
                continue
            pending.append(g)
            count += n
        if pending:
            yield self.read_groups(pending)

    def read_groups(self, groups: list[int]) -> np.ndarray:
        """The chosen columns of the row groups `groups`, one after another (c, D) (also a Dask worker's part)."""
        return self._array(self.file.read_row_groups(groups, columns=list(self.columns)))

    def _array(self, table) -> np.ndarray:
        """The chosen columns of a pyarrow table (or record batch) as one (c, D) array of the columns' common type
        (float32 columns stay float32: the E-step converts each sub-chunk in cache)."""
        kinds = [table.schema.field(name).type.to_pandas_dtype() for name in self.columns]
        out = np.empty((table.num_rows, self.n_features), dtype=np.result_type(*kinds))
        for j, name in enumerate(self.columns):
            column = table.column(name)
            if column.null_count:
                raise DataError(f"{self.path}: column {name!r} has missing values: fill or drop them")
            out[:, j] = column.to_numpy()
        return out


def _is_number(arrow_type) -> bool:
    import pyarrow.types as t

    return t.is_integer(arrow_type) or t.is_floating(arrow_type)


class CsvSource:
    """A text table (CSV/TSV/whitespace) read lines at a time, with the in-memory loader's rules and messages:
    its delimiter, header, decimal commas and default columns are settled on the first rows (data._structure);
    each chunk goes through NumPy's reader, or the careful parser that names the line and column of a bad value."""

    def __init__(self, path: str | Path, columns: list | None = None) -> None:
        from . import data

        self.path = Path(path)  # as given: what messages name
        self.location = self.path.resolve()  # what is opened: the same file on a Dask worker in another folder
        self.stamp = FileStamp.of(self.path)
        head = []
        for item in self._lines():
            head.append(item)
            if len(head) >= data.STRUCTURE_ROWS:
                break
        if not head:
            raise DataError(f"{self.path}: the file holds no data (only blank or comment lines)")
        self.delim = data._delimiter([line for _, line in head])
        rows, self.commas = data._decimal_commas(data._split(self.path, head, self.delim), self.delim)
        self.has_header, self.names = data._header(rows[0][1])  # what a whole column's chunks need
        self.has_header, self.names, self.idx = data._structure(self.path, rows, columns, whole=self._guess_holds)
        self.columns = tuple(self.names[j] for j in self.idx)
        self.n_features = len(self.idx)
        self.n_samples = sum(1 for _ in self._lines()) - int(self.has_header)

    def _lines(self) -> Iterator[tuple[int, str]]:
        """(line number, line) of every non-blank, non-comment line."""
        try:
            with open(self.location, encoding="utf-8-sig", newline="") as f:
                yield from _data_lines(f, 1)
        except UnicodeDecodeError as exc:
            raise DataError(f"{self.path}: is not UTF-8 text (byte {exc.start}): save it as UTF-8 CSV") from None

    def byte_parts(self, rows: int) -> list[tuple[int, int, int, int, int]]:
        """The file cut into parts of at most `rows` data rows at line ends, for workers that read a part alone:
        (first row, rows, first byte, end byte, first line number) each; the header lies in the first part. One
        pass over the file's bytes (lines end with \\n, as CSV/TSV files do)."""
        parts = []
        row, count, begin, begin_line, offset, header = 0, 0, 0, 1, 0, self.has_header
        with open(self.location, "rb") as f:
            for no, raw in enumerate(f, start=1):
                text = raw.removeprefix(codecs.BOM_UTF8) if no == 1 else raw
                if text.strip() and not text.lstrip().startswith(b"#"):
                    if header:
                        header = False  # the header: its part skips it
                    else:
                        if count == rows:
                            parts.append((row, count, begin, offset, begin_line))
                            row, count, begin, begin_line = row + count, 0, offset, no
                        count += 1
                offset += len(raw)
        if count:
            parts.append((row, count, begin, offset, begin_line))
        return parts

    def read_bytes(self, begin: int, end: int, first_line: int) -> np.ndarray:
        """The rows of bytes [begin, end) of the file (a part of byte_parts, starting at line first_line) as
        (c, D) float64, with the file's rules and the messages naming the line and column of a bad value."""
        with open(self.location, "rb") as f:
            f.seek(begin)
            raw = f.read(end - begin)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            where = begin + exc.start
            raise DataError(f"{self.path}: is not UTF-8 text (byte {where}): save it as UTF-8 CSV") from None
        lines = list(_data_lines(io.StringIO(text, newline=""), first_line))
        if begin == 0 and self.has_header:
            lines = lines[1:]
        return self._parse(lines) if lines else np.empty((0, self.n_features))

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """The chosen columns, `rows` lines at a time (c, D) float64. The file must not change during the fit (its
        stamp is checked at each pass's start and end)."""
        return stamped(self.path, self.stamp, self._chunks(rows))

    def _chunks(self, rows: int) -> Iterator[np.ndarray]:
        block: list[tuple[int, str]] = []
        lines = self._lines()
        if self.has_header:
            next(lines)
        for item in lines:
            block.append(item)
            if len(block) == rows:
                yield self._parse(block)
                block = []
        if block:
            yield self._parse(block)

    def _guess_holds(self, j: int, kind: str) -> bool:
        """Whether column j, read by chunks to its end, is a row index or a class label (data.guess_holds): the
        first rows suggested it, the whole column decides."""
        from . import data

        try:
            return data.guess_holds(kind, self._column_chunks(j, GUESS_ROWS))
        except DataError:  # a value that is not a number: not an index nor a label (the fit's pass names it)
            return False

    def _column_chunks(self, j: int, rows: int) -> Iterator[np.ndarray]:
        """Column j's values (c,) in order, `rows` at a time."""
        block: list[tuple[int, str]] = []
        lines = self._lines()
        if self.has_header:
            next(lines)
        for item in lines:
            block.append(item)
            if len(block) == rows:
                yield self._parse(block, [j])[:, 0]
                block = []
        if block:
            yield self._parse(block, [j])[:, 0]

    def _parse(self, block: list[tuple[int, str]], idx: list[int] | None = None) -> np.ndarray:
        """The chosen columns (or the columns idx) of the lines of a block (c, D) float64."""
        from . import data

        idx = self.idx if idx is None else idx
        data.check_spaces(self.path, block, self.delim, idx)
        if self.commas:
            block = [(no, line.replace(",", ".")) for no, line in block]
        table = data._parse_all_numeric(block, self.delim, len(self.names))
        if table is not None:
            return np.ascontiguousarray(table[:, idx])
        out = np.empty((len(block), len(idx)))  # the careful parser: the first bad value, named
        width = len(self.names)
        for i, (no, fields) in enumerate(data._split(self.path, block, self.delim)):
            if len(fields) != width:
                raise DataError(f"{self.path}: line {no} has {len(fields)} fields but the header has {width}")
            for out_j, j in enumerate(idx):
                out[i, out_j] = data._parse_value(self.path, no, j, self.names[j], fields[j])
        return out


def _data_lines(lines, first: int) -> Iterator[tuple[int, str]]:
    """(line number, line without its end) of the non-blank, non-comment lines, numbered from first."""
    for no, line in enumerate(lines, start=first):
        if line.strip() and not line.lstrip().startswith("#"):
            yield no, line.rstrip("\r\n")


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


def open_source(spec: str | Path, columns: list[str] | None = None):
    """The source for a `.npy`, Parquet or CSV/TSV file, a folder of `.npy`/Parquet files, or a glob of them
    ('data/part-*.parquet')."""
    text = str(spec)
    if any(ch in text for ch in "*?["):
        paths = sorted(Path(p) for p in globbing.glob(text))
        if not paths:
            raise DataError(f"{text}: no file matches")
    elif Path(text).is_dir():
        paths = sorted(p for p in Path(text).iterdir() if p.suffix.lower() in STREAM_SUFFIXES)
        if not paths:
            raise DataError(f"{text}: the folder holds no {' or '.join(STREAM_SUFFIXES)} file")
    else:
        paths = [Path(text)]
    sources = []
    for path in paths:
        suffix = path.suffix.lower()
        if suffix == ".npy":
            sources.append(NpySource(path, columns))
        elif suffix == ".parquet":
            sources.append(ParquetSource(path, columns))
        elif suffix in TEXT_SUFFIXES and len(paths) == 1:
            sources.append(CsvSource(path, columns))
        else:
            raise DataError(f"{path}: data bigger than memory is read from {' or '.join(STREAM_SUFFIXES)} files")
    return sources[0] if len(sources) == 1 else MultiSource(sources)


def chunked_source(spec: str, columns: list | None, limit: int, cluster: bool = False):
    """The data as a chunked source (open_source) when it must be read by chunks: a folder or a glob, a
    table larger than `limit` bytes (in float64: a float32 file counts twice), or any data a Dask cluster fits
    (cluster=True); None when it is loaded whole (by engine.load, with its own messages)."""
    path = Path(spec)
    many = any(ch in spec for ch in "*?[") or path.is_dir()
    text = path.suffix.lower() in TEXT_SUFFIXES
    if text and path.is_file() and (cluster or path.stat().st_size > limit):
        return open_source(spec, columns)  # a text table larger than the limit, or for a cluster's workers
    if not many and path.suffix.lower() not in STREAM_SUFFIXES:
        if cluster:
            raise DataError(
                f"{spec}: on a Dask cluster the workers read the data from .npy, Parquet or CSV/TSV files (a folder "
                "or a glob of .npy or Parquet files): save it with numpy.save or as Parquet"
            )
        return None
    if not many and not cluster and (not path.is_file() or path.stat().st_size * 2 <= limit):
        return None  # in memory (float32 on disk is twice as big in float64); the loader's own messages
    source = open_source(spec, columns)
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
    def of(chunk: np.ndarray) -> Moments:
        mean = chunk.mean(axis=0, dtype=np.float64)  # float32 files too: the moments in float64
        dev = chunk - mean
        low, high = chunk.min(axis=0).astype(np.float64), chunk.max(axis=0).astype(np.float64)
        return Moments(len(chunk), mean, np.einsum("ij,ij->j", dev, dev), low, high)

    def add(self, other: Moments) -> Moments:
        """The moments of both sets of rows (Chan's pairwise combination)."""
        if other.count == 0:
            return self
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


def survey(source, rows: int, sample_size: int, seed: int, cancelled=None) -> Survey:
    """One pass: every value checked (finite; the row and column named), the moments (Chan's pairwise
    combination of per-chunk means and squared deviations, in float64), and the rows sample_rows(seed, N,
    sample_size) gathered as the chunks pass, in row order. cancelled() (optional) is asked before each chunk:
    True ends the pass with stream.Cancelled."""
    wanted = sample_rows(seed, source.n_samples, sample_size)
    d = source.n_features
    sample = np.empty((len(wanted), d))
    moments = Moments.none(d)
    for chunk in source.chunks(rows):
        check_cancelled(cancelled)
        count, bad = moments.count, first_non_finite(chunk)
        if bad is not None:
            r, j, value = bad
            raise DataError(
                f"{source.path}: row {count + r}, column {j} ({source.columns[j]!r}) is {value}: remove or fill "
                "non-finite values"
            )
        moments = moments.add(Moments.of(chunk))
        lo, hi = np.searchsorted(wanted, [count, moments.count])
        sample[lo:hi] = chunk[wanted[lo:hi] - count]
    if moments.count == 0:
        raise DataError(f"{source.path}: there are no rows")
    check_row_count(source.path, moments.count, source.n_samples)
    m = moments
    return Survey(m.count, m.mean, m.std, sample, wanted, m.low, m.high)


def check_row_count(path, read: int, counted: int) -> None:
    """DataError when a pass read another number of rows than the source counted when it opened (the sample's
    rows were drawn among those counted)."""
    if read != counted:
        raise DataError(
            f"{path}: {read:,} rows read where {counted:,} were counted when it was opened: the data changed while "
            "it was read; open it again"
        )
