"""A text table read by chunks (line ends found here; Dask workers parse byte ranges), with the rules text.py
settles on its first rows.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import DataError
from .columns import guess_holds
from .parts import Part, resolved
from .stamp import FileStamp, stamped
from .text import (
    STRUCTURE_ROWS,
    check_spaces,
    decimal_commas,
    delimiter_of,
    parse_all_numeric,
    parse_value,
    read_header,
    split_fields,
    structure,
)

GUESS_ROWS = 65536  # rows at a time when a whole column of a text table settles a guess (row index, class label)


class CsvSource:
    """A text table (CSV/TSV/whitespace) read lines at a time, with the in-memory loader's rules and messages:
    its delimiter, header, decimal commas and default columns are settled on the first rows (structure);
    each chunk goes through NumPy's reader, or the careful parser that names the line and column of a bad value."""

    parses = True  # a pass parses the text again: a fit by chunks keeps its chunks as parsed (inference/spill.py)

    def __init__(self, path: str | Path, columns: list | None = None, missing: bool = False) -> None:
        """missing: a missing value's token (text.NA_TOKENS) reads as NaN, a missing value (--missing em)."""
        self.missing = missing
        self.path = Path(path)  # as given: what messages name
        self.location = self.path.resolve()  # what is opened: the same file on a Dask worker in another folder
        self.stamp = FileStamp.of(self.path)
        head = []
        for item in self._lines():
            head.append(item)
            if len(head) >= STRUCTURE_ROWS:
                break
        if not head:
            raise DataError(f"{self.path}: the file holds no data (only blank or comment lines)")
        self.delim = delimiter_of([line for _, line in head])
        rows, self.commas = decimal_commas(split_fields(self.path, head, self.delim), self.delim)
        self.has_header, self.names = read_header(rows[0][1])  # what a whole column's chunks need
        self.has_header, self.names, self.idx = structure(
            self.path, rows, columns, whole=self._guess_holds, missing=missing
        )
        self.columns = tuple(self.names[j] for j in self.idx)
        self.n_features = len(self.idx)
        self.n_samples = sum(1 for _ in self._lines()) - int(self.has_header)

    def _lines(self) -> Iterator[tuple[int, str]]:
        """(line number, line) of every non-blank, non-comment line."""
        try:
            with open(self.location, encoding="utf-8-sig", newline="") as f:
                yield from _numbered_lines(f, 1)
        except UnicodeDecodeError as exc:
            raise DataError(f"{self.path}: is not UTF-8 text (byte {exc.start}): save it as UTF-8 CSV") from None

    def lines_of(self, rows: list[int]) -> list[int]:
        """The line numbers of data rows (from 0, without the header; ascending): one pass over the file's lines,
        for an error's message."""
        wanted, out = set(rows), {}
        lines = self._lines()
        if self.has_header:
            next(lines)
        for i, (no, _) in enumerate(lines):
            if i in wanted:
                out[i] = no
                if len(out) == len(wanted):
                    break
        return [out[r] for r in rows]

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

    def parts(self, rows: int) -> list[Part]:
        """The file cut at line ends into parts of at most `rows` rows, for Dask workers, each of which parses its
        own bytes (engine/io/parts.py); part.detail: (this source: the file's rules, first byte, end byte, first
        line)."""
        return [
            Part(resolved(self.location), row, count, read_text_part, (self, begin, end, line), self.stamp)
            for row, count, begin, end, line in self.byte_parts(rows)
        ]

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
        lines = list(_numbered_lines(io.StringIO(text, newline=""), first_line))
        if begin == 0 and self.has_header:
            lines = lines[1:]
        return self._parse(lines) if lines else np.empty((0, self.n_features))

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """The chosen columns, `rows` lines at a time (c, D) float64. The file must not change during the fit (its
        stamp is checked at each pass's start and end)."""
        return stamped(self.path, self.stamp, self._chunks(rows))

    def _chunks(self, rows: int) -> Iterator[np.ndarray]:
        for block in self._blocks(rows):
            yield self._parse(block)

    def _blocks(self, rows: int) -> Iterator[list[tuple[int, str]]]:
        """The data lines (line number, text) in order, `rows` at a time (the header skipped)."""
        block: list[tuple[int, str]] = []
        lines = self._lines()
        if self.has_header:
            next(lines)
        for item in lines:
            block.append(item)
            if len(block) == rows:
                yield block
                block = []
        if block:
            yield block

    def _guess_holds(self, j: int, kind: str) -> bool:
        """Whether column j, read by chunks to its end, is a row index or a class label (guess_holds): the
        first rows suggested it, the whole column decides."""

        try:
            return guess_holds(kind, self._column_chunks(j, GUESS_ROWS))
        except DataError:  # a value that is not a number: not an index nor a label (the fit's pass names it)
            return False

    def _column_chunks(self, j: int, rows: int) -> Iterator[np.ndarray]:
        """Column j's values (c,) in order, `rows` at a time."""
        for block in self._blocks(rows):
            yield self._parse(block, [j])[:, 0]

    def _parse(self, block: list[tuple[int, str]], idx: list[int] | None = None) -> np.ndarray:
        """The chosen columns (or the columns idx) of the lines of a block (c, D) float64."""

        idx = self.idx if idx is None else idx
        check_spaces(self.path, block, self.delim, idx)
        if self.commas:
            block = [(no, line.replace(",", ".")) for no, line in block]
        table = parse_all_numeric(block, self.delim, len(self.names), self.missing)
        if table is not None:
            return np.ascontiguousarray(table[:, idx])
        out = np.empty((len(block), len(idx)))  # the careful parser: the first bad value, named
        width = len(self.names)
        for i, (no, fields) in enumerate(split_fields(self.path, block, self.delim)):
            if len(fields) != width:
                raise DataError(f"{self.path}: line {no} has {len(fields)} fields but the header has {width}")
            for out_j, j in enumerate(idx):
                out[i, out_j] = parse_value(self.path, no, j, self.names[j], fields[j], self.missing)
        return out


def _numbered_lines(lines, first: int) -> Iterator[tuple[int, str]]:
    """(line number, line without its end) of the non-blank, non-comment lines, numbered from first."""
    for no, line in enumerate(lines, start=first):
        if line.strip() and not line.lstrip().startswith("#"):
            yield no, line.rstrip("\r\n")


def read_text_part(part: Part) -> np.ndarray:
    """A part of CsvSource.parts (count, D) float64, parsed with the file's rules."""
    source, begin, end, line = part.detail
    return source.read_bytes(begin, end, line)
