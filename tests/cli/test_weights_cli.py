"""`fit DATA --weights COLUMN` and `select DATA --weights COLUMN` (issue 25): the weighted fit is the fit of the
rows repeated w times, in memory and read by chunks; its exports say the weights' column and sum; a session
replays it; a bad weight is one line naming the file, the line (header counted), the column and the value, and no
output is written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bad_inputs import expect_user_error

from cli.main import main as cli

TOL = 1e-10  # measured: 1e-13 relative in the log-likelihood between weighted and repeated (test_weights.py)


def _tables(tmp_path) -> tuple:
    """A CSV x,y,w of 120 points with whole weights 0..3, and the CSV of its rows repeated w times (x,y)."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0.0, 1.0, (60, 2)), rng.normal(4.0, 0.8, (60, 2))])
    w = rng.integers(0, 4, len(x))
    weighted, repeated = tmp_path / "weighted.csv", tmp_path / "repeated.csv"
    np.savetxt(weighted, np.column_stack([x, w]), delimiter=",", header="x,y,w", comments="", fmt="%.17g")
    np.savetxt(repeated, np.repeat(x, w, axis=0), delimiter=",", header="x,y", comments="", fmt="%.17g")
    return weighted, repeated, x, w


def _fit(capsys, data, out, *more: str) -> dict:
    argv = ["fit", str(data), "-k", "2", "--seed", "1", "--init", "kmeans", "--max-iter", "40", "-o", str(out)]
    assert cli([*argv, "--quiet", *more]) == 0, capsys.readouterr().err
    return json.loads(out.read_text())


def test_fit_with_weights_is_the_fit_of_the_repeated_rows_and_replays(tmp_path, capsys) -> None:
    """k-means starts differ between weighted rows and repeated ones, so the repeated fit starts from the weighted
    fit's start (its --init file of zero iterations); the exports say the weights, the labels keep one row per
    point, and the session replays the weighted fit."""
    weighted, repeated, x, w = _tables(tmp_path)
    start = _fit(capsys, weighted, tmp_path / "start.json", "--weights", "w", "--max-iter", "0")
    argv = ["--init", str(tmp_path / "start.json")]
    labels, session = tmp_path / "labels.csv", tmp_path / "fit.gmmsession"
    a = _fit(
        capsys,
        weighted,
        tmp_path / "a.json",
        "--weights",
        "2",
        *argv,
        "--labels",
        str(labels),
        "--session",
        str(session),
    )
    b = _fit(capsys, repeated, tmp_path / "b.json", *argv)
    assert (a["weights_column"], a["n_effective"], a["n_samples"], a["columns"]) == ("w", w.sum(), len(x), ["x", "y"])
    assert (b["weights_column"], b["n_effective"]) == (None, b["n_samples"])
    for name in ("log_likelihood", "bic", "aic"):
        assert a[name] == pytest.approx(b[name], rel=TOL, abs=0)
    np.testing.assert_allclose(a["means"], b["means"], rtol=0, atol=1e-9)
    assert len(labels.read_text().splitlines()) == len(x) + 1
    assert start["n_effective"] == w.sum()
    capsys.readouterr()
    assert cli(["replay", str(session), "--quiet"]) == 0
    assert "reproduced:" in capsys.readouterr().out


def test_fit_with_weights_read_by_chunks_is_the_fit_in_memory(tmp_path, capsys) -> None:
    """--memory-limit small enough to read the CSV by chunks: the weights' column read with each chunk, the same
    fit (from the same seed) as in memory, its labels written without the weights, its session replayed."""
    weighted, _, x, w = _tables(tmp_path)
    labels, session = tmp_path / "labels.csv", tmp_path / "chunks.gmmsession"
    memory = _fit(capsys, weighted, tmp_path / "m.json", "--weights", "w")
    capsys.readouterr()
    outputs = ["--labels", str(labels), "--session", str(session)]
    chunks = _fit(capsys, weighted, tmp_path / "c.json", "--weights", "w", "--memory-limit", "1K", *outputs)
    assert "more than --memory-limit: read" in capsys.readouterr().err
    assert (chunks["weights_column"], chunks["n_effective"]) == ("w", w.sum())
    assert chunks["log_likelihood"] == pytest.approx(memory["log_likelihood"], rel=TOL, abs=0)
    assert labels.read_text().splitlines()[0].startswith("x,y,label,")
    assert cli(["replay", str(session), "--quiet"]) == 0
    assert "reproduced:" in capsys.readouterr().out


