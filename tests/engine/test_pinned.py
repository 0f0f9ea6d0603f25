"""Pinned parameters (issue 25): exact EM keeps the pinned weights, means and covariances at the init file's values,
bit for bit, while the log-likelihood rises; the free ones are the constrained M-step's, checked against closed forms
computed here from SciPy's densities."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_sets import blobs
from scipy.stats import multivariate_normal

from engine import COVARIANCE_TYPES, FitConfig, FixedParams, InitParams, UserError, fit
from engine.fixed import free_parameters
from engine.io.export import params_from_snapshot
from engine.io.session import config_from_dict, config_to_dict
from engine.model.covariances import covariance_type

# Far from the origin and in mixed units, so that the standardisation's round trip changes the last bits of a value
# (the data units' pinned values must still come back as given).
SCALE, SHIFT = np.array([3.0, 0.7]), np.array([1e4, 0.0])
# A start near blobs' three clusters, with digits the round trip cannot keep
MEANS = np.array([[0.1234567891, -0.0987654321], [3.9012345678, 3.1098765432], [0.2345678912, 4.8765432109]])
WEIGHTS = np.array([0.3, 0.3, 0.4])
SPHERES = np.array([1.2345678901, 0.4567890123, 0.9876543219])
VARIANCES = np.array([[1.1111111111, 1.3333333333], [0.5555555555, 0.2888888888], [1.9999999999, 0.4444444444]])
FULL = np.array([[[1.0, 0.6], [0.6, 1.5]], [[0.5, -0.2], [-0.2, 0.3]], [[2.0, 0.1], [0.1, 0.4]]]) * 1.0123456789
# Exact EM (reg_covar 0, no re-seeding) with pins never falls but by rounding: the largest fall of the mean
# log-likelihood per point over these tests' fits measured 2.7e-15
FALL = 1e-12


def data(n: int = 600) -> np.ndarray:
    return blobs(0, n) * SCALE + SHIFT


def start(cov: np.ndarray | None = None, weights: np.ndarray = WEIGHTS, means: np.ndarray = MEANS) -> InitParams:
    """The start in data units (the blobs' units mapped as data() maps them); cov (K, D, D): in data units."""
    cov = FULL * np.outer(SCALE, SCALE) if cov is None else cov
    return InitParams.from_arrays(weights, means * SCALE + SHIFT, cov)


def of_form(cov_type: str) -> np.ndarray:
    """FULL in data units made of the model's form (its projection): covariances the model can hold (K, D, D)."""
    import torch

    return covariance_type(cov_type).project(torch.as_tensor(FULL * np.outer(SCALE, SCALE)), None).numpy()


def run(cov_type: str, fixed: FixedParams, init: InitParams | None = None, **kw) -> list:
    """The snapshots of a fit of data() from init (default start()) with the pins; kw: FitConfig's settings (by
    default pure EM: no re-seeding, no reg_covar floor, whose floored objective is not the log-likelihood)."""
    settings = {"tol": 0.0, "max_iter": 40, "empty_policy": "report", "reg_covar": 0.0} | kw
    cfg = FitConfig(n_components=3, covariance_type=cov_type, init_params=init or start(), fixed=fixed, **settings)
    return list(fit(data(), cfg))


def assert_rises(snaps: list) -> None:
    steps = np.diff([s.mean_log_likelihood for s in snaps])
    assert steps.min() >= -FALL, (steps.min(), int(np.argmin(steps)))


def same_bits(a, b) -> bool:
    return np.asarray(a, dtype=np.float64).tobytes() == np.asarray(b, dtype=np.float64).tobytes()


@pytest.mark.parametrize("cov_type", list(COVARIANCE_TYPES))
def test_pinned_means_stay_bit_for_bit_while_the_log_likelihood_rises(cov_type: str) -> None:
    init = start()
    snaps = run(cov_type, FixedParams(means=(0, 2)), init)
    given = np.asarray(init.means)
    for s in snaps:
        assert same_bits(s.means[[0, 2]], given[[0, 2]]), s.iteration
    assert not np.allclose(snaps[-1].means[1], given[1])  # the free mean moved
    assert_rises(snaps)


@pytest.mark.parametrize("cov_type", ["full", "diag", "spherical"])
def test_some_pinned_covariances_stay_for_the_independent_models(cov_type: str) -> None:
    init = start(of_form(cov_type))
    snaps = run(cov_type, FixedParams(covariances=(0,), means=(2,)), init)
    for s in snaps:
        assert same_bits(s.covariances[0], np.asarray(init.covariances)[0]), s.iteration
    assert not np.allclose(snaps[-1].covariances[1], np.asarray(init.covariances)[1])
    assert_rises(snaps)


@pytest.mark.parametrize("cov_type", ["full", "EEE", "VEV", "EVE"])
def test_pinned_weights_stay_and_every_covariance_pinned_for_a_shared_model(cov_type: str) -> None:
    init = start(of_form(cov_type))
    snaps = run(cov_type, FixedParams(weights=(1,), covariances=(0, 1, 2)), init)
    for s in snaps:
        assert same_bits(s.weights[1], WEIGHTS[1]) and same_bits(s.covariances, np.asarray(init.covariances))
    assert abs(snaps[-1].weights.sum() - 1.0) < 1e-15
    assert_rises(snaps)


def _responsibilities(x: np.ndarray, s) -> np.ndarray:
    """SciPy's responsibilities (N, K) at a snapshot's parameters (data units)."""
    dens = np.stack(
        [w * multivariate_normal(m, c).pdf(x) for w, m, c in zip(s.weights, s.means, s.covariances, strict=True)], 1
    )
    return dens / dens.sum(1, keepdims=True)


def test_free_weights_are_the_lagrange_solution_and_a_pinned_means_covariance_its_scatter() -> None:
    x = data()
    snaps = run("full", FixedParams(weights=(0,), means=(1,)), max_iter=1, reg_covar=0.0)
    r = _responsibilities(x, snaps[0])
    nk = r.sum(0)
    # maximise sum_k N_k log w_k with w_0 fixed and the weights summing to 1 (Lagrange: w_k proportional to N_k)
    expected = nk[1:] / nk[1:].sum() * (1.0 - WEIGHTS[0])
    np.testing.assert_allclose(snaps[1].weights[1:], expected, rtol=1e-12)
    assert same_bits(snaps[1].weights[0], WEIGHTS[0])
    mu = snaps[0].means[1]
    scatter = (r[:, 1, None] * (x - mu)).T @ (x - mu) / nk[1]
    np.testing.assert_allclose(snaps[1].covariances[1], scatter, rtol=1e-10)


def test_one_component_with_a_pinned_mean_gets_the_scatter_about_it() -> None:
    x = data()
    mu = np.array([1e4 + 0.5, 0.05])
    init = InitParams.from_arrays([1.0], [mu], [np.diag([1.0, 0.5])])
    cfg = FitConfig(n_components=1, init_params=init, fixed=FixedParams(means=(0,)), reg_covar=0.0)
    last = list(fit(x, cfg))[-1]
    closed = (x - mu).T @ (x - mu) / len(x)  # the maximum-likelihood covariance about a known mean
    np.testing.assert_allclose(last.covariances[0], closed, rtol=1e-12)
    assert same_bits(last.means[0], mu)


def test_everything_pinned_stays_at_the_start() -> None:
    snaps = run("full", FixedParams(weights=(0, 1, 2), means=(0, 1, 2), covariances=(0, 1, 2)), max_iter=3)
    assert snaps[1].mean_log_likelihood == snaps[0].mean_log_likelihood
    for s in snaps[1:]:
        first = (snaps[0].weights, snaps[0].means, snaps[0].covariances)
        assert all(same_bits(a, b) for a, b in zip((s.weights, s.means, s.covariances), first, strict=True))


def test_a_pinned_component_that_empties_is_reported_not_reseeded() -> None:
    means = MEANS.copy()
    means[2] = [40.0, 40.0]  # far from every point: it loses them all at once
    snaps = run("full", FixedParams(means=(2,)), start(means=means), empty_policy="reseed", max_iter=5, reg_covar=1e-6)
    last = snaps[-1]
    assert same_bits(last.means[2], means[2] * SCALE + SHIFT)
    assert 2 in last.empty and 2 not in last.reseeded
    assert "component 2 has lost all its points" in last.warnings


def test_every_weight_but_one_pins_that_one_too() -> None:
    cfg = FitConfig(n_components=3, init_params=start(), fixed=FixedParams(weights=(0, 2))).resolved()
    assert cfg.fixed.weights == (0, 1, 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"init_params": None}, "--fix pins values of the start"),
        ({"fixed": FixedParams(means=(3,))}, "component 3 is out of range"),
        ({"algorithm": "marginal"}, "--fix needs exact EM"),
        ({"restarts": 2}, "use --restarts 1"),
        ({"covariance_type": "EEE", "fixed": FixedParams(covariances=(0,))}, "pin every component's or none"),
        ({"covariance_type": "spherical", "fixed": FixedParams(covariances=(0, 1, 2))}, "is not of the VII form"),
        ({"init_params": start(weights=np.array([0.5, 0.3, 0.4]))}, "weights sum to 1.2"),
    ],
)
def test_pins_the_fit_cannot_keep_are_refused(change: dict, message: str) -> None:
    settings = {"n_components": 3, "init_params": start(), "fixed": FixedParams(means=(0,), weights=(1,))} | change
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        FitConfig(**settings).resolved()


