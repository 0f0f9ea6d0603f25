"""Where a data row is in its file, as a user finds it there: a text table's line number (the header, blank and
comment lines counted, as an editor counts them), or a binary table's row counted from 0. Asked on the way to an
error only (a text table is read again to count its lines).
"""

from __future__ import annotations

from pathlib import Path

from .formats import TEXT, format_of


def row_places(path: str | Path, rows: list[int]) -> list[str]:
    """'line L' for each data row (from 0, without the header) of a text table in memory, else 'row R (counted
    from 0)'; rows ascending."""
    path = Path(path)
    if format_of(path, default=None) is not TEXT:
        return [binary_place(r) for r in rows]
    from .text import read_header, text_rows

    lines = text_rows(path, path.read_bytes())
    header = int(read_header(lines[0][1])[0])
    return [f"line {lines[r + header][0]}" for r in rows]


def source_place(source, row: int) -> str:
    """The place of data row `row` (from 0) of a source read by chunks (source_places)."""
    return source_places(source, [row])[0]


def source_places(source, rows: list[int]) -> list[str]:
    """The places of data rows (from 0, ascending) of a source read by chunks: their lines when the source is one
    text table (CsvSource.lines_of: one pass over its lines), else their rows."""
    lines_of = getattr(source, "lines_of", None)
    return [f"line {no}" for no in lines_of(rows)] if lines_of is not None else [binary_place(r) for r in rows]


def binary_place(row: int) -> str:
    """A row of a table without lines (.npy, .npz, Parquet, a folder of them)."""
    return f"row {row} (counted from 0)"
