"""Which columns of a table are fitted: --columns items (indices, names, ranges), and the default that leaves
out a leading row index and a class label (guessed on the first rows, settled on the whole column).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset
from .places import Place, binary_place

# what a refused missing value's message adds (the one way to fit such data as it is)
MISSING_HINT = ", or fit with --missing em (exact EM for values missing at random)"


class BadValue(DataError):
    """A value of a data file refused where it was read: its place (places.Place: line 5, or a binary table's row 4),
    its 0-based column, its name and its value as text, for a caller that words it otherwise (a weight: weighted.py)."""

    def __init__(self, message: str, place: Place, column: int, name: str, text: str) -> None:
        super().__init__(message)
        self.place, self.column, self.name, self.text = place, column, name, text


def check_finite(
    path: Path,
    points: np.ndarray,
    idx: list[int],
    names: list[str] | None = None,
    note: str = "",
    missing: bool = False,
) -> None:
    """DataError naming the first non-finite value of points (N, len(idx)): its row and file column; missing: a NaN
    (a missing value) is allowed, an infinity is not."""
    bad = np.argwhere(np.isinf(points) if missing else ~np.isfinite(points))
    if bad.size:
        row, j = bad[0]
        name = f" ({names[idx[j]]!r})" if names is not None else ""
        what = "remove or fill that row" + (MISSING_HINT if np.isnan(points[row, j]) else "")
        raise BadValue(
            f"{path}: row {row}, column {idx[j]}{name}: value {points[row, j]} is not a finite number{note}: {what}",
            binary_place(int(row)),
            idx[j],
            names[idx[j]] if names is not None else f"x{idx[j]}",
            str(points[row, j]),
        )


def data_columns(names: list[str], numeric: list[int], values, whole=None) -> list[int]:
    """Of the numeric columns, those that hold data by default: not a leading row index, nor a class label
    (`generate` writes 'component'), while another column remains. values(j): column j's first values as text, which
    suggest a guess; whole(j, kind) (None: the values are the whole column) settles it on the whole column (see
    guess_holds): a column 0..999 and then measurements is data."""

    def holds(j: int, kind: str) -> bool:
        return whole is None or whole(j, kind)

    first = names[0].strip().lower() if names else ""
    if len(numeric) > 1 and numeric[0] == 0 and _is_index_column(names[0], values(0)):
        if first in INDEX_NAMES or holds(0, "index"):
            numeric = numeric[1:]
    if len(numeric) > 1:
        numeric = [j for j in numeric if not (_is_label_column(names[j], values(j)) and holds(j, "label"))] or numeric
    return numeric


def guess_holds(kind: str, pieces) -> bool:
    """Whether a whole column, given as arrays in order (its chunks), is a row index (kind 'index': 0..N-1 or 1..N
    in order) or a class label ('label': whole numbers 0..999)."""
    count, start = 0, None
    for piece in pieces:
        piece = np.asarray(piece, dtype=np.float64).ravel()
        if not len(piece):
            continue
        if kind == "index":
            start = piece[0] if start is None else start
            expected = np.arange(count, count + len(piece), dtype=np.float64) + start
            if start not in (0.0, 1.0) or not np.array_equal(piece, expected):
                return False
        elif not (np.all(np.floor(piece) == piece) and piece.min() >= 0 and piece.max() < LABEL_LIMIT):
            return False
        count += len(piece)
    return count > 2 if kind == "index" else count > 0


def as_table(array: np.ndarray) -> np.ndarray:
    """A 1-D array is N points of one dimension: an (N, 1) table."""
    return array.reshape(-1, 1) if array.ndim == 1 else array


def pick_array_columns(
    path: Path, array: np.ndarray, names: list[str], columns, at_most: int | None, missing: bool = False
) -> Dataset:
    """The chosen columns of an array (N, D) as a Dataset; missing: NaN (a missing value) allowed."""
    if array.dtype.kind not in "biuf":
        raise DataError(f"{path}: array has dtype {array.dtype}, not numbers: save a float array")
    if array.ndim != 2:
        raise DataError(f"{path}: array has shape {array.shape}; GMM Studio needs a table of points (N x D)")
    if array.shape[0] == 0:
        raise DataError(f"{path}: array has no rows")
    if array.shape[1] == 0:
        raise DataError(f"{path}: array has no columns")
    idx = resolve_columns(path, columns, names, list(range(array.shape[1])), at_most)
    points = array[:, idx].astype(np.float64)
    check_finite(path, points, idx, names, missing=missing)
    return Dataset(points, tuple(names[i] for i in idx), tuple(idx), str(path))


_RANGE = re.compile(r"\s*(\d+)\s*-\s*(\d+)\s*")


def resolve_columns(path: Path, columns, names: list[str], numeric: list[int], at_most: int | None = None) -> list[int]:
    """0-based column indices for the choice, else the numeric ones (the first `at_most` when given).

    Each item of columns is an index (0-based), a header name, a range 'a-b' of indices (inclusive) or 'all'
    (every column); 'name:TEXT' is always a name, 'index:N' always an index (an item that is both is refused). The
    chosen columns must be different."""
    if columns is None:
        if not numeric:
            raise DataError(
                f"{path}: found no numeric column ({', '.join(names)}); GMM Studio needs at least one: choose "
                "columns with --columns"
            )
        return numeric[:at_most] if at_most is not None else numeric
    out: list[int] = []
    for c in columns:
        out += _one_column_spec(path, c, names)
    if not out:
        raise DataError(f"{path}: no columns chosen: name at least one (the columns are {', '.join(map(repr, names))})")
    seen: set[int] = set()
    for i in out:
        if i in seen:
            raise DataError(f"{path}: column {i} ({names[i]!r}) is chosen twice: choose each column once")
        seen.add(i)
    return out


def _one_column_spec(path: Path, c, names: list[str]) -> list[int]:
    """The indices one item of a column choice names: an index, a name, a range 'a-b', 'all', or explicitly
    'name:TEXT' or 'index:N' / 'index:a-b'. An item that is both a header name and an index (or range) of other
    columns ('0' with a header '1,0,z') is refused as ambiguous, saying how to write each."""
    if not isinstance(c, str):
        return _indices(path, str(c), names)
    text = c.strip()
    kind, _, rest = text.partition(":")
    if kind.strip().lower() == "name" and rest:
        if rest.strip() not in names:
            raise DataError(f"{path}: no column named {rest.strip()!r}; the columns are {', '.join(map(repr, names))}")
        return [names.index(rest.strip())]
    if kind.strip().lower() == "index" and rest:
        return _indices(path, rest.strip(), names)
    if text.lower() == "all" and text not in names:
        return list(range(len(names)))
    if text in names:
        j = names.index(text)
        as_index = _as_index(text, len(names))
        if as_index is not None and as_index != [j]:
            others = ", ".join(f"{i} ({names[i]!r})" for i in as_index)
            raise DataError(
                f"{path}: column {text!r} is ambiguous: column {j} is named {text!r}, and as an index it means column "
                f"{others}: write name:{text} for the column named so, or index:{text} for the place"
            )
        return [j]
    return _indices(path, text, names)


def _as_index(text: str, width: int) -> list[int] | None:
    """The columns an index ('2') or range ('1-4') names among width columns; None if text is neither or out of
    range."""
    m = _RANGE.fullmatch(text)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        return list(range(lo, hi + 1)) if lo <= hi < width else None
    if text.isascii() and text.isdigit():  # '²' is a digit to str, not to int
        return [int(text)] if int(text) < width else None
    return None


def _indices(path: Path, text: str, names: list[str]) -> list[int]:
    """The columns an index, a negative index or a range names, else DataError saying what the columns are."""
    listing = f"the file has columns 0..{len(names) - 1} ({', '.join(map(repr, names))})"
    m = _RANGE.fullmatch(text)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi or hi >= len(names):
            raise DataError(f"{path}: column range {text!r} is not within the columns: {listing}")
        return list(range(lo, hi + 1))
    if not (text.lstrip("-").isascii() and text.lstrip("-").isdigit()):
        raise DataError(f"{path}: no column named {text!r}; the columns are {', '.join(map(repr, names))}")
    if not 0 <= int(text) < len(names):
        raise DataError(f"{path}: column index {int(text)} is out of range: {listing}")
    return [int(text)]


LABEL_NAMES = ("component", "label", "labels", "class", "cluster", "target", "species", "group", "category", "y_true")


LABEL_LIMIT = 1000  # a class label is a whole number below this


def _is_label_column(name: str, values: list[str]) -> bool:
    """A class-label column: named like one and holding small whole numbers 0, 1, 2, ..."""
    if name.strip().lower() not in LABEL_NAMES:
        return False
    try:
        ints = {int(v) for v in values}
    except ValueError:
        return False
    return min(ints) >= 0 and max(ints) < LABEL_LIMIT


INDEX_NAMES = ("index", "idx", "id", "row", "unnamed: 0", "__index_level_0__", "")  # pandas' own among them


def _is_index_column(name: str, values: list[str]) -> bool:
    """A row-number column: named like an index, or holding 0..N-1 or 1..N in order."""
    if name.strip().lower() in INDEX_NAMES:
        return True
    try:
        ints = [int(v) for v in values]
    except ValueError:
        return False
    start = ints[0]
    return start in (0, 1) and ints == list(range(start, start + len(ints))) and len(ints) > 2
