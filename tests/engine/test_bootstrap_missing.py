"""The bootstrap of a fit with missing values (issue 25: `fit --missing em --bootstrap B`). References are
independent of the batched replicates: each replicate fitted alone by missing-values EM (run_to_end(..., missing="em"))
with its weights, and the observed-data information's standard errors (autograd's Hessian of the observed-data
log-likelihood, information_smooth.py, itself checked against long-double differences in test_information_missing)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from data_sets import missing_clusters, separated_with_holes
from replicate_checks import assert_replicate_is_alone

from engine import FitConfig, InitParams, run_to_end
from engine.errors import UserError
from engine.model import gaussian
from engine.selection.bootstrap import bootstrap, replicate_weights
from engine.selection.information import information


@pytest.fixture
def small_chunks(monkeypatch) -> None:
    """E-step chunks of about 85 rows (quadratic features, K = 3, 4 rows) and 256 (whitened distances): each chunk
    takes its slice of every replicate's weights (one chunk would hide a slice taken wrong)."""
    monkeypatch.setattr(gaussian, "CHUNK_ELEMENTS", {"cpu": 2**10, "cuda": 2**10})
    monkeypatch.setattr(gaussian, "MIN_CHUNK_ROWS", 64)
    monkeypatch.setattr(gaussian, "WHITENED_ELEMENTS", 2**10)


def _fitted(x: np.ndarray, cfg: FitConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    last = run_to_end(x, cfg, missing="em")
    return last.weights, last.means, last.covariances


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("kind", ["nonparametric", "weighted"])
@pytest.mark.parametrize("frequency", [False, True])
def test_each_replicate_is_its_lone_missing_values_fit(kind: str, frequency: bool) -> None:
    """Batched = alone: replicate b ends where missing-values EM of the data with replicate b's weights, started from
    the fit, ends, both to tol 1e-13 (10% of the cells missing, 7 patterns; frequency: the data's own weights 0 to 3,
    which each kind draws from). The accelerator and plain EM stop a little short of the same fixed point: measured 3e-7
    relative at most (covariances; weights and means 5e-8)."""
    x = missing_clusters(300, 3, 0.1, seed=1)
    base = np.random.default_rng(2).integers(0, 4, len(x)).astype(float) if frequency else None
    cfg = FitConfig(n_components=3, covariance_type="full", reg_covar=0.0, seed=0, restarts=5)
    fitted = (lambda s: (s.weights, s.means, s.covariances))(run_to_end(x, cfg, weights=base, missing="em"))
    cfg = replace(cfg, tol=1e-13, max_iter=5000, restarts=1)
    boot = bootstrap(x, fitted, cfg, 4, kind, seed=7, weights=base)
    rows = replicate_weights(kind, len(x), 4, np.random.default_rng(7), base)  # the same draw: the seed's first
    assert boot.weights.shape == (4, 3) and boot.failed == 0 and boot.not_converged == 0
    _each_is_its_lone_fit(x, fitted, cfg, boot, rows)


def _each_is_its_lone_fit(x: np.ndarray, fitted, cfg: FitConfig, boot, rows: np.ndarray) -> None:
    """Each replicate b of boot ends where the lone missing-values fit of x (N, D) with weights rows[b] (N,), started
    from fitted, ends (components matched by their second mean coordinate), to 1e-6 of each array's largest entry."""
    alone_cfg = replace(cfg, init="params", init_params=InitParams.from_arrays(*fitted))
    for b in range(len(rows)):
        alone = run_to_end(x, alone_cfg, weights=rows[b], missing="em")
        assert_replicate_is_alone(boot, b, alone)


@pytest.mark.usefixtures("small_chunks")
def test_replicates_through_whitened_distances_are_their_lone_fits() -> None:
    """D = 12: the E-step takes whitened distances (gaussian.use_whitened), each replicate's weights per chunk too;
    the two replicates end where their lone missing-values fits end (measured 1.3e-7 relative at most)."""
    rng = np.random.default_rng(0)
    x = np.array([np.zeros(12), np.full(12, 3.0)])[rng.integers(0, 2, 400)] + rng.normal(size=(400, 12))
    x[rng.random(x.shape) < 0.05] = np.nan
    assert gaussian.use_whitened(12, 2 * 2)
    cfg = FitConfig(n_components=2, covariance_type="full", reg_covar=0.0, seed=0, restarts=2)
    fitted = _fitted(x, cfg)
    cfg = replace(cfg, tol=1e-13, max_iter=5000, restarts=1)
    boot = bootstrap(x, fitted, cfg, 2, "weighted", seed=3)
    rows = replicate_weights("weighted", len(x), 2, np.random.default_rng(3))
    _each_is_its_lone_fit(x, fitted, cfg, boot, rows)


HOLES = 0.1  # the share of cells missing in the separated clusters (separated_with_holes)


def test_standard_errors_agree_with_the_observed_data_information() -> None:
    """600 points, 10% of the cells missing, B = 400: the bootstrap's standard errors against the observed-data
    information's. Measured at seeds 0 to 3, nonparametric and weighted: weights and means 0.92 to 1.07 of the
    information's, covariance entries 0.78 to 1.20 (a variance's bootstrap spread is the noisier: its fourth
    moments); here (seed 0, nonparametric) 1.00 to 1.06, 0.98 to 1.06 and 0.83 to 1.20."""
    x = separated_with_holes(600, 0, HOLES)
    cfg = FitConfig(n_components=3, covariance_type="full", reg_covar=0.0, restarts=3, tol=1e-10, max_iter=2000)
    fitted = _fitted(x, cfg)
    info = information(x, fitted, "full").standard_errors()
    boot = bootstrap(x, fitted, cfg, 400, "nonparametric", seed=0)
    assert boot.failed == 0 and boot.not_converged == 0
    se = boot.standard_errors()
    for name, (low, high) in {"weights": (0.9, 1.1), "means": (0.9, 1.1), "covariances": (0.75, 1.3)}.items():
        ratio = se[name] / info[name]
        assert low <= ratio.min() and ratio.max() <= high, (name, np.round(ratio, 3))


def test_a_prior_is_refused_on_missing_values_in_one_line() -> None:
    """As the fit of such data refuses it (its scale is the data's covariance matrix), whatever the kind."""
    x = missing_clusters(60, 2, 0.1, seed=2)
    cfg = FitConfig(n_components=2, covariance_type="full")
    fitted = _fitted(x, cfg)
    for kind in ("nonparametric", "parametric"):
        with pytest.raises(UserError, match=r"^--prior default needs complete data .*: drop it$"):
            bootstrap(x, fitted, replace(cfg, prior="default"), 5, kind)
