"""One name for a column that has none (issue 22, "Also seen"): x0, x1, ... in memory, by chunks, in the CLI's
generated files; and counts said in the number they need ("1 column", not "1 columns")."""

from __future__ import annotations

import numpy as np
import pytest

from cli.main import main as cli
from engine import counted, load, unnamed_columns
from engine.io.stream import open_source


@pytest.mark.parametrize("name", ["a.npy", "a.csv", "a.tsv"])
def test_unnamed_columns_have_the_same_names_in_memory_and_by_chunks(tmp_path, name: str) -> None:
    """A .npy (before: 'column 0/1' in memory, 'x0/x1' by chunks) and a text table without a header."""
    points = np.random.default_rng(0).normal(size=(20, 3))
    path = tmp_path / name
    if name.endswith(".npy"):
        np.save(path, points)
    else:
        np.savetxt(path, points, delimiter="\t" if name.endswith(".tsv") else ",")
    in_memory = load(path).columns
    by_chunks = open_source(path).columns
    assert in_memory == by_chunks == ("x0", "x1", "x2") == unnamed_columns(3)


def test_a_blank_header_name_is_named_as_an_unnamed_column(tmp_path) -> None:
    (tmp_path / "h.csv").write_text("a,,c\n1,2,3\n4,5,6\n7,8,9\n")
    assert load(tmp_path / "h.csv").columns == ("a", "x1", "c")


def test_the_command_lines_generated_data_is_named_as_the_window_names_its_own(tmp_path) -> None:
    out = tmp_path / "g.csv"
    assert cli(["generate", "--preset", "forum", "--n", "50", "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0] == "x0,x1,component"
    assert load(out).columns == unnamed_columns(2) == ("x0", "x1")


@pytest.mark.parametrize(
    ("n", "noun", "plural", "said"),
    [
        (0, "column", "", "0 columns"),
        (1, "column", "", "1 column"),
        (2, "column", "", "2 columns"),
        (1, "iteration", "", "1 iteration"),
        (12_345, "row", "", "12,345 rows"),
        (1, "pass", "passes", "1 pass"),
        (3, "pass", "passes", "3 passes"),
    ],
)
def test_counted(n: int, noun: str, plural: str, said: str) -> None:
    assert counted(n, noun, plural) == said


def test_parquet_read_by_chunks_takes_the_in_memory_default_columns(tmp_path) -> None:
    """By chunks a Parquet file's class label (and a row index) were fitted as data; in memory they are left out
    (issue 23 docs report): the same default both ways, settled on whole columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine.io.data import load
    from engine.io.stream import open_source

    rng = np.random.default_rng(0)
    n = 3000
    table = {
        "id": np.arange(n),
        "a": rng.normal(size=n),
        "b": rng.normal(size=n),
        "component": rng.integers(0, 3, n),
    }
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table(table), path, row_group_size=500)
    assert load(path).columns == ("a", "b")
    assert open_source(path).columns == ("a", "b")
    late = {"serial": np.r_[np.arange(1000.0), rng.normal(size=n - 1000)], **{k: table[k] for k in ("a", "b")}}
    pq.write_table(pa.table(late), path, row_group_size=500)  # 0..999 like a row index, then data: data
    assert load(path).columns == open_source(path).columns == ("serial", "a", "b")
