"""`fit DATA --missing em` (issue 25): empty cells, NA/NaN/null tokens, Parquet nulls and NaN in .npy read as missing
values and fitted by exact EM; without the flag each is refused in one line naming it; the labels export gives each
point's responsibilities and its imputed values. References: SciPy's densities of the observed coordinates and the
conditional means written out in NumPy, from the exported parameters."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from bad_inputs import expect_user_error
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from cli.main import main as cli
from engine.io import data as data_mod

TOKENS = ["", "NA", "nan", "N/A", "null", "NaN"]


def _table(tmp_path) -> tuple:
    """A CSV a,b,c of 150 points in two clusters, about a tenth of its cells missing (written as NA tokens), and the
    same values as an array (150, 3) with NaN."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0.0, 1.0, (75, 3)), rng.normal(4.0, 0.8, (75, 3))])
    hole = rng.random(x.shape) < 0.1
    hole[hole.all(1), 0] = False
    lines = ["a,b,c"]
    for i, row in enumerate(x):
        fields = [TOKENS[(i + j) % len(TOKENS)] if hole[i, j] else repr(float(v)) for j, v in enumerate(row)]
        lines.append(",".join(fields))
    path = tmp_path / "holes.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, np.where(hole, np.nan, x)


def test_missing_values_are_refused_without_the_flag_and_nothing_is_written(tmp_path, capsys):
    path, _ = _table(tmp_path)
    out = tmp_path / "out.json"
    expect_user_error(capsys, ["fit", str(path), "-k", "2", "-o", str(out), "--quiet"], "--missing em")
    assert not out.exists()


def test_fit_missing_em_end_to_end(tmp_path, capsys):
    path, x = _table(tmp_path)
    out, labels = tmp_path / "out.json", tmp_path / "labels.csv"
    argv = ["fit", str(path), "-k", "2", "--seed", "1", "--missing", "em", "-o", str(out), "--labels", str(labels)]
    assert cli([*argv, "--quiet"]) == 0, capsys.readouterr().err
    assert "missing values: " in capsys.readouterr().err
    p = json.loads(out.read_text())
    w, means, cov = np.array(p["weights"]), np.array(p["means"]), np.array(p["covariances"])
    assert p["missing"] == "em" and p["missing_values"] == int(np.isnan(x).sum())
    assert p["n_samples"] == len(x)
    joint = np.empty((len(x), 2))
    for n, row in enumerate(x):
        o = ~np.isnan(row)
        for k in range(2):
            joint[n, k] = np.log(w[k]) + multivariate_normal(means[k][o], cov[k][np.ix_(o, o)]).logpdf(row[o])
    # the JSON's log-likelihood is SciPy's at its parameters (measured: equal; the responsibilities to 9e-16)
    assert p["log_likelihood"] == pytest.approx(logsumexp(joint, axis=1).sum(), rel=1e-12)
    resp = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    with open(labels, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["a", "b", "c", "label", "resp_0", "resp_1", "imputed_a", "imputed_b", "imputed_c"]
    body = rows[1:]
    assert [[r[j] == "" for j in range(3)] for r in body] == np.isnan(x).tolist()
    np.testing.assert_allclose([[float(v) for v in r[4:6]] for r in body], resp, rtol=0, atol=1e-12)
    imputed = np.array([[float(v) for v in r[6:]] for r in body])
    for n, row in enumerate(x):  # E[x_m | x_o] = sum_k r_k (mu_k,m + S_k,mo S_k,oo^-1 (x_o - mu_k,o))
        m = np.isnan(row)
        o = ~m
        expected = row.copy()
        if m.any():
            cond = [
                means[k][m] + cov[k][np.ix_(m, o)] @ np.linalg.solve(cov[k][np.ix_(o, o)], row[o] - means[k][o])
                for k in range(2)
            ]
            expected[m] = resp[n] @ np.array(cond)
        np.testing.assert_allclose(imputed[n], expected, rtol=1e-12, atol=1e-12)


def test_parquet_nulls_and_npy_nan_read_as_missing_with_the_flag(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1.0, None, 3.0], "b": [4.0, 5.0, None]}), tmp_path / "t.parquet")
    np.save(tmp_path / "t.npy", np.array([[1.0, np.nan], [2.0, 3.0]]))
    for name, expected in [("t.parquet", [[1, 4], [np.nan, 5], [3, np.nan]]), ("t.npy", [[1, np.nan], [2, 3]])]:
        with pytest.raises(data_mod.DataError, match="--missing em"):
            data_mod.load(tmp_path / name)
        np.testing.assert_array_equal(data_mod.load(tmp_path / name, missing=True).points, expected)
    inf = tmp_path / "inf.npy"
    np.save(inf, np.array([[1.0, np.inf], [2.0, 3.0]]))
    with pytest.raises(data_mod.DataError, match="value inf is not a finite number: remove or fill that row$"):
        data_mod.load(inf, missing=True)


NOTHING_OBSERVED = "has no value in any fitted column ('a', 'b')"


@pytest.mark.parametrize("command", ["fit", "select"])
@pytest.mark.parametrize("limit", [None, "10"])
def test_a_row_with_nothing_observed_is_refused_at_reading_naming_its_line(tmp_path, capsys, command, limit):
    """Refused as the file is read, in memory and by chunks (once the first pass has read every row), fit and
    select: the file, the line (comments and the header counted), how many more and where, and what to do.
    Nothing is written."""
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b,w\n1,2,1\n# a comment\nNA,,1\n3,4,2\n,,1\n5,7,1\n")
    out = tmp_path / "out.json"
    argv = [command, str(empty), "-k", "1", "--missing", "em", "--weights", "w", "-o", str(out)]
    err = expect_user_error(capsys, argv + (["--memory-limit", limit] if limit else []), NOTHING_OBSERVED)
    said = f"{empty}: line 4 {NOTHING_OBSERVED} (and 1 more such row: line 6)"
    assert f"{said}: such a row tells nothing about the mixture: remove it, or choose other columns" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("body", "line", "column", "value"),
    [
        ("1,2,3\n,,6\n4,5,7\n", 3, 0, ""),  # two cells of a row missing: once refused as 'not a numeric table'
        (",,6\n1,2,3\n4,5,7\n", 2, 0, ""),  # in the first row: its columns once left out of the default
        ("1,2,3\nNA,NA,6\n4,5,7\n", 3, 0, "NA"),
        ("1,2,3\n4,5,7\n8,null,\n", 4, 1, "null"),
    ],
)
@pytest.mark.parametrize("limit", [None, "100"])
def test_every_missing_cell_without_the_flag_is_named_with_the_flag(tmp_path, capsys, body, line, column, value, limit):
    """Without --missing em a missing cell is one line naming the file, the line, the column and the flag, in memory
    and read by chunks; with the flag the same file fits."""
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n" + body + "2.5,3.5,1.5\n" * 12)  # more than the limit: read by chunks
    argv = ["fit", str(path), "-k", "1", "--covariance", "diag", *(["--memory-limit", limit] if limit else [])]
    said = f"t.csv: line {line}, column {column} ('{'abc'[column]}'): value '{value}' is not a number: "
    err = expect_user_error(capsys, argv, said)
    assert err.rstrip().endswith("or fit with --missing em (exact EM for values missing at random)")
    assert cli([*argv, "--missing", "em", "--quiet"]) == 0, capsys.readouterr().err
