"""`select DATA --missing em` (issue 25): the grid over K and models of data with missing values, each cell the
single `fit --missing em` of its K and model; BIC from the observed-data log-likelihood with n = the rows, ICL's
z_ik given each point's observed coordinates (SciPy's densities here)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bad_inputs import expect_user_error
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from test_missing_cli import _table

from cli.main import main as cli
from engine import FitConfig, run_to_end
from engine.inference import spill as spill_module
from engine.model.covariances import COVARIANCE_TYPES


def _log_joint(x: np.ndarray, fit: dict) -> np.ndarray:
    """log w_k + log N(x_o | mu_k,o, S_k,oo) (N, K) of the exported fit, by SciPy, the rows of each pattern at once."""
    w, means, cov = np.array(fit["weights"]), np.array(fit["means"]), np.array(fit["covariances"])
    out = np.empty((len(x), len(w)))
    holes = np.isnan(x)
    for pattern in np.unique(holes, axis=0):
        rows, o = (holes == pattern).all(1), ~pattern
        for k in range(len(w)):
            dist = multivariate_normal(means[k][o], cov[k][np.ix_(o, o)])
            out[rows, k] = np.log(w[k]) + np.atleast_1d(dist.logpdf(x[np.ix_(rows, o)]))
    return out


def test_each_cell_is_the_single_fit_and_its_criteria_are_the_observed_data_ones(tmp_path, capsys) -> None:
    path, x = _table(tmp_path)
    out = tmp_path / "sel.json"
    argv = ["select", str(path), "-k", "1-2", "--covariance", "full,VEI", "--restarts", "2", "--seed", "3"]
    assert cli([*argv, "--missing", "em", "-o", str(out), "--quiet"]) == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert (doc["missing"], doc["missing_values"], doc["n_samples"]) == ("em", int(np.isnan(x).sum()), len(x))
    assert len(doc["fits"]) == 4
    for e in doc["fits"]:
        cfg = FitConfig(n_components=e["k"], covariance_type=e["covariance_type"], restarts=2, seed=3)
        single = run_to_end(x, cfg, missing="em")
        assert e["log_likelihood"] == single.log_likelihood  # the same fit, bit for bit
        joint = _log_joint(x, {"weights": single.weights, "means": single.means, "covariances": single.covariances})
        ll = logsumexp(joint, axis=1)
        assert e["log_likelihood"] == pytest.approx(ll.sum(), rel=1e-12)  # the observed-data log-likelihood
        p = COVARIANCE_TYPES[e["covariance_type"]].n_parameters(e["k"], 3)
        assert e["bic"] == pytest.approx(-2 * ll.sum() + p * np.log(len(x)), rel=1e-12)  # n: the rows
        # ICL: the responsibilities given the observed coordinates (measured: SciPy's to 1e-15)
        assert e["icl"] == pytest.approx(e["bic"] - 2 * (joint.max(1) - ll).sum(), rel=1e-10)


def test_a_selection_read_by_chunks_is_the_selection_in_memory(tmp_path, capsys, monkeypatch) -> None:
    """select --missing em by chunks (one batched EM a pass for the grid, the starts per K from the complete rows of
    the sample, ICL's pass on the observed coordinates, the chunks grouped once into a temporary file, closed at the
    end): every cell's log-likelihood, BIC and ICL are the in-memory grid's (measured: 4.4e-16 relative)."""
    made = []
    real = spill_module.tempfile.TemporaryFile
    monkeypatch.setattr(spill_module.tempfile, "TemporaryFile", lambda **kw: made.append(real(**kw)) or made[-1])
    path, x = _table(tmp_path)
    argv = ["select", str(path), "-k", "1-3", "--covariance", "full,VVI", "--restarts", "2", "--missing", "em"]
    assert cli([*argv, "-o", str(tmp_path / "m.json"), "--quiet"]) == 0, capsys.readouterr().err
    assert made == []
    assert cli([*argv, "-o", str(tmp_path / "s.json"), "--quiet", "--memory-limit", "4K"]) == 0
    assert "rows read by chunks" in capsys.readouterr().err
    assert len(made) == 1 and made[0].closed  # the grid's passes read the chunks back, and the file is gone
    memory, streamed = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ms")
    assert streamed["missing_values"] == memory["missing_values"] == int(np.isnan(x).sum())
    for a, b in zip(memory["fits"], streamed["fits"], strict=True):
        for name in ("log_likelihood", "bic", "icl"):
            assert b[name] == pytest.approx(a[name], rel=1e-10, abs=0), (a["k"], a["covariance_type"], name)


def test_select_without_the_flag_is_one_line(tmp_path, capsys) -> None:
    path, _ = _table(tmp_path)
    expect_user_error(capsys, ["select", str(path), "-k", "1-2"], "--missing em")


def test_a_selection_by_chunks_is_the_same_with_or_without_its_file(tmp_path, capsys, monkeypatch) -> None:
    """select --missing em by chunks keeps its chunks grouped in one temporary file (spill.SpilledPasses, as a fit
    does; before, every pass of the grid read, parsed and grouped the file again); every cell's numbers are those of
    grouping afresh (no file: no room for it), bit for bit, and stderr says why there is none."""
    path, _ = _table(tmp_path)
    argv = ["select", str(path), "-k", "1-3", "--covariance", "full,VVI", "--missing", "em", "--memory-limit", "4K"]
    assert cli([*argv, "-o", str(tmp_path / "once.json"), "--quiet"]) == 0, capsys.readouterr().err
    assert "kept for the later passes in an unnamed file" in capsys.readouterr().err
    monkeypatch.setattr(spill_module, "refusal", lambda folder, size: "no room (a test)")
    assert cli([*argv, "-o", str(tmp_path / "afresh.json"), "--quiet"]) == 0
    assert "are not kept, so every pass reads and groups the chunks again (slower): no room (a test)" in (
        capsys.readouterr().err
    )
    once, afresh = (json.loads((tmp_path / f"{n}.json").read_text())["fits"] for n in ("once", "afresh"))
    assert once == afresh
