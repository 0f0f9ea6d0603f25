"""A text table's missing tokens read as NaN by NumPy's reader (text._missing_as_nan), by chunks (csv_source) and in
memory (`fit DATA --missing em`): a table loaded in memory went field by field through the careful parser (5e5 rows x
5 columns, a tenth of the cells blank: 6.8 s against 2.2 s to load, the same bits)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.io import data, text


def _table(tmp_path, sep: str = ","):
    """400 rows of 3 columns with every token of NA_TOKENS somewhere (and blanks around some), and a header."""
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 1.0, (400, 3))
    tokens = ["", "NA", "n/a", " nan ", "NULL", "na"]
    lines = ["a" + sep + "b" + sep + "c"]
    holes = rng.uniform(size=x.shape) < 0.15
    holes[holes.all(axis=1), 0] = False  # every row keeps a value
    for i, row in enumerate(x):
        fields = [tokens[(i + j) % len(tokens)] if holes[i, j] else repr(float(v)) for j, v in enumerate(row)]
        lines.append(sep.join(fields))
    path = tmp_path / ("t.csv" if sep == "," else "t.tsv")
    path.write_text("\n".join(lines) + "\n")
    return path, np.where(holes, np.nan, x)


@pytest.mark.parametrize("sep", [",", "\t"])
def test_a_table_with_missing_values_loads_by_numpy_to_the_careful_parsers_bits(tmp_path, monkeypatch, sep) -> None:
    """The same array as the careful parser's, bit for bit (NaN in the same cells), without calling it."""
    path, expected = _table(tmp_path, sep)
    careful = data.load(path, missing=True)  # the careful parser, as before: NumPy's reader refused below
    fast_parse = text.parse_all_numeric
    monkeypatch.setattr(text, "parse_all_numeric", lambda *args, **kwargs: None)
    assert np.array_equal(data.load(path, missing=True).points, careful.points, equal_nan=True) is True
    monkeypatch.setattr(text, "parse_all_numeric", fast_parse)

    def refused(*args, **kwargs):
        raise AssertionError("went through the careful parser, field by field")

    monkeypatch.setattr(text, "load_rows", refused)
    fast = data.load(path, missing=True)
    assert fast.columns == ("a", "b", "c")
    assert fast.points.view(np.uint64).tolist() == careful.points.view(np.uint64).tolist()
    np.testing.assert_array_equal(fast.points, expected)  # repr round-trips: the written values exactly


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
