"""The observed information with missing values (issue 25: `fit --missing em --information`). The reference is
independent of the engine's autograd route: the observed-data log-likelihood written here in NumPy (each row's density
of its observed coordinates), its Hessian by central differences in the plain parametrisation (the weights
w_1 .. w_{K-1}, the means, the covariances' free entries), inverted, the last weight's variance 1^T V 1. At the
maximum the standard errors do not depend on the parametrisation (the delta method), so the two must agree."""

from __future__ import annotations

import numpy as np
import pytest
from data_sets import missing_clusters

from engine import FitConfig, run_to_end
from engine.selection.information import information

# measured: in float64 the reference's own error dominated (the differences' rounding, amplified by the inverse: up
# to 1.3e-2 relative at steps of 1e-5, 1.4e-4 at 1e-4, 1.3e-3 at 1e-3 from truncation), hence long double; with it,
# steps of 1e-4 of each parameter's scale, the two routes agree to 3.6e-6 (VVV) and 3.1e-8 (VVI), K = 2, D = 3, the
# fit's gradient 1.3e-7 (steps of 1e-5: 3.8e-6; 1e-6: 3.1e-4; the fit stopped at tol 1e-10 instead: 3.7e-6). A pattern
# taken wrong moves them by percents
STEP = 1e-4
RTOL = 5e-5


def _fitted(x: np.ndarray, covariance_type: str) -> tuple[np.ndarray, ...]:
    """The maximum of the observed-data likelihood (no regularisation; EM stops within 1e-14 per point of it)."""
    cfg = FitConfig(n_components=2, covariance_type=covariance_type, reg_covar=0.0, tol=1e-14, max_iter=3000, seed=0)
    last = run_to_end(x, cfg, missing="em")
    return last.weights, last.means, last.covariances


def _cholesky(a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors (..., q, q) of small matrices, in their own dtype (long double: np.linalg has none)."""
    q = a.shape[-1]
    low = np.zeros_like(a)
    for i in range(q):
        for j in range(i + 1):
            rest = a[..., i, j] - (low[..., i, :j] * low[..., j, :j]).sum(-1)
            low[..., i, j] = np.sqrt(rest) if i == j else rest / low[..., j, j]
    return low


def _observed_ll(x: np.ndarray, w: np.ndarray, m: np.ndarray, c: np.ndarray) -> np.ndarray:
    """sum_i log sum_k w_k N(x_i,o | mu_k,o, Sigma_k,oo) (T,) of T parameter sets (T, K), (T, K, D), (T, K, D, D),
    a pattern at a time, in long double (the differences below divide its rounding by the step squared)."""
    x, w, m, c = (np.asarray(a, dtype=np.longdouble) for a in (x, w, m, c))
    seen = ~np.isnan(x)
    total = np.zeros(w.shape[0], dtype=np.longdouble)
    for pattern in np.unique(seen, axis=0):
        rows = x[(seen == pattern).all(1)][:, pattern]  # (n, q)
        chol = _cholesky(c[:, :, pattern][:, :, :, pattern])  # (T, K, q, q)
        z = rows[None, None] - m[:, :, None, pattern]  # (T, K, n, q), solved by forward substitution
        for i in range(z.shape[-1]):
            z[..., i] = (z[..., i] - (chol[:, :, None, i, :i] * z[..., :i]).sum(-1)) / chol[:, :, None, i, i]
        log_det = 2 * np.log(np.diagonal(chol, axis1=2, axis2=3)).sum(-1)  # (T, K)
        log_p = np.log(w)[..., None] - ((z * z).sum(-1) + (log_det + pattern.sum() * np.log(2 * np.pi))[..., None]) / 2
        top = log_p.max(axis=1, keepdims=True)
        total += (top[:, 0] + np.log(np.exp(log_p - top).sum(1))).sum(-1)
    return total


def _unpacked(theta: np.ndarray, k: int, d: int, diagonal: bool) -> tuple[np.ndarray, ...]:
    """weights (T, K), means (T, K, D), covariances (T, K, D, D) of the plain thetas (T, P)."""
    t = theta.shape[0]
    w = np.concatenate([theta[:, : k - 1], 1 - theta[:, : k - 1].sum(1, keepdims=True)], axis=1)
    m = theta[:, k - 1 : k - 1 + k * d].reshape(t, k, d)
    rest = theta[:, k - 1 + k * d :].reshape(t, k, -1)
    c = np.zeros((t, k, d, d))
    if diagonal:
        c[:, :, np.arange(d), np.arange(d)] = rest
    else:
        rows, cols = np.triu_indices(d)
        c[:, :, rows, cols] = rest
        c[:, :, cols, rows] = rest
    return w, m, c


def _reference_se(x: np.ndarray, fitted: tuple[np.ndarray, ...], diagonal: bool) -> tuple[np.ndarray, ...]:
    """Standard errors of the weights (K,), means (K, D) and variances (K, D) by the differences' Hessian."""
    w, m, c = fitted
    k, d = m.shape
    rows, cols = np.triu_indices(d)
    free = np.diagonal(c, axis1=1, axis2=2) if diagonal else c[:, rows, cols]
    theta = np.concatenate([w[:-1], m.ravel(), free.ravel()])
    h = STEP * np.maximum(np.abs(theta), 1e-2)
    p = theta.size
    pairs = [(i, j) for i in range(p) for j in range(i, p)]
    steps = np.zeros((len(pairs), 4, p))  # the four corners (+-h_i, +-h_j) of each pair's difference
    for n, (i, j) in enumerate(pairs):
        steps[n, :, i] += np.array([1, 1, -1, -1]) * h[i]
        steps[n, :, j] += np.array([1, -1, 1, -1]) * h[j]
    values = _observed_ll(x, *_unpacked(theta + steps.reshape(-1, p), k, d, diagonal)).reshape(-1, 4)
    hess = np.zeros((p, p))  # float64: the differences' quotient is well inside it
    for n, (i, j) in enumerate(pairs):
        hess[i, j] = hess[j, i] = (values[n, 0] - values[n, 1] - values[n, 2] + values[n, 3]) / (4 * h[i] * h[j])
    cov = np.linalg.inv(-hess)
    se_w = np.sqrt(np.append(np.diag(cov)[: k - 1], cov[: k - 1, : k - 1].sum()))
    se_m = np.sqrt(np.diag(cov)[k - 1 : k - 1 + k * d]).reshape(k, d)
    var = np.sqrt(np.diag(cov)[k - 1 + k * d :]).reshape(k, -1)
    diagonal_at = np.arange(d) if diagonal else np.flatnonzero(rows == cols)
    return se_w, se_m, var[:, diagonal_at]


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_information_with_missing_values_is_the_observed_data_hessian(covariance_type: str) -> None:
    x = missing_clusters(160, 3, 0.2, seed=4)  # 20% of the cells missing, 7 patterns
    fitted = _fitted(x, covariance_type)
    got = information(x, fitted, covariance_type)
    se_w, se_m, se_var = _reference_se(x, fitted, covariance_type == "diag")
    assert got.method == "autograd_missing"
    np.testing.assert_allclose(got.weights, se_w, rtol=RTOL)
    np.testing.assert_allclose(got.means, se_m, rtol=RTOL)
    np.testing.assert_allclose(np.diagonal(got.covariances, axis1=1, axis2=2), se_var, rtol=RTOL)
