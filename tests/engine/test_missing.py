"""Missing values (issue 25): exact EM for data missing at random. The references are independent: the textbook EM
for one multivariate normal with missing values (Little & Rubin, ch. 11), written here row by row in NumPy, and SciPy's
densities of the observed coordinates under the exported mixture."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from data_sets import missing_clusters
from devices import needs_cuda
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from engine import COVARIANCE_TYPES, FitConfig, InitParams, run_to_end
from engine.errors import DataError, UserError
from engine.inference import missing as missing_module
from engine.inference.fitting import fit
from engine.model import gaussian as gaussian_module
from engine.model.conditional import impute, pattern_runs, patterns_of
from engine.model.gaussian import use_whitened
from engine.model.scaling import Scaling

# measured: the K = 1 fit and the textbook iteration differ by at most 2e-15 in the means and covariances after
# 25 iterations (the fit works in standardised units, the textbook in data units), and the K = 3 log-likelihoods
# SciPy's by 5.7e-16 relative (full, diag, VEV); over data seeds 0-5, 7.1e-15 and 1.6e-15; 1e-10 leaves room
TOL = 1e-10


def _data(n: int = 240, d: int = 3, share: float = 0.2, seed: int = 0) -> np.ndarray:
    """missing_clusters (n, d), at this module's default size."""
    return missing_clusters(n, d, share, seed)


def _textbook(x: np.ndarray, mean: np.ndarray, cov: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """EM for one normal with missing values, one row at a time: complete each row by its conditional mean, add the
    conditional covariance to its outer product, and take the means."""
    n, d = x.shape
    for _ in range(steps):
        filled, extra = x.copy(), np.zeros((d, d))
        for i in range(n):
            m = np.isnan(x[i])
            if not m.any():
                continue
            o = ~m
            gain = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, m)]).T  # S_mo S_oo^-1
            filled[i, m] = mean[m] + gain @ (x[i, o] - mean[o])
            extra[np.ix_(m, m)] += cov[np.ix_(m, m)] - gain @ cov[np.ix_(o, m)]
        mean = filled.mean(0)
        dev = filled - mean
        cov = (dev.T @ dev + extra) / n
    return mean, cov


def _observed_ll(x: np.ndarray, weights: np.ndarray, means: np.ndarray, cov: np.ndarray) -> float:
    """SciPy's observed-data log-likelihood: sum_n logsumexp_k log w_k + log N(x_o | mu_k,o, S_k,oo)."""
    total = 0.0
    for row in x:
        o = ~np.isnan(row)
        terms = [
            np.log(weights[k]) + multivariate_normal(means[k][o], cov[k][np.ix_(o, o)]).logpdf(row[o])
            for k in range(len(weights))
        ]
        total += logsumexp(terms)
    return total


def test_one_component_is_the_textbook_em():
    x = _data(n=120, share=0.3, seed=1)
    mean0, cov0 = np.nanmean(x, 0) + 0.3, np.diag(np.nanvar(x, 0)) * 1.5
    init = InitParams.from_arrays([1.0], [mean0], [cov0])
    cfg = FitConfig(n_components=1, init="params", init_params=init, reg_covar=0.0, tol=0.0, max_iter=25)
    last = run_to_end(x, cfg, missing="em")
    mean, cov = _textbook(x, mean0, cov0, 25)
    assert last.iteration == 25
    np.testing.assert_allclose(last.means[0], mean, rtol=0, atol=TOL)
    np.testing.assert_allclose(last.covariances[0], cov, rtol=0, atol=TOL)
    assert last.n_samples == len(x)  # n of BIC: the rows


@pytest.mark.parametrize("covariance_type", ["full", "diag", "VEV"])
def test_reported_log_likelihood_is_scipys_observed_data_one(covariance_type):
    x = _data(seed=2)
    cfg = FitConfig(n_components=3, covariance_type=covariance_type, seed=3, restarts=2, max_iter=40)
    last = run_to_end(x, cfg, missing="em")
    expected = _observed_ll(x, last.weights, last.means, last.covariances)
    assert last.mean_log_likelihood * len(x) == pytest.approx(expected, rel=1e-10, abs=0)
    resp, filled, log_p = impute(x, last.weights, last.means, last.covariances)
    assert log_p.sum() == pytest.approx(expected, rel=1e-10, abs=0)
    assert np.array_equal(np.isnan(filled), np.zeros_like(filled, dtype=bool))
    assert np.array_equal(filled[~np.isnan(x)], x[~np.isnan(x)])  # observed values kept as they are
    np.testing.assert_allclose(resp.sum(1), 1.0, rtol=0, atol=1e-12)


