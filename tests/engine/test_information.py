"""The observed information by Louis's method (issue 25). References are independent: minus the Hessian of the
observed-data log-likelihood by torch autograd (torch.distributions, in the same parametrisation), the closed forms
at K = 1 (the mean's SE = sd / sqrt(n), a variance's = sqrt(2 / n) sigma^2, both with the MLE's divisor n), the
bootstrap's standard errors, and the information of the repeated rows that integer weights stand for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import FitConfig, run_to_end
from engine.errors import UserError
from engine.selection.bootstrap import bootstrap
from engine.selection.information import information, observed_information


def _mixture(n: int, seed: int) -> np.ndarray:
    """n points of three overlapping 2-D Gaussians (they overlap, so that Var[S | x] matters)."""
    rng = np.random.default_rng(seed)
    sizes = rng.multinomial(n, [0.5, 0.3, 0.2])
    centres = np.array([[0.0, 0.0], [2.5, 1.0], [-1.5, 2.5]])
    scale = np.array([[[1.0, 0.3], [0.3, 0.8]], [[0.6, -0.2], [-0.2, 0.9]], [[1.2, 0.0], [0.0, 0.5]]])
    parts = [rng.multivariate_normal(centres[k], scale[k], size=sizes[k]) for k in range(3)]
    return np.concatenate(parts)


def _fit(x: np.ndarray, k: int, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cfg = FitConfig(n_components=k, covariance_type="full", reg_covar=0.0, tol=1e-10, max_iter=5000, seed=3)
    snap = run_to_end(x, cfg, weights=weights)
    return snap.weights, snap.means, snap.covariances


def _autograd_information(x: np.ndarray, fitted: tuple[np.ndarray, ...]) -> np.ndarray:
    """Minus the Hessian (P, P) of sum_i log sum_k w_k N(x_i | mu_k, S_k), theta = (w_1 .. w_{K-1}, means, upper
    triangles), by torch autograd."""
    w, m, c = fitted
    k, d = m.shape
    rows, cols = np.triu_indices(d)
    pts = torch.as_tensor(x)

    def log_lik(theta: torch.Tensor) -> torch.Tensor:
        weights = torch.cat([theta[: k - 1], 1 - theta[: k - 1].sum(dim=0, keepdim=True)])
        means = theta[k - 1 : k - 1 + k * d].reshape(k, d)
        tri = theta[k - 1 + k * d :].reshape(k, -1)
        cov = torch.zeros(k, d, d, dtype=theta.dtype)
        cov[:, rows, cols] = tri
        cov[:, cols, rows] = tri
        lp = torch.distributions.MultivariateNormal(means, covariance_matrix=cov).log_prob(pts[:, None, :])
        return torch.logsumexp(lp + torch.log(weights), dim=1).sum()

    theta = torch.as_tensor(np.concatenate([w[:-1], m.ravel(), c[:, rows, cols].ravel()]))
    return -torch.autograd.functional.hessian(log_lik, theta).numpy()


def test_louis_equals_minus_the_hessian_of_the_log_likelihood_by_autograd() -> None:
    """At the MLE (K = 3, D = 2, 600 points, overlapping): Louis's information equals autograd's -Hessian to
    rounding (measured: 3e-15 of its largest entry; the identity is exact at any theta, so a non-MLE point too)."""
    x = _mixture(600, 0)
    fitted = _fit(x, 3)
    for point in (fitted, (fitted[0], fitted[1] + 0.3, fitted[2] * 1.2)):
        ours = observed_information(x, point)
        ref = _autograd_information(x, point)
        assert ours.shape == (2 + 6 + 9, 17)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-11 * np.abs(ref).max())


def test_one_component_gives_the_closed_forms() -> None:
    """K = 1: SE(mean) = sd / sqrt(n) and SE(variance) = sqrt(2 / n) sigma^2 with the MLE's sd (divisor n); the
    weight's SE is 0 (it is fixed at 1). Asserted to rtol 1e-12."""
    rng = np.random.default_rng(5)
    x = rng.multivariate_normal([1.0, -2.0, 0.5], [[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.7]], size=400)
    n = x.shape[0]
    mean, cov = x.mean(axis=0), np.cov(x.T, bias=True)
    se = information(x, (np.ones(1), mean[None], cov[None])).standard_errors()
    np.testing.assert_allclose(se["means"][0], np.sqrt(np.diag(cov) / n), rtol=1e-12)
    np.testing.assert_allclose(np.diag(se["covariances"][0]), np.sqrt(2.0 / n) * np.diag(cov), rtol=1e-12)
    off = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)  # Var(s_ab) = (s_aa s_bb + s_ab^2) / n
    np.testing.assert_allclose(se["covariances"][0], off, rtol=1e-12)
    assert se["weights"][0] == 0.0


def test_agrees_with_the_bootstrap_on_separated_clusters() -> None:
    """N = 2000, K = 2, D = 2, well separated: every SE within 20% of the nonparametric bootstrap's (B = 500)
    (measured: ratios 0.93 to 1.05, the widest a covariance entry's)."""
    rng = np.random.default_rng(11)
    x = np.concatenate(
        [
            rng.multivariate_normal([0.0, 0.0], [[1.0, 0.4], [0.4, 1.0]], size=1200),
            rng.multivariate_normal([6.0, 4.0], [[0.5, -0.1], [-0.1, 0.8]], size=800),
        ]
    )
    fitted = _fit(x, 2)
    louis = information(x, fitted).standard_errors()
    cfg = FitConfig(n_components=2, covariance_type="full", reg_covar=0.0, tol=1e-8, max_iter=1000)
    boot = bootstrap(x, fitted, cfg, 500, seed=1).standard_errors()
    for name in ("weights", "means", "covariances"):
        ratio = louis[name] / boot[name]
        assert np.all(np.abs(ratio - 1.0) < 0.20), (name, ratio)


def test_integer_weights_give_the_repeated_rows_information() -> None:
    """Frequency weights 1..3 on 300 points: the information of the rows repeated that many times (measured: 6e-16
    of its largest entry)."""
    x = _mixture(300, 2)
    counts = np.random.default_rng(4).integers(1, 4, size=x.shape[0])
    fitted = _fit(x, 3, weights=counts.astype(float))
    weighted = observed_information(x, fitted, counts.astype(float))
    repeated = observed_information(np.repeat(x, counts, axis=0), fitted)
    np.testing.assert_allclose(weighted, repeated, rtol=0, atol=1e-12 * np.abs(repeated).max())


def test_refuses_other_covariance_types_and_a_singular_information() -> None:
    x = _mixture(200, 1)
    fitted = _fit(x, 2)
    with pytest.raises(UserError, match="knows mclust's fourteen models, not 'bogus': use --bootstrap"):
        information(x, fitted, covariance_type="bogus")
    # a component far from every point: no information on its mean or covariance
    w, m, c = fitted
    far = (np.array([0.5, 0.5]), np.stack([m[0], m[1] + 1e6]), c)
    with pytest.raises(UserError, match="singular"):
        information(x, far)