def test_the_export_says_what_was_pinned_and_counts_the_free_parameters() -> None:
    fixed = FixedParams(weights=(1,), means=(0, 2), covariances=(0,))
    last = run("full", fixed)[-1]
    meta = params_from_snapshot(last).meta
    assert meta["fixed"] == {"weights": [1], "means": [0, 2], "covariances": [0]}
    # 3 components in 2-D, full: 2 free weights less the pinned one (1), 1 free mean (2), 2 free covariances (6)
    assert free_parameters(last.config, 3, 2) == 1 + 2 + 6
    assert meta["bic"] == pytest.approx(-2.0 * last.log_likelihood + 9 * np.log(600), rel=1e-15)
    assert json.dumps(meta["fixed"])  # JSON-ready


def test_a_session_keeps_the_pins() -> None:
    cfg = FitConfig(n_components=3, init_params=start(), fixed=FixedParams(means=(0, 2)))
    assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg


def test_a_free_component_reseeded_beside_pinned_weights_leaves_them_as_they_are() -> None:
    means = MEANS.copy()
    means[2] = [40.0, 40.0]  # far from every point: it loses them all and is re-seeded
    snaps = run("full", FixedParams(weights=(0,), means=(1,)), start(means=means), empty_policy="reseed", max_iter=1)
    moved = snaps[1]
    assert moved.reseeded == (2,)
    assert same_bits(moved.weights[0], WEIGHTS[0])
    # the re-seeded component takes an equal share of what the pinned weight leaves (the free components' 1/2 of it)
    assert moved.weights[2] == pytest.approx((1.0 - WEIGHTS[0]) / 2, rel=1e-15)
    assert moved.weights.sum() == pytest.approx(1.0, rel=1e-15)