def test_imputed_value_is_the_mixture_conditional_mean():
    """One point, one missing coordinate, two components: E[x_2 | x_1] by hand."""
    w, means = np.array([0.3, 0.7]), np.array([[0.0, 1.0], [2.0, -1.0]])
    cov = np.array([[[1.0, 0.5], [0.5, 2.0]], [[2.0, -0.4], [-0.4, 1.0]]])
    x = np.array([[1.5, np.nan]])
    resp, filled, _ = impute(x, w, means, cov)
    dens = np.array([w[k] * multivariate_normal(means[k][0], cov[k][0, 0]).pdf(1.5) for k in range(2)])
    r = dens / dens.sum()
    cond = [means[k][1] + cov[k][1, 0] / cov[k][0, 0] * (1.5 - means[k][0]) for k in range(2)]
    np.testing.assert_allclose(resp[0], r, rtol=1e-13)
    assert filled[0, 1] == pytest.approx(r @ cond, rel=1e-13)


# derandomize: the same examples every run
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 4),
    covariance_type=st.sampled_from(tuple(COVARIANCE_TYPES)),
    d=st.integers(2, 4),
    share=st.floats(0.05, 0.4),
)
def test_em_is_monotone(seed: int, k: int, covariance_type: str, d: int, share: float) -> None:
    """The observed-data log-likelihood never falls (reg_covar 0: its floor is not part of the likelihood; empty
    components reported, not re-seeded: a re-seed is a jump EM's guarantee does not cover). Left out: draws where a
    component's covariance nears singular (condition number over 1e10, as a start of 3 points in 3-D without
    reg_covar makes), whose log-likelihood is rounding noise (seen: 1e-2 per point), or stops the fit; and draws where
    a component collapses onto a point (a variance under 1e-10 of the data's: seen, seed 130, diag, one point with
    variances 1.6e-14, the cancellation noise of x^2 - mean^2, moving the log-likelihood by 4e-4 per point either
    way: there the likelihood is unbounded and EM's guarantee says nothing)."""
    x = _data(n=150, d=d, share=share, seed=seed)
    cfg = FitConfig(
        n_components=k,
        covariance_type=covariance_type,
        seed=seed,
        restarts=2,
        reg_covar=0.0,
        tol=0.0,
        max_iter=30,
        empty_policy="report",
    )
    lls, scale = [], float(np.nanvar(x, axis=0).max())
    try:
        for snap in fit(x, cfg, missing="em"):
            eig = np.linalg.eigvalsh(snap.restarts.covariances)  # (R, K, D)
            assume(bool(np.all(eig[..., 0] > 1e-10 * eig[..., -1])))
            assume(bool(np.all(eig[..., 0] > 1e-10 * scale)))
            lls.append(snap.restarts.mean_log_likelihood)
    except UserError:  # every restart stopped on a singular covariance
        assume(False)
    assert len(np.unique(np.isnan(x), axis=0)) >= 3  # several patterns
    lls = np.array(lls)  # (iterations, R)
    assert np.all(np.diff(lls, axis=0) >= -1e-12 * np.abs(lls[1:]))


def test_twelve_dimensions_take_the_whitened_e_step_and_stay_exact():
    """From 11 dimensions with few components the E-step works on whitened distances (as the complete fit does), each
    pattern with its padded Cholesky factor (engine/model/patterned.py): the textbook at K = 1 and SciPy's
    observed-data log-likelihood at K = 2 hold there as in 3-D (measured: 2e-15 and 1.2e-15)."""
    assert use_whitened(12, 1) and use_whitened(12, 2)
    x = _data(n=150, d=12, share=0.2, seed=8)
    mean0, cov0 = np.nanmean(x, 0) + 0.3, np.diag(np.nanvar(x, 0)) * 1.5
    init = InitParams.from_arrays([1.0], [mean0], [cov0])
    cfg = FitConfig(n_components=1, init="params", init_params=init, reg_covar=0.0, tol=0.0, max_iter=25)
    last = run_to_end(x, cfg, missing="em")
    mean, cov = _textbook(x, mean0, cov0, 25)
    np.testing.assert_allclose(last.means[0], mean, rtol=0, atol=TOL)
    np.testing.assert_allclose(last.covariances[0], cov, rtol=0, atol=TOL)
    x = _data(n=300, d=12, share=0.15, seed=9)
    last = run_to_end(x, FitConfig(n_components=2, seed=3, max_iter=30), missing="em")
    expected = _observed_ll(x, last.weights, last.means, last.covariances)
    assert last.mean_log_likelihood * len(x) == pytest.approx(expected, rel=1e-10, abs=0)


