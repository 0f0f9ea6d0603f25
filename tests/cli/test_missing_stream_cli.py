"""`fit DATA --missing em` of data read by chunks (issue 25): a CSV's NA tokens and a Parquet file's nulls read as
missing values a chunk at a time, the fit by passes and its exports those of the same fit in memory (whose own
references, SciPy's observed-data densities and the conditional means, are in test_missing_cli.py)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from bad_inputs import expect_user_error
from test_missing_cli import _table

from cli.main import main as cli

# measured: the JSON's log-likelihoods differ by 4e-16 relative, the labels' numbers by 3e-15
TOL = 1e-10


def _fit(capsys, data, out, labels, *more) -> tuple[dict, list[list[str]], str]:
    argv = ["fit", str(data), "-k", "2", "--seed", "1", "--missing", "em", "-o", str(out), "--labels", str(labels)]
    assert cli([*argv, *more]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    with open(labels, newline="") as f:
        return json.loads(out.read_text()), list(csv.reader(f)), err


def _same(a: dict, b: dict, rows_a: list, rows_b: list) -> None:
    assert b["log_likelihood"] == pytest.approx(a["log_likelihood"], rel=TOL, abs=0)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=TOL)
    assert (b["missing"], b["missing_values"], b["n_samples"]) == (a["missing"], a["missing_values"], a["n_samples"])
    assert rows_b[0] == rows_a[0]
    for ra, rb in zip(rows_a[1:], rows_b[1:], strict=True):
        assert [v == "" for v in rb] == [v == "" for v in ra]  # the same missing cells left empty
        np.testing.assert_allclose([float(v or 0) for v in rb], [float(v or 0) for v in ra], rtol=0, atol=TOL)


def test_a_csv_with_missing_values_read_by_chunks_is_the_fit_in_memory(tmp_path, capsys) -> None:
    path, x = _table(tmp_path)
    memory = _fit(capsys, path, tmp_path / "m.json", tmp_path / "m.csv")
    streamed = _fit(capsys, path, tmp_path / "s.json", tmp_path / "s.csv", "--memory-limit", "4K")
    assert "rows at a time, one pass per iteration" in streamed[2]
    assert f"missing values: {int(np.isnan(x).sum())} of 450" in streamed[2]
    _same(memory[0], streamed[0], memory[1], streamed[1])
    assert streamed[1][0][-3:] == ["imputed_a", "imputed_b", "imputed_c"]


def test_parquet_nulls_read_by_chunks_are_the_fit_in_memory(tmp_path, capsys) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _, x = _table(tmp_path)
    columns = {name: pa.array(x[:, j], mask=np.isnan(x[:, j])) for j, name in enumerate("abc")}
    pq.write_table(pa.table(columns), tmp_path / "t.parquet", row_group_size=40)
    memory = _fit(capsys, tmp_path / "t.parquet", tmp_path / "m.json", tmp_path / "m.csv")
    streamed = _fit(capsys, tmp_path / "t.parquet", tmp_path / "s.json", tmp_path / "s.csv", "--memory-limit", "2K")
    assert "rows at a time" in streamed[2]
    _same(memory[0], streamed[0], memory[1], streamed[1])


@pytest.mark.parametrize("limit", [[], ["--memory-limit", "4K"]])
def test_a_session_records_the_missing_values_and_replays_them(tmp_path, capsys, limit) -> None:
    """fit --missing em --session (in memory, and by chunks): the session's data says missing, and replay reads the
    missing cells again and reproduces the fit (the same log-likelihood and parameters)."""
    path, _ = _table(tmp_path)
    session = tmp_path / "s.gmmsession"
    argv = ["fit", str(path), "-k", "2", "--seed", "1", "--missing", "em", "--session", str(session), "--quiet"]
    assert cli([*argv, *limit]) == 0, capsys.readouterr().err
    doc = json.loads(session.read_text())
    assert doc["data"]["missing"] is True and doc["data"]["chunked"] == bool(limit)
    capsys.readouterr()
    assert cli(["replay", str(session), "--quiet"]) == 0
    assert "reproduced: the same iterations, restart, log-likelihood and parameters" in capsys.readouterr().out
    doc["data"] |= {"kind": "inline", "chunked": False, "points": [[1.0, 2.0, 3.0]] * 150}
    session.write_text(json.dumps(doc))
    expect_user_error(capsys, ["replay", str(session)], "data: missing must be true or false (true for a file only)")


def test_the_fit_says_where_its_grouped_chunks_go_or_why_not(tmp_path, capsys, monkeypatch) -> None:
    """By chunks, one line on stderr names the temporary folder and the file's size (150 x 3 doubles), or, where no
    file is made, why every pass is slower: a TMPDIR on a small disk or in memory once cost 8x in silence (a CSV's
    5e5 rows: 35 s against 4.6 s)."""
    from engine.inference import spill

    path, _ = _table(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(spill.tempfile, "tempdir", None)  # tempfile caches the folder: read TMPDIR again
    err = _fit(capsys, path, tmp_path / "s.json", tmp_path / "s.csv", "--memory-limit", "4K")[2]
    assert f"in an unnamed file in {tmp_path} (3.52 KB; set TMPDIR to put it elsewhere), gone when" in err
    monkeypatch.setattr(spill, "file_system", lambda folder: "tmpfs")
    err = _fit(capsys, path, tmp_path / "t.json", tmp_path / "t.csv", "--memory-limit", "4K")[2]
    assert "missing values: the chunks, grouped by pattern, are not kept, so every pass reads and groups" in err
    assert f"{tmp_path} lies in memory (tmpfs); set TMPDIR to a folder on a disk with 7.03 KB free" in err
