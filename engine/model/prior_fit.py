"""The log-likelihood and BIC that mclust reports for a fit with a prior (mclust 6's me and mclustBIC).

mclust's `loglik` with a prior is the plain log-likelihood of the data at the MAP parameters, sum_n log sum_k
w_k N(x_n | mu_k, Sigma_k), without the log prior density (its me*p routines return the E-step's sum; checked:
estep() at me()'s parameters gives the same number to 1e-12). Its BIC is then the usual 2 loglik - p log N with
p = nMclustParams (the prior adds no parameters). Our sign is scikit-learn's, lower is better: prior_bic = -(mclust's
BIC). Shapes: R restarts, N points, K components, D dimensions.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _log_joint(x: Tensor, weights: Tensor, means: Tensor, covariances: Tensor) -> Tensor:
    """(R, K, N) log w_k + log N(x_n | mu_k, Sigma_k) for x (N, D), weights (R, K), means (R, K, D) and
    covariances (R, K, D, D), by Cholesky solves (a reference, not the engine's one-GEMM hot path)."""
    chol = torch.linalg.cholesky(covariances)  # (R, K, D, D)
    dev = (x[None, None] - means[..., None, :]).transpose(-1, -2)  # (R, K, D, N)
    white = torch.linalg.solve_triangular(chol, dev, upper=False)
    half_log_det = chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)  # (R, K)
    constant = 0.5 * x.shape[-1] * math.log(2 * math.pi)
    return weights.log()[..., None] - 0.5 * white.square().sum(-2) - half_log_det[..., None] - constant


def mixture_log_likelihood(x: Tensor, weights: Tensor, means: Tensor, covariances: Tensor) -> Tensor:
    """(R,) sum_n log sum_k w_k N(x_n | mu_k, Sigma_k): the plain log-likelihood, no log prior (shapes as
    _log_joint)."""
    return torch.logsumexp(_log_joint(x, weights, means, covariances), dim=-2).sum(-1)


def log_responsibilities(x: Tensor, weights: Tensor, means: Tensor, covariances: Tensor) -> Tensor:
    """(R, N, K) log r_nk: the E-step of the same density (a reference E-step for MAP EM)."""
    log_joint = _log_joint(x, weights, means, covariances).transpose(-1, -2)
    return log_joint - torch.logsumexp(log_joint, dim=-1, keepdim=True)


def prior_bic(log_likelihood: float, n_samples: int, n_parameters: int) -> float:
    """BIC of a fit with a prior as mclust reports it, with our sign (lower is better): -2 loglik + p log N, where
    loglik is the plain log-likelihood at the MAP parameters and p the model's free parameters (nMclustParams)."""
    return -2.0 * log_likelihood + n_parameters * math.log(n_samples)
