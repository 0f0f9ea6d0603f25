"""Text tables (CSV, TSV, whitespace): encoding, delimiter, header, decimal commas, numbers as a data file should
write them, and every bad value named by line and column. The in-memory loader; csv_source.py reads by chunks
with the same rules.
"""

from __future__ import annotations

import codecs
import csv
import math
import re
import unicodedata
from pathlib import Path

import numpy as np

from ..errors import DataError
from .columns import MISSING_HINT, BadValue, data_columns, guess_holds, resolve_columns
from .dataset import Dataset
from .places import LINE, Place


def read_header(first: list[str]) -> tuple[bool, list[str]]:
    """Whether a table's first row is a header (not all numbers and missing values' tokens), and the column names it
    gives (a blank or absent name is xj, as unnamed_columns names it). A first row 'NA,1.5' is a data row missing
    a value (with --missing em it is fitted, without it it is named), never a header that hides it."""
    has_header = not all(_is_number(f) or _DECIMAL_COMMA.fullmatch(f) for f in first if not is_missing(f))
    return has_header, [h if has_header and h else f"x{j}" for j, h in enumerate(first)]


def _decode(path: Path, raw: bytes) -> str:
    if not raw.strip():
        raise DataError(f"{path}: the file is empty: it needs a table of numbers (one point per line)")
    encoding = _wide_text(raw[:4096])
    if encoding:
        raise DataError(f"{path}: is {encoding} text: save it as UTF-8 (a spreadsheet's 'CSV UTF-8') and open it again")
    if b"\x00" in raw[:4096]:
        raise DataError(f"{path}: looks like a binary file, not a text table: export it as CSV")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            return raw.decode("latin-1") if _mostly_printable(raw) else _raise_binary(path, exc)
        except UnicodeDecodeError:
            _raise_binary(path, exc)


