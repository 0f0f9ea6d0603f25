"""Evaluate fitted parameters on points: per-point log-likelihoods, responsibilities and labels."""

from __future__ import annotations

import numpy as np
import torch

from . import gaussian
from .scaling import Scaling


def log_joint(points: np.ndarray, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """log w_k + log N(x_n | mu_k, Sigma_k) (N, K) for points (N, D), in float64.

    Evaluated in standardised units (exact, and free of the cancellation far from the origin).
    """
    x = np.asarray(points, dtype=np.float64)
    scaling = Scaling.fit(x)
    xs = torch.as_tensor(scaling.data_to_std(x))
    m = scaling.means_to_std(torch.as_tensor(means, dtype=torch.float64))
    c = scaling.cov_to_std(torch.as_tensor(covariances, dtype=torch.float64))
    chol = torch.linalg.cholesky(c)
    coef = gaussian.log_joint_coefficients(
        torch.log(torch.as_tensor(weights, dtype=torch.float64))[None], m[None], chol[None]
    )
    return (gaussian.quadratic_features(xs) @ coef[0].T).numpy() - scaling.log_det


def responsibilities(points: np.ndarray, weights, means, covariances) -> np.ndarray:
    """Posterior probability of each component for each point (N, K); rows sum to 1."""
    lj = log_joint(points, weights, means, covariances)
    lj -= lj.max(axis=1, keepdims=True)
    p = np.exp(lj)
    return p / p.sum(axis=1, keepdims=True)


def point_log_likelihood(points: np.ndarray, weights, means, covariances) -> np.ndarray:
    """log p(x_n) under the mixture (N,)."""
    lj = log_joint(points, weights, means, covariances)
    top = lj.max(axis=1)
    return top + np.log(np.exp(lj - top[:, None]).sum(axis=1))
