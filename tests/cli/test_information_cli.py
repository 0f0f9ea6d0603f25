"""`fit DATA --information` (issue 25): the exported standard_errors_information are the engine's observed
information of the exported fit (tests/engine/test_information.py checks those against autograd, closed forms and
the bootstrap), the table is printed, and a request that cannot run is one line before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import expect_user_error

from cli.main import main as cli
from engine.selection.information import information

FAITHFUL = Path(__file__).resolve().parents[1] / "data" / "mclust" / "faithful.csv"
ARGS = ["-k", "2", "--covariance", "full", "--reg-covar", "0", "--seed", "4", "--quiet"]


def test_fit_information_exports_the_engine_information_of_the_fit(tmp_path, capsys) -> None:
    out = tmp_path / "fit.json"
    assert cli(["fit", str(FAITHFUL), *ARGS, "--information", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    got = json.loads(out.read_text())
    x = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    fitted = tuple(np.asarray(got[name]) for name in ("weights", "means", "covariances"))
    ours = information(x, fitted).standard_errors()
    for name, se in ours.items():
        np.testing.assert_allclose(got["standard_errors_information"][name], se, rtol=1e-9)
        assert (
            np.asarray(got["standard_errors_information"][name]).shape
            == fitted[("weights", "means", "covariances").index(name)].shape
        )
    assert got["information"] == {"method": "louis", "parameters": 1 + 4 + 6}
    assert "observed information (Louis's method)" in printed and "variance eruptions" in printed


@pytest.mark.parametrize(
    ("covariance", "parameters", "method"),
    [("tied", 3, "louis"), ("diag", 4, "louis"), ("spherical", 2, "louis"), ("EEI", 2, "louis"), ("EII", 1, "louis")]
    + [("VEV", 5, "autograd"), ("EVE", 4, "autograd")],
)
def test_the_other_models_export_their_information(tmp_path, capsys, covariance, parameters, method) -> None:
    """The other linear models (Louis's) and two constrained ones (autograd's): the export is the engine's
    information of the exported fit, in the model's own free parameters (1 weight, 4 means, then `parameters`
    covariance parameters: mclust's count), and the table names the method."""
    out = tmp_path / "fit.json"
    argv = ["fit", str(FAITHFUL), *ARGS, "--covariance", covariance, "--information", "-o", str(out)]
    assert cli(argv) == 0
    assert ("Louis's method" in capsys.readouterr().out) == (method == "louis")
    got = json.loads(out.read_text())
    x = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    fitted = tuple(np.asarray(got[name]) for name in ("weights", "means", "covariances"))
    for name, se in information(x, fitted, covariance).standard_errors().items():
        np.testing.assert_allclose(got["standard_errors_information"][name], se, rtol=1e-9)
    assert got["information"] == {"method": method, "parameters": 1 + 4 + parameters}


def test_missing_values_take_the_observed_data_information(tmp_path, capsys) -> None:
    """`fit --missing em --information`: the export is the engine's information of the exported fit on the data
    with its missing cells (tests/engine/test_information_missing.py checks that against a differences' Hessian)."""
    x = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    holes = np.random.default_rng(0).random(x.shape) < 0.05
    holes[:, 0] &= ~holes[:, 1]  # every row keeps a value
    x[holes] = np.nan
    data = tmp_path / "holes.csv"
    data.write_text(
        "eruptions,waiting\n" + "".join(",".join("" if np.isnan(v) else repr(float(v)) for v in r) + "\n" for r in x)
    )
    out = tmp_path / "fit.json"
    assert cli(["fit", str(data), *ARGS, "--missing", "em", "--information", "-o", str(out)]) == 0
    assert "observed-data log-likelihood (missing values)" in capsys.readouterr().out
    got = json.loads(out.read_text())
    fitted = tuple(np.asarray(got[name]) for name in ("weights", "means", "covariances"))
    for name, se in information(x, fitted).standard_errors().items():
        np.testing.assert_allclose(got["standard_errors_information"][name], se, rtol=1e-9)
    assert got["information"] == {"method": "autograd_missing", "parameters": 1 + 4 + 6}


@pytest.mark.parametrize(
    ("more", "message"),
    [
        (["--memory-limit", "1K"], "--information needs the data in memory"),
        (["--prior", "default"], "--information is the likelihood's and --prior fits a posterior's maximum"),
    ],
)
def test_an_information_that_cannot_run_is_one_line_and_writes_nothing(tmp_path, capsys, more, message) -> None:
    out = tmp_path / "fit.json"
    err = expect_user_error(capsys, ["fit", str(FAITHFUL), *ARGS, "--information", "-o", str(out), *more], message)
    assert not out.exists()
    assert "converged" not in err  # refused before the fit


def test_pinned_parameters_are_refused(tmp_path, capsys) -> None:
    start = tmp_path / "start.json"
    assert cli(["fit", str(FAITHFUL), *ARGS, "-o", str(start)]) == 0
    capsys.readouterr()
    out = tmp_path / "fit.json"
    argv = ["fit", str(FAITHFUL), *ARGS, "--init", str(start), "--fix", "means=0", "--information", "-o", str(out)]
    expect_user_error(capsys, argv, "--information does not take --fix")
    assert not out.exists()