def _wide_text(head: bytes) -> str:
    """'UTF-16' or 'UTF-32' when the file's first bytes are text in one of them (by its byte-order mark, or ASCII
    characters with their zero bytes), else ''."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "UTF-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    whole = head[: len(head) // 4 * 4]  # whole characters of either width
    if len(whole) >= 8:
        for width, name in ((4, "UTF-32"), (2, "UTF-16")):
            for lane in range(width):  # the byte of each character that holds it (little- or big-endian)
                zeros = (whole[other::width] for other in range(width) if other != lane)
                if all(not z.strip(b"\x00") for z in zeros) and _plain_ascii(whole[lane::width]):
                    return name
    return ""


PRINTABLE = frozenset([*range(32, 127), 9, 10, 13])  # ASCII a text table holds: printable, tab, line ends


def _plain_ascii(text: bytes) -> bool:
    return all(b in PRINTABLE for b in text)


def _mostly_printable(raw: bytes) -> bool:
    sample = raw[:4096]
    printable = sum(b in PRINTABLE for b in sample)
    return printable / max(len(sample), 1) > 0.95


def _raise_binary(path: Path, exc: Exception):
    raise DataError(f"{path}: looks like a binary file, not a text table ({exc}): export it as CSV") from None


def delimiter_of(lines: list[str]) -> str | None:
    """The delimiter of the first line that most of the first five lines share (so that one short line is
    reported as a row with too few fields, not as a file of one column); None: whitespace."""
    sample = lines[: min(len(lines), 5)]
    if all(";" in line for line in sample) and any("," in line for line in sample):
        return ";"  # European CSV: ';' between fields, ',' the decimal mark
    for delim in ("\t", ",", ";"):
        if delim in sample[0] and 2 * sum(delim in line for line in sample) > len(sample):
            if delim == "," and _spaced_decimal_commas(sample):
                return None  # '1,5 2,25': spaces between the fields, ',' the decimal mark
            return delim
    return None  # whitespace


def _spaced_decimal_commas(sample: list[str]) -> bool:
    """Lines such as '1,5 2,25' (spaces between the fields, ',' inside the numbers): split at the spaces every field
    is a number or a decimal-comma number, as many to a line, while split at the commas some field is not a
    number ('5 2'). Read at the commas such a file once gave the integer and fraction parts as columns."""
    widths = set()
    for line in sample:
        fields = _SPACES.split(line.strip(" \t"))
        if not all(_is_number(f) or _DECIMAL_COMMA.fullmatch(f) for f in fields):
            return False
        widths.add(len(fields))
    by_commas = [f.strip() for line in sample for f in line.split(",")]
    return len(widths) == 1 and not all(_is_number(f) for f in by_commas)


_SPACES = re.compile(r"[ \t]+")  # whitespace between the fields of a text table: ASCII spaces and tabs only


def split_fields(path: Path, lines: list[tuple[int, str]], delim: str | None) -> list[tuple[int, list[str]]]:
    if delim is None:
        return [(no, [f.strip('"').strip("'") for f in _SPACES.split(line.strip(" \t"))]) for no, line in lines]
    rows = []
    for no, line in lines:  # one line at a time: an unbalanced quote must not swallow the lines after it
        try:
            fields = next(csv.reader([line], delimiter=delim, skipinitialspace=True, strict=True))
        except csv.Error as exc:
            raise DataError(_csv_problem(path, no, line, delim, exc)) from None
        rows.append((no, [f.strip() for f in fields]))
    return rows


def _csv_problem(path: Path, no: int, line: str, delim: str, exc: csv.Error) -> str:
    """What csv's error on a line means for a user: a field past csv's length limit (a 5 MB value, no quote in
    sight), or a quote left open."""
    if "field larger than field limit" in str(exc):
        lengths = [len(f) for f in line.split(delim)]
        j = max(range(len(lengths)), key=lengths.__getitem__)
        return (
            f"{path}: line {no}, column {j}: a field of {lengths[j]:,} characters (the most a field may hold is "
            f"{csv.field_size_limit():,}): a value of a numeric table is a number; check the file's separator and "
            "that this is the file you meant"
        )
    return (
        f'{path}: line {no}: a quote (") is opened but not closed: every quoted field needs its closing quote on '
        "the same line"
    )


# What a CSV reader takes as a number: ASCII digits with an optional sign, point and exponent. Python's float()
# also takes '1_000', full-width digits and surrounding spaces, which a data file should not silently mean.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.ASCII | re.IGNORECASE)


# A decimal comma: digits, one comma, digits (European CSV files, with ';' between the fields).
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?", re.ASCII)


def _is_number(text: str) -> bool:
    """A number as a CSV reader writes it (non-finite words included: they are reported as such later)."""
    return bool(_NUMBER.fullmatch(text) or _NON_FINITE.fullmatch(text))


is_number = _is_number  # for the readers beside this one (a weight's words: weighted.py)


# What a text table writes for a missing value (R's NA, pandas' empty field and NaN, SQL's NULL), read as NaN with
# --missing em; the case does not matter, an infinity stays refused.
NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null"})


def is_missing(text: str) -> bool:
    """Whether a field is a missing value's token (NA_TOKENS)."""
    return text.strip().lower() in NA_TOKENS


def _is_value(text: str, missing: bool) -> bool:
    """A number, or (missing: values may be missing) a missing value's token."""
    return _is_number(text) or (missing and is_missing(text))