def test_select_with_weights_counts_sum_w(tmp_path, capsys) -> None:
    """Every fit of the grid reports BIC = -2 LL + p log(sum w), and the JSON the weights' column and sum."""
    weighted, _, _, w = _tables(tmp_path)
    out = tmp_path / "sel.json"
    argv = ["select", str(weighted), "--weights", "w", "-k", "1-2", "--covariance", "VVV,VII", "-o", str(out)]
    assert cli([*argv, "--quiet"]) == 0
    doc = json.loads(out.read_text())
    assert (doc["weights_column"], doc["n_effective"]) == ("w", w.sum())
    for fit in doc["fits"]:
        expected = -2 * fit["log_likelihood"] + fit["n_parameters"] * np.log(w.sum())
        assert fit["bic"] == pytest.approx(expected, rel=1e-12)


BAD_WEIGHTS = {
    "negative": ("1,2,1\n3,4,-1.5\n5,6,2\n", "line 3, column 2 ('w'): weight -1.5 is negative"),
    "nan": ("1,2,1\n3,4,nan\n5,6,2\n", "line 3, column 2 ('w'): the weight is missing (only the fitted columns"),
    "inf": ("1,2,inf\n3,4,1\n5,6,2\n", "line 2, column 2 ('w'): weight 'inf' is not a finite number"),
    "empty": ("1,2,1\n3,4,\n5,6,2\n", "line 3, column 2 ('w'): the weight is missing (only the fitted columns"),
    "text": ("1,2,1\n# a comment\n3,4,many\n5,6,2\n", "line 4, column 2 ('w'): weight 'many' is not a number"),
    "all zero": ("1,2,0\n3,4,0\n5,6,0\n", "every weight in column 2 ('w') is 0"),
}


@pytest.mark.parametrize("read", ["memory", "chunks", "chunks --missing em"])
@pytest.mark.parametrize("case", list(BAD_WEIGHTS))
@pytest.mark.parametrize("command", ["fit", "select"])
def test_a_bad_weight_is_one_line_and_nothing_is_written(tmp_path, capsys, case: str, command: str, read: str) -> None:
    """The same line in memory and read by chunks (--memory-limit below the file's size), with or without
    --missing em (a weight is never a missing value): file, line, column, value, what to do."""
    body, message = BAD_WEIGHTS[case]
    data = tmp_path / "bad.csv"
    data.write_text("x,y,w\n" + body)
    out = tmp_path / "out.json"
    argv = [command, str(data), "--weights", "w", "-k", "1", "-o", str(out)]
    argv += {"memory": [], "chunks": ["--memory-limit", "10"]}.get(read, ["--memory-limit", "10", "--missing", "em"])
    err = expect_user_error(capsys, argv, message)
    assert str(data) in err
    assert case == "all zero" or "fix that row or choose another --weights column" in err
    assert not out.exists()


def test_the_weights_column_is_never_fitted(tmp_path, capsys) -> None:
    """Named in --columns too: one line says so; left to the default columns, it is left out of them."""
    weighted, _, _, _ = _tables(tmp_path)
    argv = ["fit", str(weighted), "--weights", "w", "-k", "1", "--columns", "x,w"]
    expect_user_error(capsys, argv, "column 2 ('w') is both --weights and in --columns")
    doc = _fit(capsys, weighted, tmp_path / "d.json", "--weights", "w")
    assert doc["columns"] == ["x", "y"]
