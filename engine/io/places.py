"""Where a data row is in its file, as a user finds it there: a text table's line number (the header, blank and
comment lines counted, as an editor counts them), or a binary table's row counted from 0. Asked on the way to an
error only (a text table is read again to count its lines).

A place is a number and its unit (Place), never a string to parse back: a message writes one (str) or several in
one list (listed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

LINE, ROW = "line", "row"
COUNTED = " (counted from 0)"  # a row's number needs it: a user counting from 1 would look one row off


@dataclass(frozen=True)
class Place:
    """A data row's place: unit LINE (a text table's line, from 1 as an editor counts) or ROW (a table without
    lines, from 0), and its number."""

    unit: Literal["line", "row"]
    number: int

    def __str__(self) -> str:
        """'line 9' or 'row 9 (counted from 0)'."""
        return f"{self.unit} {self.number}{COUNTED * (self.unit == ROW)}"


def listed(places: Sequence[Place], cut: bool = False) -> str:
    """Places of one file (one unit) as one list: 'lines 9, 12' or 'rows 9, 12 (counted from 0)'; cut: more follow
    these ('lines 9, 12, ...')."""
    unit = places[0].unit
    numbers = ", ".join(str(p.number) for p in places)
    return f"{unit}{'s' * (len(places) > 1)} {numbers}{', ...' if cut else ''}{COUNTED * (unit == ROW)}"


def row_places(path: str | Path, rows: list[int]) -> list[Place]:
    """The line of each data row (from 0, without the header) of a text table in memory, else its row; rows
    ascending."""
    from .formats import TEXT, format_of  # here: the formats' readers name places (columns.BadValue)

    path = Path(path)
    if format_of(path, default=None) is not TEXT:
        return [binary_place(r) for r in rows]
    from .text import read_header, text_rows

    lines = text_rows(path, path.read_bytes())
    header = int(read_header(lines[0][1])[0])
    return [Place(LINE, lines[r + header][0]) for r in rows]


def source_place(source, row: int) -> Place:
    """The place of data row `row` (from 0) of a source read by chunks (source_places)."""
    return source_places(source, [row])[0]


def source_places(source, rows: list[int]) -> list[Place]:
    """The places of data rows (from 0, ascending) of a source read by chunks: their lines when the source is one
    text table (CsvSource.lines_of: one pass over its lines), else their rows."""
    lines_of = getattr(source, "lines_of", None)
    return [Place(LINE, no) for no in lines_of(rows)] if lines_of is not None else [binary_place(r) for r in rows]


def binary_place(row: int) -> Place:
    """A row of a table without lines (.npy, .npz, Parquet, a folder of them)."""
    return Place(ROW, row)