def text_rows(path: Path, raw: bytes, limit: int | None = None) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank, non-comment line (of the first `limit` such lines)."""
    lines = _data_lines(path, _decode(path, raw), limit)
    delim = delimiter_of([line for _, line in lines])
    return decimal_commas(split_fields(path, lines, delim), delim)[0]


# Fields separated so: a ',' inside a number is its decimal mark (None: spaces).
COMMA_DELIMITERS = {";": "';'", "\t": "tabs", None: "spaces"}


def decimal_comma_note(delim: str | None) -> str:
    """How a file with decimal commas was read (the Dataset's note)."""
    return f"read ',' as the decimal mark (the fields are separated by {COMMA_DELIMITERS.get(delim, repr(delim))})"


def decimal_commas(rows: list[tuple[int, list[str]]], delim: str | None) -> tuple[list[tuple[int, list[str]]], bool]:
    """With ';', tabs or spaces between fields, a field such as '1,5' is 1.5: the rows with such fields read with a
    decimal point, and whether any was found. With tabs or spaces only when that is unambiguous: no number with a
    decimal point beside them, and one comma at least not followed by exactly three digits (else '1,500' may be a
    thousand and a half: then nothing is changed, and a value that is not a number is named with the likely
    cause)."""
    if delim not in COMMA_DELIMITERS:
        return rows, False
    found = [f for _, fields in rows for f in fields if _DECIMAL_COMMA.fullmatch(f)]
    if not found or (delim != ";" and not _surely_decimal(found, rows)):
        return rows, False
    out = [(no, [f.replace(",", ".") if _DECIMAL_COMMA.fullmatch(f) else f for f in fields]) for no, fields in rows]
    return out, True


def _surely_decimal(commas: list[str], rows: list[tuple[int, list[str]]]) -> bool:
    """Fields with a comma are decimal numbers, not thousands: some comma is not followed by three digits, and no
    field holds a decimal point."""
    points = any("." in f and _NUMBER.fullmatch(f) for _, fields in rows for f in fields)
    return not points and any(len(f.split(",")[1].split("e")[0].split("E")[0]) != 3 for f in commas)


def _data_lines(path: Path, text: str, limit: int | None = None) -> list[tuple[int, str]]:
    """(line number, line) of every non-blank, non-comment line (of the first `limit` such lines). Lines end at
    \\n, \\r\\n or \\r only, as a CSV reader's do (str.splitlines also splits at U+0085 and U+2028, which a
    Latin-1 or Unicode header may hold inside a name)."""
    lines = []
    for no, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            lines.append((no, line))
            if limit is not None and len(lines) >= max(limit, 5):  # 5 lines decide the delimiter
                break
    if not lines:
        raise DataError(f"{path}: the file holds no data (only blank or comment lines)")
    return lines


# Spaces a number must not hold, nor a field of numbers: Unicode spaces other than the ASCII space and tab (a
# non-breaking or thin space grouping thousands, '1\u00a0000'), line and paragraph separators, and the invisible
# zero-width ones. NumPy's reader and str.strip() would take most of them as plain spaces.
_ODD_SPACE = re.compile(r"[^\S \t\r\n]|[\u200b\u200c\u200d\u2060\ufeff]")


def check_spaces(path: Path, lines: list[tuple[int, str]], delim: str | None, idx: list[int]) -> None:
    """DataError naming the line, column and character of the first field of the chosen columns idx, in the data
    lines (line number, text), that holds a space other than the ASCII space or tab (_ODD_SPACE). A column not
    chosen (names, words) may hold any."""
    chosen = set(idx)
    for no, line in lines:
        if line.isascii():
            continue
        for m in _ODD_SPACE.finditer(line):
            column = _field_at(line, m.start(), delim)
            if column not in chosen:
                continue
            char = m.group()
            name = unicodedata.name(char, "space").lower()
            raise DataError(
                f"{path}: line {no}, column {column}: the value holds U+{ord(char):04X} ({name}), which is no part "
                "of a number: remove it (a data file does not group digits), or separate the fields with plain "
                "spaces, commas or tabs"
            )


def _field_at(line: str, position: int, delim: str | None) -> int:
    """The 0-based field of a line that character `position` lies in (quotes aside)."""
    before = line[:position]
    if delim is not None:
        return before.count(delim)
    return len(_SPACES.split(before.lstrip(" \t"))) - 1 if before.strip(" \t") else 0


# Rows read field by field to settle the structure (header, columns, index columns) before the fast parse.
STRUCTURE_ROWS = 1001


def load_text(path: Path, raw: bytes, columns, at_most: int | None, missing: bool = False) -> Dataset:
    """A text table's chosen columns; missing: a missing value's token (NA_TOKENS) reads as NaN (else refused)."""
    lines = _data_lines(path, _decode(path, raw))
    delim = delimiter_of([line for _, line in lines])
    head, commas = decimal_commas(split_fields(path, lines[:STRUCTURE_ROWS], delim), delim)
    body = lines[1:] if read_header(head[0][1])[0] else lines
    if commas:  # ';' or tabs separate the fields, so every ',' left is a decimal mark (else the careful parser says)
        body = [(no, line.replace(",", ".")) for no, line in body]
    parsed: list[np.ndarray | None] = []

    def table() -> np.ndarray | None:  # the whole table, parsed once, when a column guess or the result needs it
        if not parsed:
            parsed.append(parse_all_numeric(body, delim, len(head[0][1]), missing))
        return parsed[0]

    def whole(j: int, kind: str) -> bool:  # not a plain numeric table: the careful parser guesses on every row
        return table() is None or guess_holds(kind, [table()[:, j]])

    has_header, names, idx = structure(path, head, columns, at_most, whole, missing)
    check_spaces(path, body, delim, idx)
    points = table()
    if points is None:  # not a plain numeric table: the careful parser finds and names what is wrong
        rows = decimal_commas(split_fields(path, lines, delim), delim)[0]
        return load_rows(path, rows, columns, at_most, decimal_comma_note(delim) if commas else "", missing)
    notes = (decimal_comma_note(delim),) if commas else ()
    return Dataset(np.ascontiguousarray(points[:, idx]), tuple(names[j] for j in idx), tuple(idx), str(path), notes)


def structure(
    path: Path,
    rows: list[tuple[int, list[str]]],
    columns,
    at_most: int | None = None,
    whole=None,
    missing: bool = False,
) -> tuple[bool, list[str], list[int]]:
    """From the first rows: whether the first is a header, the column names, and the chosen columns (a default
    guess of an index or label column settled by whole(j, kind) on the whole column: see data_columns); missing:
    a missing value's token counts as a number."""
    has_header, names = read_header(rows[0][1])
    data_rows = rows[1:] if has_header else rows
    if not data_rows:
        raise DataError(f"{path}: has a header ({', '.join(rows[0][1])}) but no data rows")
    for no, fields in data_rows[:5]:  # prose, a log, a report: say so, rather than count its fields
        # a missing value's token is no word, with --missing em or without (then its own line names the flag)
        if 2 * sum(_is_value(f, True) for f in fields) < len(fields):  # most fields are words
            j, text = next(((j, f) for j, f in enumerate(fields) if not _is_value(f, True)), (0, ""))
            if _DECIMAL_COMMA.fullmatch(text):
                raise DataError(f"{path}: line {no}, column {j}: value {text!r} is not a number{COMMA_CAUSE}")
            raise DataError(
                f"{path}: is not a numeric table: line {no}, column {j}: value {text!r} is not a "
                "number; a data file holds one point per line, numbers separated by commas, tabs, "
                "semicolons or spaces"
            )
    width = len(names)
    for no, fields in data_rows:
        if len(fields) != width:
            first = "the header" if has_header else f"line {rows[0][0]}"
            raise DataError(
                f"{path}: line {no} has {len(fields)} fields but {first} has {width}: every row "
                "needs the same number of columns"
            )
    numeric = [j for j in range(width) if _holds_numbers([r[1][j] for r in data_rows])]
    if columns is None:
        numeric = data_columns(names, numeric, lambda j: [r[1][j] for r in data_rows], whole)
    return has_header, names, resolve_columns(path, columns, names, numeric, at_most)


def _holds_numbers(values: list[str]) -> bool:
    """Whether a column's first values (as text) are numbers: its first that is not a missing value's token is a
    number, or all are such tokens. A cell missing in the first row neither drops its column from the default nor
    refuses it when chosen: the cell itself is named (with --missing em's hint, or read as NaN with it)."""
    first = next((v for v in values if not is_missing(v)), None)
    return first is None or _is_number(first)


def parse_all_numeric(
    lines: list[tuple[int, str]], delim: str | None, width: int, missing: bool = False
) -> np.ndarray | None:
    """Every field of a table that is all finite numbers, `width` to a row, parsed by NumPy's C reader
    (much faster than field by field: bench/bench_load.py); None for anything else. missing (a delimited table):
    a field that is a missing value's token (NA_TOKENS, unquoted) reads as NaN, as the careful parser reads it.

    NumPy and Python's float() both round decimal text correctly, so the values are the same bits.
    """
    text = [line for _, line in lines]
    tokens = 0
    if missing and delim is not None:  # else a chunk with one empty cell went field by field
        text, tokens = _missing_as_nan(text, delim)
    try:
        table = np.loadtxt(text, delimiter=delim, comments=None, dtype=np.float64, ndmin=2, quotechar='"')
    except ValueError:
        return None
    if table.shape != (len(lines), width):
        return None
    # each NaN one of the tokens put there: any other non-finite value ('inf', '-nan') is the careful parser's
    if np.isinf(table).any() or int(np.isnan(table).sum()) != tokens:
        return None
    return table


def _missing_as_nan(lines: list[str], delim: str) -> tuple[list[str], int]:
    """The lines with each field that is a missing value's token (NA_TOKENS, blanks around it) written 'nan', and
    how many such fields there were."""
    pattern = _TOKEN_FIELDS.get(delim)
    if pattern is None:
        d = re.escape(delim)
        words = "|".join(re.escape(t) for t in sorted(NA_TOKENS - {""}))  # "" is the field with no word
        blank = "[ ]" if delim == "\t" else "[ \t]"  # not the delimiter: two empty fields of a TSV read as one
        field = rf"(?<![^{d}\n]){blank}*(?:{words})?{blank}*(?![^{d}\n])"
        pattern = _TOKEN_FIELDS[delim] = re.compile(field, re.IGNORECASE)
    joined, tokens = pattern.subn("nan", "\n".join(lines))
    return joined.split("\n"), tokens


_TOKEN_FIELDS: dict[str, re.Pattern] = {}  # a delimiter's pattern of whole fields that are missing values' tokens


def load_rows(
    path: Path,
    rows: list[tuple[int, list[str]]],
    columns,
    at_most: int | None = None,
    note: str = "",
    missing: bool = False,
) -> Dataset:
    """The careful parser: every row's fields checked, every value parsed alone, errors name line and column;
    missing: a missing value's token reads as NaN."""
    has_header, names, idx = structure(path, rows, columns, at_most, missing=missing)
    data_rows = rows[1:] if has_header else rows
    points = np.empty((len(data_rows), len(idx)), dtype=np.float64)
    for i, (no, fields) in enumerate(data_rows):
        for out_j, j in enumerate(idx):
            points[i, out_j] = parse_value(path, no, j, names[j], fields[j], missing)
    return Dataset(points, tuple(names[j] for j in idx), tuple(idx), str(path), (note,) if note else ())


# What a value such as '1,500' that was not read as a number likely is, and what to do.
COMMA_CAUSE = (
    " (a decimal comma? here ',' could also group thousands: save the file with '.' as the decimal mark, or "
    "with ';' between the fields)"
)


def parse_value(path: Path, line: int, col: int, name: str, text: str, missing: bool = False) -> float:
    """A field's number; a missing value's token is NaN with missing, else refused with a line naming --missing em
    (MISSING_HINT)."""
    if missing and is_missing(text):
        return math.nan
    hint = MISSING_HINT if is_missing(text) else ""
    try:
        if not _is_number(text):
            raise ValueError(text)
        value = float(text)
    except ValueError:
        cause = COMMA_CAUSE if _DECIMAL_COMMA.fullmatch(text) else ""
        raise BadValue(
            f"{path}: line {line}, column {col} ({name!r}): value {text!r} is not a number{cause}: fix or "
            f"remove that row, or choose other columns{hint}",
            Place(LINE, line),
            col,
            name,
            text,
        ) from None
    if not np.isfinite(value):
        raise BadValue(
            f"{path}: line {line}, column {col} ({name!r}): value {text!r} is not a finite number: "
            f"remove or fill that row{hint}",
            Place(LINE, line),
            col,
            name,
            text,
        )
    return value
