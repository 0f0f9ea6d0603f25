"""The checks that a bootstrap replicate ends where its lone fit ends, shared by the bootstrap tests: its parameters
against the lone fit's (the missing-values tests: nonparametric and weighted replicates of the data, parametric
replicates of simulated points), and the total log-likelihood both are measured by."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal


def assert_replicate_is_alone(boot, b: int, alone) -> None:
    """Replicate b of boot (weights (B, K), means (B, K, D), covariances (B, K, D, D)) equals the lone fit alone (a
    snapshot), its components matched by their second mean coordinate, to 1e-6 of each array's largest entry."""
    order = [int(np.argmin(np.abs(alone.means[:, 1] - m))) for m in boot.means[b, :, 1]]
    for got, want in zip(
        (boot.weights[b], boot.means[b], boot.covariances[b]),
        (alone.weights, alone.means, alone.covariances),
        strict=True,
    ):
        assert np.abs(got - want[order]).max() <= 1e-6 * np.abs(want).max()


def total_ll(x: np.ndarray, weights: np.ndarray, params) -> float:
    """sum_n w_n log sum_k pi_k N(x_n | mu_k, Sigma_k) by SciPy: points x (N, D), frequency weights (N,), params =
    (weights (K,), means (K, D), covariances (K, D, D))."""
    w, m, c = params
    parts = [np.log(w[k]) + multivariate_normal(m[k], c[k]).logpdf(x) for k in range(len(w))]
    return float(weights @ logsumexp(np.stack(parts, axis=1), axis=1))
