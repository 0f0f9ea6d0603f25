"""A text table's missing tokens read as NaN by NumPy's reader (text._missing_as_nan), in memory and by chunks."""

from __future__ import annotations

import pytest

from engine.io import text


@pytest.mark.parametrize(
    ("sep", "line", "expected"),
    [
        ("\t", "1\t\t\t2", "1\tnan\tnan\t2"),  # a TSV's empty fields side by side: the blanks are not its tabs
        ("\t", "\t NA \t", "nan\tnan\tnan"),
        (",", "1, ,\tNA ,", "1,nan,nan,nan"),
    ],
)
def test_each_missing_field_is_one_nan(sep: str, line: str, expected: str) -> None:
    """_missing_as_nan writes each field that is a missing token (blanks around it) as 'nan' and counts them; a TSV's
    adjacent empty fields were read as one (the row then one field short: the careful parser, field by field, for the
    whole table or chunk)."""
    assert text._missing_as_nan([line], sep) == ([expected], expected.count("nan"))
