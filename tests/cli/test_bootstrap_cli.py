"""`fit DATA --bootstrap B [--bootstrap-type ...]` (issue 25): the exported standard errors and intervals are the
engine's bootstrap of the exported fit (tests/engine/test_bootstrap_replicates.py checks those against mclust), the
table is printed, and a request that cannot run is one line before anything is fitted or written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import expect_user_error

from cli.main import main as cli
from engine import FitConfig
from engine.selection.bootstrap import bootstrap

FAITHFUL = Path(__file__).resolve().parents[1] / "data" / "mclust" / "faithful.csv"
ARGS = ["-k", "3", "--covariance", "tied", "--init", "hc", "--reg-covar", "0", "--seed", "4", "--quiet"]


@pytest.mark.parametrize("kind", ["nonparametric", "parametric", "weighted"])
def test_fit_bootstrap_exports_the_engine_bootstrap_of_the_fit(tmp_path, capsys, kind: str) -> None:
    out = tmp_path / "fit.json"
    assert cli(["fit", str(FAITHFUL), *ARGS, "--bootstrap", "20", "--bootstrap-type", kind, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    got = json.loads(out.read_text())
    assert got["bootstrap"].pop("iterations") >= 1
    assert got["bootstrap"] == {"B": 20, "type": kind, "seed": 4, "used": 20, "failed": 0, "not_converged": 0}
    x = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    cfg = FitConfig(n_components=3, covariance_type="tied", init="hc", reg_covar=0.0, seed=4)
    fitted = tuple(np.asarray(got[name]) for name in ("weights", "means", "covariances"))
    boot = bootstrap(x, fitted, cfg, 20, kind, seed=4)
    for name, se in boot.standard_errors().items():
        np.testing.assert_allclose(got["standard_errors"][name], se, rtol=1e-9)
        lo, hi = boot.intervals()[name]
        np.testing.assert_allclose(got["intervals"][name]["lower"], lo, rtol=1e-9)
        np.testing.assert_allclose(got["intervals"][name]["upper"], hi, rtol=1e-9)
    assert got["intervals"]["level"] == 0.95
    assert f"bootstrap: 20 {kind} replicates (seed 4)" in printed and "95% percentile intervals" in printed
    first = next(line for line in printed.splitlines() if line.split()[:2] == ["0", "weight"])
    estimate, se = (float(v) for v in first.split()[2:4])
    assert estimate == pytest.approx(got["weights"][0], rel=1e-5)
    assert se == pytest.approx(got["standard_errors"]["weights"][0], rel=1e-5)


@pytest.mark.parametrize(
    ("more", "message"),
    [
        (["--bootstrap", "1"], "--bootstrap needs at least 2 replicates, got 1"),
        (
            ["--bootstrap", "5", "--memory-limit", "1K"],
            "--bootstrap needs the data in memory (its replicates weigh every point): raise --memory-limit",
        ),
        (["--bootstrap", "10000000000"], "--bootstrap 10000000000 on 272 points needs about"),
    ],
)
def test_a_bootstrap_that_cannot_run_is_one_line_and_writes_nothing(tmp_path, capsys, more, message) -> None:
    out = tmp_path / "fit.json"
    err = expect_user_error(capsys, ["fit", str(FAITHFUL), *ARGS, "-o", str(out), *more], message)
    assert not out.exists()
    assert "converged" not in err  # refused before the fit


def test_a_bootstrap_of_pinned_parameters_gives_them_no_spread(tmp_path, capsys) -> None:
    """fit --init --fix --bootstrap: the pinned mean's standard errors are nil, the others' are not."""
    rough, out = tmp_path / "rough.json", tmp_path / "fit.json"
    assert cli(["fit", str(FAITHFUL), *ARGS, "--max-iter", "3", "-o", str(rough), "--quiet"]) == 0
    more = ["--init", str(rough), "--fix", "means=0", "--bootstrap", "20", "--quiet", "-o", str(out)]
    assert cli(["fit", str(FAITHFUL), *ARGS, *more]) == 0
    got = json.loads(out.read_text())
    se = np.array(got["standard_errors"]["means"])
    assert got["fixed"] == {"means": [0]}
    assert se[0].max() <= 1e-12 * np.abs(got["means"][0]).max() and se[1:].min() > 1e-3


def test_a_parametric_bootstrap_of_weighted_data_counts_its_simulated_points(tmp_path, capsys) -> None:
    """A parametric replicate of weighted data simulates round(sum w) points, not N: 100 rows of weight 2,000 are
    200,000 points a replicate (B = 20: 224 MB of points alone), refused under --memory-limit 100M."""
    x = np.random.default_rng(0).normal(size=(100, 2))
    data = tmp_path / "heavy.csv"
    data.write_text("x,y,w\n" + "".join(f"{a!r},{b!r},2000\n" for a, b in x.tolist()))
    out = tmp_path / "fit.json"
    argv = ["fit", str(data), "-k", "2", "--weights", "w", "--quiet", "-o", str(out), "--memory-limit", "100M"]
    more = ["--bootstrap", "20", "--bootstrap-type", "parametric"]
    expect_user_error(capsys, [*argv, *more], "--bootstrap 20 on 200,000 simulated points a replicate (the sum of")
    assert not out.exists()