@pytest.mark.parametrize("d", [5, 70])
def test_patterns_are_numpys_unique_rows(d: int) -> None:
    """The patterns (rows by bit codes up to 62 columns, NumPy's row sort above) are np.unique's rows of the mask,
    in the order of their first row, each with its rows in order."""
    x = np.random.default_rng(d).normal(size=(3000, d))
    x[np.random.default_rng(1).random(x.shape) < 0.3 / d] = np.nan
    missing = np.isnan(x)
    keys, first, inverse = np.unique(missing, axis=0, return_index=True, return_inverse=True)
    found = patterns_of(x, with_complete=True, points=False)
    assert len(found) == len(keys) > 10
    for p, q in zip(found, np.argsort(first), strict=True):
        assert np.array_equal(p.rows.numpy(), np.flatnonzero(inverse.reshape(-1) == q))
        assert np.array_equal(p.mis.numpy(), np.flatnonzero(keys[q]))


@pytest.mark.parametrize("d", [1, 5, 16, 17])
def test_pattern_runs_are_numpys_unique_rows(d: int) -> None:
    """pattern_runs (one uint16 per row sorted by radix up to 16 columns, patterns_of's grouping above): np.unique's
    rows of the mask in the order of their first row, each pattern's rows a run of the order, in their own order."""
    missing = np.random.default_rng(d).random((3000, d)) < 0.4 / d
    keys, first, inverse = np.unique(missing, axis=0, return_index=True, return_inverse=True)
    found, order, starts = pattern_runs(missing)
    assert len(found) == len(keys) > 1 and starts[-1] == len(missing)
    for p, q in enumerate(np.argsort(first)):
        assert np.array_equal(found[p], keys[q])
        assert np.array_equal(order[starts[p] : starts[p + 1]], np.flatnonzero(inverse.reshape(-1) == q))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("scaled", [True, False])
def test_filled_points_are_the_rows_taken_standardised(monkeypatch, dtype: torch.dtype, scaled: bool) -> None:
    """filled_points in the lifted layout (gathered block by block, missing._gather_lifted) holds the rows in
    the given order standardised as Scaling.data_to_std's operations, NaN at 0, in the fit's dtype, bit for bit, over
    several blocks and a short last one."""
    monkeypatch.setattr(missing_module, "GATHER_ROWS", 64)
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, (300, 5))
    x[rng.random(x.shape) < 0.2] = np.nan
    order = rng.permutation(300)
    scaling = Scaling(np.array([1.0, -2.0, 0.5, 3.0, 0.0]), np.array([2.0, 0.7, 3.0, 1.5, 4.0]))
    want = x[order].copy()
    if scaled:
        want -= scaling.center
        want /= scaling.scale
    want = torch.nan_to_num(torch.from_numpy(want).to(dtype), nan=0.0)
    got = missing_module.filled_points(torch.from_numpy(x), order, dtype, scaling if scaled else None)
    assert got.dtype == dtype and torch.equal(got, want)
    assert gaussian_module.lifted_of(got) is not None  # the E-step reads it in the lifted layout


def test_batched_restarts_are_the_lone_fits():
    x = _data(seed=4)
    cfg = FitConfig(n_components=3, seed=5, restarts=3, tol=0.0, max_iter=20)
    batched = run_to_end(x, cfg, missing="em").restarts
    for r, seed in enumerate(batched.seeds):
        lone = run_to_end(x, FitConfig(**{**cfg.__dict__, "seed": int(seed), "restarts": 1}), missing="em")
        np.testing.assert_allclose(batched.means[r], lone.means, rtol=0, atol=1e-10)
        assert batched.mean_log_likelihood[r] == pytest.approx(lone.mean_log_likelihood, rel=1e-12)


def test_restarts_in_memory_batches_are_one_batch():
    x = _data(seed=6)
    cfg = FitConfig(n_components=3, seed=5, restarts=4, tol=0.0, max_iter=10)
    whole = run_to_end(x, cfg, missing="em")
    parts = list(fit(x, cfg, every=False, memory_limit=1, missing="em"))[-1]
    np.testing.assert_allclose(parts.restarts.mean_log_likelihood, whole.restarts.mean_log_likelihood, rtol=1e-12)


def test_complete_data_is_the_usual_fit_bit_for_bit():
    x = np.nan_to_num(_data(seed=7), nan=1.0)
    cfg = FitConfig(n_components=3, seed=1, restarts=2, max_iter=15)
    a, b = run_to_end(x, cfg, missing="em"), run_to_end(x, cfg)
    assert np.array_equal(a.means, b.means) and np.array_equal(a.covariances, b.covariances)
    assert a.mean_log_likelihood == b.mean_log_likelihood


