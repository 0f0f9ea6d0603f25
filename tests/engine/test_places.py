"""A data row's place (engine/io/places.py) is a number and its unit, written where a message needs it: a text
table's line as an editor counts it (the header, comments and blank lines counted), a binary table's row from 0;
a list of them in one unit. The lines are checked against the file's own lines, counted here."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import DataError
from engine.io.csv_source import CsvSource
from engine.io.observed import check_observed_rows
from engine.io.places import LINE, ROW, Place, listed, row_places, source_places


def test_a_place_is_written_with_its_unit_and_a_list_in_one() -> None:
    assert [str(Place(LINE, 9)), str(Place(ROW, 9))] == ["line 9", "row 9 (counted from 0)"]
    lines, rows = [Place(LINE, 9), Place(LINE, 12)], [Place(ROW, 0), Place(ROW, 4)]
    assert [listed(lines), listed(lines[:1], cut=True)] == ["lines 9, 12", "line 9, ..."]
    assert [listed(rows), listed(rows, cut=True)] == ["rows 0, 4 (counted from 0)", "rows 0, 4, ... (counted from 0)"]


def _table(path) -> tuple[np.ndarray, list[int]]:
    """A CSV of 40 rows (a header, comments and blank lines between them) whose rows 2, 7, 8, 20, 33, 39 are empty:
    the points (40, 2) (NaN where empty) and the empty rows' line numbers (1 the first line)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 2))
    x[[2, 7, 8, 20, 33, 39]] = np.nan
    lines = ["a,b"]
    for i, row in enumerate(x):
        lines += ["# a comment"] if i % 9 == 4 else [""] if i % 11 == 6 else []
        lines.append(",".join("" if np.isnan(v) else repr(float(v)) for v in row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return x, [i + 1 for i, line in enumerate(lines) if line == ","]


def test_places_in_memory_and_by_chunks_are_the_files_lines(tmp_path) -> None:
    x, at = _table(tmp_path / "t.csv")
    empty = [int(r) for r in np.flatnonzero(np.isnan(x).all(1))]
    expected = [Place(LINE, no) for no in at]
    assert row_places(tmp_path / "t.csv", empty) == expected
    assert source_places(CsvSource(tmp_path / "t.csv"), empty) == expected
    np.save(tmp_path / "t.npy", x)
    assert row_places(tmp_path / "t.npy", empty) == [Place(ROW, r) for r in empty]


def test_rows_with_nothing_observed_list_their_lines_and_count(tmp_path) -> None:
    """Six such rows in a text table: the first's line, 5 more, the next four lines and '...'."""
    x, at = _table(tmp_path / "t.csv")
    with pytest.raises(DataError) as caught:
        check_observed_rows(tmp_path / "t.csv", x, ("a", "b"))
    more = f"(and 5 more such rows: lines {', '.join(map(str, at[1:5]))}, ...)"
    assert f"t.csv: line {at[0]} has no value in any fitted column ('a', 'b') {more}: such a row" in str(caught.value)
