"""Evaluate fitted parameters on points: per-point log-likelihoods, responsibilities and labels."""

from __future__ import annotations

import numpy as np
import torch

from . import gaussian
from .scaling import Scaling

PREDICT_ELEMENTS = 2**21  # features per chunk (16 MiB in float64)


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
    # features per chunk of points: at D = 64 a whole (N, P) feature array would be 2145 numbers per point
    rows = max(256, PREDICT_ELEMENTS // gaussian.n_features(x.shape[1]))
    out = np.empty((len(x), len(weights)))
    for lo in range(0, len(x), rows):
        out[lo : lo + rows] = (gaussian.quadratic_features(xs[lo : lo + rows]) @ coef[0].T).numpy()
    return out - scaling.log_det


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
