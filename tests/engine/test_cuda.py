"""The engine on a CUDA GPU agrees with the same engine on the CPU (skipped where torch sees no GPU).

The CPU results are themselves checked against scikit-learn (test_em_vs_sklearn.py); these tests carry
that check over to the GPU. Tolerances: float64 on the GPU differs from the CPU only by the order of
summation (measured below 1e-12 relative on the device machine); float32 by its rounding.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from data_sets import blobs
from devices import needs_cuda

from engine import COVARIANCE_TYPES, FitConfig, fit, run_to_end
from engine.io.export import MixtureParams

pytestmark = needs_cuda


def _trace(x: np.ndarray, cfg: FitConfig) -> tuple[np.ndarray, object]:
    lls, last = [], None
    for last in fit(x, cfg):
        lls.append(last.mean_log_likelihood)
    return np.array(lls), last


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_em_float64_on_cuda_follows_the_cpu_iteration_by_iteration(cov_type: str) -> None:
    x = blobs(3, 3000)
    cfg = FitConfig(n_components=3, covariance_type=cov_type, seed=0, restarts=4, max_iter=40, tol=0.0)
    ll_cpu, cpu = _trace(x, cfg)
    ll_gpu, gpu = _trace(x, dataclasses.replace(cfg, device="cuda"))
    np.testing.assert_allclose(ll_gpu, ll_cpu, rtol=1e-10)
    # restart by restart (two restarts that reach one optimum tie: the shown one may differ)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(getattr(gpu.restarts, name), getattr(cpu.restarts, name), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(("d", "cov_type"), [(10, "full"), (30, "full"), (30, "tied")])
def test_em_in_d_dimensions_on_cuda_follows_the_cpu(d: int, cov_type: str) -> None:
    """D = 10 takes the features made per chunk (points last), D = 30 the whitened distances (torch's products on
    the GPU, NumPy's BLAS on the CPU): the same fit to rounding (measured 4e-16 relative in the log-likelihood and
    7e-14 in the covariances on an H200)."""
    rng = np.random.default_rng(d)
    x = rng.normal(0.0, 3.0, (4, d))[rng.integers(0, 4, 20_000)] + rng.normal(size=(20_000, d))
    start = run_to_end(x, FitConfig(n_components=4, max_iter=0, seed=0))
    init = MixtureParams(start.weights, start.means, start.covariances).as_init()
    cfg = FitConfig(n_components=4, covariance_type=cov_type, init_params=init, max_iter=15, tol=0.0)
    ll_cpu, cpu = _trace(x, cfg)
    ll_gpu, gpu = _trace(x, dataclasses.replace(cfg, device="cuda"))
    np.testing.assert_allclose(ll_gpu, ll_cpu, rtol=1e-12)
    np.testing.assert_allclose(gpu.means, cpu.means, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gpu.covariances, cpu.covariances, rtol=1e-9, atol=1e-9)


def test_em_float32_on_cuda_is_close_to_float64() -> None:
    x = blobs(4, 3000)
    cfg = FitConfig(n_components=3, seed=0, max_iter=30, tol=0.0)
    ll_cpu, _ = _trace(x, cfg)
    ll_gpu, _ = _trace(x, FitConfig(n_components=3, seed=0, max_iter=30, tol=0.0, device="cuda", dtype="float32"))
    np.testing.assert_allclose(ll_gpu, ll_cpu, rtol=1e-5)


def test_batched_restarts_on_cuda_pick_the_same_best_restart() -> None:
    x = blobs(5, 1000)
    cfg = dict(n_components=3, seed=0, restarts=50, tol=1e-8)
    cpu, gpu = run_to_end(x, FitConfig(**cfg)), run_to_end(x, FitConfig(**cfg, device="cuda"))
    assert gpu.restart == cpu.restart
    assert gpu.mean_log_likelihood == pytest.approx(cpu.mean_log_likelihood, rel=1e-10)
    # a restart whose last change sits at tol may stop one iteration apart
    assert np.abs(gpu.restarts.n_iter - cpu.restarts.n_iter).max() <= 1


def test_marginal_on_cuda_follows_the_cpu() -> None:
    # Adam is deterministic: the GPU's run differs from the CPU's only by summation order
    x = blobs(6, 1000)
    cfg = dict(n_components=3, algorithm="marginal", seed=0, max_iter=100, tol=0.0)
    ll_cpu, _ = _trace(x, FitConfig(**cfg))
    ll_gpu, _ = _trace(x, FitConfig(**cfg, device="cuda"))
    np.testing.assert_allclose(ll_gpu, ll_cpu, rtol=1e-9)


def test_gradient_em_on_cuda_is_reproducible_and_improves() -> None:
    # z is drawn on the GPU from the fit's own generator: the same seed gives the same run
    x = blobs(7, 1000)
    cfg = FitConfig(n_components=3, algorithm="gradient-em", seed=3, restarts=4, max_iter=200, device="cuda")
    first, second = _trace(x, cfg), _trace(x, cfg)
    np.testing.assert_array_equal(first[0], second[0])
    assert first[0][-1] > first[0][0]
