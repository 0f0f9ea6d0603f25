"""`fit DATA --missing em --bootstrap B` (issue 25): the exported standard errors and intervals are the engine's
bootstrap of the exported fit on the data with its missing cells (tests/engine/test_bootstrap_missing.py checks those
against each replicate's lone fit and the observed-data information; the parametric type's in
test_bootstrap_parametric_missing.py), with no NaN, and a session replays it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bad_inputs import expect_user_error

from cli.main import main as cli
from engine import FitConfig
from engine.selection.bootstrap import bootstrap

ARGS = ["-k", "3", "--reg-covar", "0", "--seed", "4", "--missing", "em", "--quiet"]


def _holes(tmp_path) -> tuple[str, np.ndarray]:
    """A CSV of three clusters (240, 2) with about 10% of its cells empty, and its values (NaN: missing)."""
    rng = np.random.default_rng(5)
    x = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])[rng.integers(0, 3, 240)] + rng.normal(size=(240, 2))
    hole = rng.random(x.shape) < 0.1
    hole[hole.all(1), 0] = False
    x[hole] = np.nan
    path = tmp_path / "holes.csv"
    rows = [",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in x]
    path.write_text("a,b\n" + "\n".join(rows) + "\n")
    return str(path), x


@pytest.mark.parametrize("kind", ["nonparametric", "weighted", "parametric"])
def test_fit_missing_bootstrap_exports_the_engine_bootstrap_and_replays(tmp_path, capsys, kind: str) -> None:
    data, x = _holes(tmp_path)
    out, session = tmp_path / "fit.json", tmp_path / "fit.gmmsession"
    argv = ["fit", data, *ARGS, "--bootstrap", "20", "--bootstrap-type", kind, "-o", str(out)]
    assert cli([*argv, "--session", str(session)]) == 0, capsys.readouterr().err
    got = json.loads(out.read_text())
    assert got["missing_values"] == int(np.isnan(x).sum()) > 0
    assert got["bootstrap"].pop("iterations") >= 1
    assert got["bootstrap"] == {"B": 20, "type": kind, "seed": 4, "used": 20, "failed": 0, "not_converged": 0}
    numbers = [got["standard_errors"][n] for n in got["standard_errors"]]
    numbers += [got["intervals"][n][end] for n in got["standard_errors"] for end in ("lower", "upper")]
    assert all(np.isfinite(a).all() for a in numbers) and len(numbers) == 9
    fitted = tuple(np.asarray(got[name]) for name in ("weights", "means", "covariances"))
    boot = bootstrap(x, fitted, FitConfig(n_components=3, reg_covar=0.0, seed=4), 20, kind, seed=4)
    for name, se in boot.standard_errors().items():
        np.testing.assert_allclose(got["standard_errors"][name], se, rtol=1e-9)
        lo, hi = boot.intervals()[name]
        np.testing.assert_allclose(got["intervals"][name]["lower"], lo, rtol=1e-9)
        np.testing.assert_allclose(got["intervals"][name]["upper"], hi, rtol=1e-9)
    capsys.readouterr()
    assert cli(["replay", str(session), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"bootstrap: 20 {kind} replicates (seed 4)" in printed
    said = "reproduced: the same iterations, restart, log-likelihood, parameters and bootstrap standard errors"
    assert said in printed


def test_a_parametric_bootstrap_of_missing_values_too_big_for_memory_is_one_line(tmp_path, capsys) -> None:
    """The memory check counts a parametric replicate's simulated points (sorted by pattern): refused before the
    fit, naming the most replicates that fit, no file written."""
    data, _ = _holes(tmp_path)
    out = tmp_path / "x.json"
    more = ["--bootstrap", "10000000000", "--bootstrap-type", "parametric", "-o", str(out)]
    err = expect_user_error(capsys, ["fit", data, *ARGS, *more], "--bootstrap 10000000000 on 240 points needs about")
    assert "use at most" in err and not out.exists()
