"""select's covariance models by either name or all, its criterion and its JSON; fit's --covariance by either name
(issue 24)."""

from __future__ import annotations

import json

import pytest
from bad_inputs import expect_user_error as _bad
from data_sets import OLD_FAITHFUL

from cli.main import main as cli
from engine.config import covariance_choices, covariance_names
from engine.model.covariances import COVARIANCE_TYPES

ROW_KEYS = ["model", "covariance_type", "k", "log_likelihood", "n_parameters", "bic", "icl", "aic", "spurious"]


def test_select_picks_by_the_criterion_and_says_which(tmp_path, capsys) -> None:
    """Old Faithful, VVV (named by mclust) and tied (by scikit-learn), K = 1..3: ICL picks VVV,2 where BIC picks
    EEE,3 (mclust's picks over the same grid); the table, the last line and the JSON say which criterion."""
    out = tmp_path / "sel.json"
    argv = ["select", str(OLD_FAITHFUL), "-k", "1-3", "--covariance", "vvv,tied", "--reg-covar", "0", "-o", str(out)]
    assert cli([*argv, "--criterion", "icl"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["k", "model", "covariance", "log-lik", "BIC", "ICL", "AIC", "note"]
    assert printed[1].split()[:3] == ["1", "VVV", "full"]
    assert printed[-2].startswith("best by ICL: k=2 VVV (full), ICL 2322.7")
    doc = json.loads(out.read_text())
    assert doc["criterion"] == "icl" and doc["sign"].startswith("lower is better")
    assert [(f["k"], f["model"], f["covariance_type"]) for f in doc["fits"]] == [
        (k, m, t) for k in (1, 2, 3) for m, t in (("VVV", "full"), ("EEE", "tied"))
    ]
    assert all(set(ROW_KEYS) <= set(f) for f in doc["fits"])
    assert (doc["best"]["k"], doc["best"]["model"]) == (2, "VVV")
    assert doc["best"]["icl"] == min(f["icl"] for f in doc["fits"])
    assert all(f["icl"] >= f["bic"] for f in doc["fits"])
    assert cli([*argv, "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("best by BIC: k=3 EEE (tied), BIC 2314.2")
    assert json.loads(out.read_text())["criterion"] == "bic"


def test_select_all_fits_every_registered_model_in_mclusts_order(tmp_path, capsys) -> None:
    out = tmp_path / "sel.json"
    assert cli(["select", str(OLD_FAITHFUL), "-k", "1-2", "--covariance", "ALL", "--quiet", "-o", str(out)]) == 0
    fits = json.loads(out.read_text())["fits"]
    names = covariance_names()
    assert [f["covariance_type"] for f in fits] == [t for _ in (1, 2) for t in names]
    assert [f["model"] for f in fits[: len(names)]] == [COVARIANCE_TYPES[t].model for t in names]


def test_the_default_grid_is_scikit_learns_four(tmp_path, capsys) -> None:
    out = tmp_path / "sel.json"
    assert cli(["select", str(OLD_FAITHFUL), "-k", "1", "--quiet", "-o", str(out)]) == 0
    assert [f["covariance_type"] for f in json.loads(out.read_text())["fits"]] == ["full", "tied", "diag", "spherical"]


@pytest.mark.parametrize(
    ("covariance", "message"),
    [
        ("VVV,XYZ", f"--covariance: unknown covariance type 'XYZ': choose from {covariance_choices()}, or all"),
        ("full,VVV", "--covariance full,VVV: VVV (VVV, full) is named twice"),
        ("full,", "--covariance takes names separated by commas, or all; got 'full,': an item is empty"),
    ],
)
def test_select_refuses_a_bad_list_in_one_line(capsys, covariance, message) -> None:
    _bad(capsys, ["select", str(OLD_FAITHFUL), "--covariance", covariance], message)


def test_fit_takes_either_name_and_writes_the_registrys(tmp_path, capsys) -> None:
    out = tmp_path / "p.json"
    assert cli(["fit", str(OLD_FAITHFUL), "-k", "2", "--covariance", "Eee", "--quiet", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["covariance_type"] == "tied"
    _bad(
        capsys,
        ["fit", str(OLD_FAITHFUL), "--covariance", "XYZ"],
        f"argument --covariance: unknown covariance type 'XYZ': choose one of {covariance_choices()}",
    )


def test_select_with_the_default_prior_fits_the_ten_models_mclust_fits_it_for(tmp_path, capsys) -> None:
    """--covariance all --prior default: VEE, EVE, VVE and EVV are left out, said on stderr (mclust fits no prior for
    them); the ten others are fitted from the hc start and EEE,3 wins, as in mclust's mclustBIC with the prior."""
    out = tmp_path / "sel.json"
    argv = ["select", str(OLD_FAITHFUL), "--columns", "1,2", "-k", "3", "--covariance", "all", "--prior", "default"]
    assert cli([*argv, "--init", "hc", "--restarts", "1", "--quiet", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "--prior: VEE, EVE, VVE, EVV left out (mclust fits no prior for them)" in captured.err
    doc = json.loads(out.read_text())
    assert [f["model"] for f in doc["fits"]] == ["EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "EEV", "VEV", "VVV"]
    assert (doc["best"]["model"], doc["best"]["k"]) == ("EEE", 3)


@pytest.mark.parametrize(
    "argv",
    [
        ["select", str(OLD_FAITHFUL), "-k", "3", "--covariance", "full,EVE", "--prior", "default"],
        ["fit", str(OLD_FAITHFUL), "-k", "3", "--covariance", "EVE", "--prior", "default"],
    ],
)
def test_a_prior_for_a_model_mclust_fits_none_for_is_one_line(argv, capsys) -> None:
    _bad(capsys, argv, "mclust fits no prior for EVE")
