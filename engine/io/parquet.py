"""Parquet files: read whole (pyarrow) or by row groups."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import DataError
from .columns import check_finite, data_columns, guess_holds, resolve_columns
from .dataset import Dataset
from .parts import Part, resolved
from .stamp import FileStamp, stamped

PARQUET_MAGIC = b"PAR1"


def parquet_table(path: Path, raw: bytes):
    """The file's pyarrow Table, or a DataError that says what is wrong."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not (raw.startswith(PARQUET_MAGIC) and raw.endswith(PARQUET_MAGIC)):
        raise DataError(
            f"{path}: not a Parquet file: bad magic (it starts with {raw[:4]!r}, not {PARQUET_MAGIC!r}): save it "
            "with pandas' to_parquet or pyarrow, or give a text table a .csv name"
        )
    owned = arrow_owned(raw)
    try:
        names = pq.ParquetFile(pa.BufferReader(owned)).schema_arrow.names
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{path}: is not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    check_unique_names(path, names)
    try:
        return pq.read_table(pa.BufferReader(owned))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{path}: is not a readable Parquet file ({str(exc).splitlines()[0]})") from None


def arrow_owned(raw: bytes):
    """A copy of raw in memory that Arrow allocated (a pyarrow Buffer of len(raw) bytes).

    pyarrow's reader over the Python bytes themselves keeps a reference to them on its own threads; when one of those
    threads drops the last reference while the interpreter is shutting down, it must take the GIL to free the bytes,
    Python ends the thread instead, and the process aborted at exit ("terminate called without an active exception",
    exit 134: after the error for a Parquet file with a boolean column, in about half the runs, and after some good
    fits too). Arrow's own buffer needs no GIL to be freed."""
    import pyarrow as pa

    owned = pa.allocate_buffer(len(raw))
    np.frombuffer(owned, dtype=np.uint8)[:] = np.frombuffer(raw, dtype=np.uint8)
    return owned


def check_unique_names(path: Path, names: list[str]) -> None:
    """DataError when two columns share a name (pyarrow's reader refuses them in many lines; a name must pick one
    column)."""
    seen: dict[str, int] = {}
    for j, name in enumerate(names):
        if name in seen:
            raise DataError(
                f"{path}: columns {seen[name]} and {j} are both named {name!r}: give the file's columns distinct "
                "names (pandas: df.columns = [...]; pyarrow: table.rename_columns([...]))"
            )
        seen[name] = j


def load_parquet(path: Path, raw: bytes, columns, at_most: int | None, missing: bool = False) -> Dataset:
    """Parquet: columns by name or position; by default every numeric column but a leading row index (pandas'
    '__index_level_0__', or named like an index) and a class label (see data_columns). A null reads as NaN, which
    missing allows (a missing value), else refused."""
    import pyarrow.types as pt

    table = parquet_table(path, raw)
    names = list(table.column_names)
    if table.num_rows == 0:
        raise DataError(f"{path}: the Parquet table has no rows")
    types = [f.type for f in table.schema]
    numeric = [j for j, t in enumerate(types) if pt.is_integer(t) or pt.is_floating(t)]
    if columns is None:
        numeric = data_columns(
            names,
            numeric,
            lambda j: [str(v) for v in table.column(j).slice(0, 1000).to_pylist()],
            lambda j, kind: guess_holds(kind, [table.column(j).to_numpy(zero_copy_only=False)]),
        )
    idx = resolve_columns(path, columns, names, numeric, at_most)
    for j in idx:
        if not (pt.is_integer(types[j]) or pt.is_floating(types[j])):
            raise DataError(f"{path}: column {j} ({names[j]!r}) holds {types[j]}, not numbers: choose numeric columns")
    points = np.column_stack([table.column(j).to_numpy(zero_copy_only=False).astype(np.float64) for j in idx])
    check_finite(path, points, idx, names, " (a missing value reads as nan)", missing)
    return Dataset(points, tuple(names[j] for j in idx), tuple(idx), str(path))


