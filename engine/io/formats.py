"""The registry of data file formats: how a file of each is read whole, how its columns are named, how much memory
reading it whole takes, and (where it can be) how it is read by chunks. A new format is one module with those
functions and one entry here; `format_of` picks the entry by the file's suffix, a text table by default."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import npy, parquet, text
from .columns import pick_array_columns
from .csv_source import CsvSource
from .dataset import Dataset

# A text table (or a Parquet file's decoded columns) takes about this many times its file size in memory while it
# is parsed: lines, fields and the float table.
PARSE_MEMORY_FACTOR = 20


@dataclass(frozen=True)
class Format:
    """One data file format."""

    name: str
    suffixes: tuple[str, ...]
    # the whole file: its chosen columns (path, raw, columns, at_most, missing: NaN allowed as a missing value)
    load: Callable[[Path, bytes, list | None, int | None, bool], Dataset]
    names: Callable[[Path, bytes], list[str]]  # every column's name, as load names them
    memory: Callable[[Path, int], int]  # bytes that loading a file of this size whole takes
    source: Callable[[Path, list | None], object] | None = None  # read by chunks; None: in memory only
    in_folders: bool = False  # a folder or a glob may be made of such files (and Dask workers read them)


def _parsed(path: Path, size: int) -> int:
    return size * PARSE_MEMORY_FACTOR


def _numpy(suffix: str) -> dict:
    """The entry's functions for .npy or .npz: the arrays' own headers size them before any read."""
    return {
        "load": lambda path, raw, columns, at_most, missing=False: pick_array_columns(
            path, *npy.load_numpy(path, raw, suffix), columns, at_most, missing
        ),
        "names": lambda path, raw: npy.load_numpy(path, raw, suffix)[1],
        "memory": lambda path, size: size + npy.numpy_bytes(path, suffix),
    }


NPY = Format("npy", (".npy",), **_numpy(".npy"), source=npy.NpySource, in_folders=True)
NPZ = Format("npz", (".npz",), **_numpy(".npz"))
PARQUET = Format(
    "parquet",
    (".parquet",),
    parquet.load_parquet,
    lambda path, raw: list(parquet.parquet_table(path, raw).column_names),
    _parsed,
    source=parquet.ParquetSource,
    in_folders=True,
)
TEXT = Format(
    "text",
    (".csv", ".tsv", ".txt", ".dat"),
    text.load_text,
    lambda path, raw: text.read_header(text.text_rows(path, raw, limit=1)[0][1])[1],
    _parsed,
    source=CsvSource,
)
FORMATS = (NPY, NPZ, PARQUET, TEXT)
IN_FOLDER_SUFFIXES = tuple(s for f in FORMATS if f.in_folders for s in f.suffixes)  # what folders and globs hold


def format_of(path: Path, default: Format | None = TEXT) -> Format | None:
    """The format a file's suffix names; default (a text table) for any other suffix."""
    suffix = path.suffix.lower()
    return next((f for f in FORMATS if suffix in f.suffixes), default)