def test_weighted_missing_equals_repeated_rows():
    x = _data(n=90, seed=8)
    w = np.random.default_rng(0).integers(1, 4, len(x)).astype(np.float64)
    start = InitParams.from_arrays(
        [0.3, 0.3, 0.4], [[0.0, 0.0, 0.0], [4.0, 4.0, 4.0], [0.0, 5.0, -3.0]], [np.eye(3) * 2.0] * 3
    )
    cfg = FitConfig(n_components=3, init="params", init_params=start, tol=0.0, max_iter=15)
    weighted = run_to_end(x, cfg, weights=w, missing="em")
    repeated = run_to_end(np.repeat(x, w.astype(int), axis=0), cfg, missing="em")
    np.testing.assert_allclose(weighted.means, repeated.means, rtol=0, atol=1e-10)
    np.testing.assert_allclose(weighted.covariances, repeated.covariances, rtol=0, atol=1e-10)


def test_refusals_are_one_line():
    x = _data(n=60, seed=9)
    with pytest.raises(DataError, match="--missing em"):
        run_to_end(x, FitConfig(n_components=2))
    empty = x.copy()
    empty[5] = np.nan
    with pytest.raises(DataError, match="row 5 has every coordinate missing"):
        run_to_end(empty, FitConfig(n_components=2), missing="em")
    with pytest.raises(UserError, match="exact EM"):
        run_to_end(x, FitConfig(n_components=2, algorithm="gradient-em"), missing="em")
    tiny = x.copy()
    tiny[:, 1] *= 1e-160  # a spread no covariance holds in float64: refused as for complete data
    with pytest.raises(DataError, match="column 1 spreads over"):
        run_to_end(tiny, FitConfig(n_components=2), missing="em")


def test_no_complete_row_starts_from_the_column_means_and_fits():
    """Every row misses one coordinate: the start is drawn from the rows filled at the column means, and the fit's
    log-likelihood is still SciPy's observed-data one at its parameters."""
    x = _data(n=180, share=0.0, seed=11)
    x[np.arange(len(x)), np.arange(len(x)) % 3] = np.nan
    last = run_to_end(x, FitConfig(n_components=2, seed=0, restarts=2, max_iter=500), missing="em")
    assert last.status == "converged"
    expected = _observed_ll(x, last.weights, last.means, last.covariances)
    assert last.mean_log_likelihood * len(x) == pytest.approx(expected, rel=1e-10, abs=0)


def test_float32_follows_float64():
    x = _data(seed=12)
    start = InitParams.from_arrays(
        [0.3, 0.3, 0.4], [[0.0, 0.0, 0.0], [4.0, 4.0, 4.0], [0.0, 5.0, -3.0]], [np.eye(3) * 2.0] * 3
    )
    cfg = FitConfig(n_components=3, init="params", init_params=start, tol=0.0, max_iter=20)
    wide = run_to_end(x, cfg, missing="em")
    narrow = run_to_end(x, FitConfig(**{**cfg.__dict__, "dtype": "float32"}), missing="em")
    # measured: 9e-7 in the means and 1.3e-7 relative in the log-likelihood (float32's rounding through 20
    # iterations); 1e-4 and 1e-6 leave room
    np.testing.assert_allclose(narrow.means, wide.means, rtol=0, atol=1e-4)
    assert narrow.mean_log_likelihood == pytest.approx(wide.mean_log_likelihood, rel=1e-6)


@needs_cuda
def test_a_fit_on_a_gpu_is_the_fit_on_the_cpu():
    """Each pattern's rows live on the data's device (the fused E-step there, the completion on the CPU): the GPU's
    float64 fit is the CPU's to the order of its sums (1e-10, not yet measured on a GPU: this task had none)."""
    x = _data(n=3000, d=4, seed=13)
    cfg = FitConfig(n_components=3, seed=2, restarts=2, tol=0.0, max_iter=15)
    cpu, gpu = run_to_end(x, cfg, missing="em"), run_to_end(x, dataclasses.replace(cfg, device="cuda"), missing="em")
    np.testing.assert_allclose(gpu.means, cpu.means, rtol=0, atol=1e-10)
    np.testing.assert_allclose(gpu.covariances, cpu.covariances, rtol=0, atol=1e-10)
    assert gpu.mean_log_likelihood == pytest.approx(cpu.mean_log_likelihood, rel=1e-12)