class ParquetSource:
    """The numeric columns (or the chosen ones: names, indices, ranges) of a Parquet file, read by row groups."""

    def __init__(self, path: str | Path, columns: list | None = None, missing: bool = False) -> None:
        """missing: a null reads as NaN, a missing value (--missing em); else it is refused."""
        import pyarrow.parquet as pq

        self.path, self.missing = Path(path), missing
        try:
            self.stamp = FileStamp.of(self.path)
            self.file = pq.ParquetFile(self.path)
        except Exception as exc:  # noqa: BLE001 - pyarrow's many errors: one message for the user
            raise DataError(f"{self.path}: not a Parquet file ({str(exc).splitlines()[0]})") from None
        schema = self.file.schema_arrow
        self.names = names = list(schema.names)  # every column of the file
        check_unique_names(self.path, names)
        numeric = [j for j, f in enumerate(schema) if _is_number(f.type) and f.name != "__index_level_0__"]
        if columns is None:  # the default as in memory: no row index, no class label (settled on whole columns)
            numeric = data_columns(names, numeric, self._head, lambda j, kind: guess_holds(kind, self._column(j)))
        self.idx = resolve_columns(self.path, columns, names, numeric)  # names, indices, ranges as --columns takes
        words = [names[j] for j in self.idx if j not in numeric]
        if words:
            raise DataError(f"{self.path}: column {words[0]!r} does not hold numbers: choose numeric columns")
        self.columns = tuple(names[j] for j in self.idx)
        self.n_samples = self.file.metadata.num_rows
        self.n_features = len(self.idx)

    def _head(self, j: int) -> list[str]:
        """Column j's first values as text (at most 1,000: where the default's guesses start)."""
        batch = next(self.file.iter_batches(batch_size=1000, columns=[self.names[j]]), None)
        return [] if batch is None else [str(v) for v in batch.column(0).to_pylist()]

    def _column(self, j: int) -> Iterator[np.ndarray]:
        """Column j, a row group at a time."""
        for g in range(self.file.metadata.num_row_groups):
            yield self.file.read_row_group(g, columns=[self.names[j]]).column(0).to_numpy(zero_copy_only=False)

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """Whole row groups, as many as fit in `rows` rows, in one chunk (a row group bigger than that in batches
        of `rows`). Not iter_batches over the file: its read-ahead kept more than the file's size in pyarrow's
        pool, where reading by row groups keeps one group and is faster too (measured: docs/performance.md,
        'Reading big files'). The file must not change during the fit (its stamp is checked at each pass's start
        and end)."""
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

    def parts(self, rows: int) -> list[Part]:
        """The file cut into parts of whole row groups, as many as fit in `rows` rows (at least one), for Dask
        workers (engine/io/parts.py); part.detail: (the chosen columns, the row groups, whether nulls are missing
        values)."""
        path, meta, parts = resolved(self.path), self.file.metadata, []
        start, count, groups = 0, 0, []

        def part() -> Part:
            return Part(path, start, count, read_parquet_part, (self.columns, tuple(groups), self.missing), self.stamp)

        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            if count and count + n > rows:
                parts.append(part())
                start, count, groups = start + count, 0, []
            count += n
            groups.append(g)
        if count:
            parts.append(part())
        return parts

    def read_groups(self, groups: list[int]) -> np.ndarray:
        """The chosen columns of the row groups `groups`, one after another (c, D) (also a Dask worker's part)."""
        return self._array(self.file.read_row_groups(groups, columns=list(self.columns)))

    def _array(self, table) -> np.ndarray:
        """The chosen columns of a pyarrow table (or record batch) as one (c, D) array of the columns' common type
        (float32 columns stay float32: the E-step converts each sub-chunk in cache)."""
        kinds = [table.schema.field(name).type.to_pandas_dtype() for name in self.columns]
        columns = [table.column(name) for name in self.columns]
        dtype = np.result_type(*kinds)
        if dtype.kind != "f" and any(c.null_count for c in columns):
            dtype = np.dtype(np.float64)  # a null is NaN: in an integer array it was int64's smallest number
        out = np.empty((table.num_rows, self.n_features), dtype=dtype)
        for j, column in enumerate(columns):
            # a null reads as NaN: a missing value with --missing em, else the first pass names its row and column
            # (a weight's: weighted.bad_weight), as the loader in memory does
            out[:, j] = column.to_numpy(zero_copy_only=False) if column.null_count else column.to_numpy()
        return out


def _is_number(arrow_type) -> bool:
    import pyarrow.types as t

    return t.is_integer(arrow_type) or t.is_floating(arrow_type)


def read_parquet_part(part: Part) -> np.ndarray:
    """A part of ParquetSource.parts (count, D): its row groups' chosen columns."""
    columns, groups, *missing = part.detail
    return ParquetSource(part.path, list(columns), bool(missing and missing[0])).read_groups(list(groups))
