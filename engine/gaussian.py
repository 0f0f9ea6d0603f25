"""Batched Gaussian-mixture algebra for exact EM: one matrix product per E-step and one per M-step.

Shapes: R restarts, N points, K components, D dimensions, P = 1 + D + D(D+1)/2 quadratic features.

The log-joint log w_k + log N(x | mu_k, Sigma_k) is a quadratic polynomial in x, so with the features
F(x) = [1, x_i, x_i x_j (i <= j)] it is F @ W for a (P, K) coefficient matrix W. That keeps the hot path
on one GEMM and off per-point triangular solves (see design.md). The sufficient statistics of the M-step
(N_k, sum r x, sum r x x^T) are likewise resp^T @ F. Both are exact algebra; the only cost is the usual
rounding of raw moments, which internal standardisation (see scaling.py) keeps small.
"""

from __future__ import annotations

import math

import torch

Tensor = torch.Tensor
# scikit-learn adds 10 * eps to every N_k so that an empty component divides by a tiny number, not zero.
NK_EPS_FACTOR = 10.0
# Points per chunk of the fused E-step: (chunk, P) features and (chunk, K) intermediates fit in cache.
CHUNK_ROWS = 32_768


def pair_indices(d: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """Row and column indices (i <= j) of the upper triangle, in the order the features use."""
    iu = torch.triu_indices(d, d, device=device)
    return iu[0], iu[1]


def quadratic_features(x: Tensor) -> Tensor:
    """F(x) (N, P) = [1, x_1..x_D, x_i x_j for i <= j] of points x (N, D)."""
    n, d = x.shape
    i, j = pair_indices(d, x.device)
    return torch.cat([torch.ones(n, 1, dtype=x.dtype, device=x.device), x, x[:, i] * x[:, j]], dim=1)


def cholesky(cov: Tensor) -> tuple[Tensor, Tensor]:
    """Lower Cholesky factors (..., D, D) of cov and a bool mask (...) of the matrices that failed."""
    chol, info = torch.linalg.cholesky_ex(cov)
    return chol, info != 0


def log_joint_coefficients(log_weights: Tensor, means: Tensor, chol: Tensor) -> Tensor:
    """W (R, P, K) such that F @ W = log w_k + log N(x | mu_k, L_k L_k^T) for every point and k.

    log_weights (R, K); means (R, K, D); chol (R, K, D, D) lower Cholesky factors of the covariances.
    """
    d = means.shape[-1]
    eye = torch.eye(d, dtype=chol.dtype, device=chol.device).expand_as(chol)
    chol_inv = torch.linalg.solve_triangular(chol, eye, upper=False)  # (R, K, D, D): D x D solves only
    precision = chol_inv.transpose(-1, -2) @ chol_inv
    b = (precision @ means.unsqueeze(-1)).squeeze(-1)  # (R, K, D) = A mu
    c = (b * means).sum(-1)  # mu^T A mu
    log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    const = log_weights - 0.5 * (c + log_det + d * math.log(2.0 * math.pi))
    i, j = pair_indices(d, means.device)
    quad = torch.where(i == j, -0.5, -1.0).to(precision.dtype) * precision[..., i, j]  # (R, K, P2)
    coef = torch.cat([const.unsqueeze(-1), b, quad], dim=-1)  # (R, K, P)
    return coef.transpose(-1, -2).contiguous()


def e_step_statistics(features: Tensor, coef: Tensor, chunk: int = CHUNK_ROWS) -> tuple[Tensor, Tensor]:
    """The E-step fused with the M-step's statistics, over chunks of points.

    Returns S (R, K, P) = resp^T @ F accumulated in float64, and log p(x_n) (R, N) in the working dtype.
    Working chunk by chunk keeps the (chunk, K) intermediates in cache (about twice as fast at N=1e6) and
    never stores the (R, N, K) responsibilities; the float64 accumulation keeps float32 fits accurate.
    The log-sum-exp is by hand so that one exp pass serves both the responsibilities and log p(x_n).
    """
    n, p = features.shape
    r, _, k = coef.shape
    # all restarts in one GEMM: (chunk, P) @ (P, R*K), viewed as (chunk, R, K)
    flat_coef = coef.permute(1, 0, 2).reshape(p, r * k)
    ones = torch.ones(k, 1, dtype=features.dtype, device=features.device)
    stats = torch.zeros(r * k, p, dtype=torch.float64, device=features.device)
    log_norm = features.new_empty(n, r)
    for lo in range(0, n, chunk):
        block = features[lo : lo + chunk]
        log_joint = (block @ flat_coef).view(-1, r, k)
        top = log_joint.amax(dim=-1, keepdim=True)
        weights = torch.exp(log_joint - top)
        # the sum over K as one 2-D product: torch's reductions over a short last axis are several times slower
        total = (weights.view(-1, k) @ ones).view(-1, r, 1)
        log_norm[lo : lo + chunk] = (top + torch.log(total)).squeeze(-1)
        resp = (weights / total).view(-1, r * k)
        stats += (resp.T @ block).double()
    return stats.view(r, k, p), log_norm.T


def sufficient_statistics(features: Tensor, resp: Tensor) -> Tensor:
    """S (R, K, P) = resp^T @ F: [N_k, sum_n r x, sum_n r x_i x_j]."""
    return resp.transpose(-1, -2) @ features


def symmetric_from_pairs(pairs: Tensor, d: int) -> Tensor:
    """Symmetric (..., D, D) matrices from their upper-triangle entries (..., D(D+1)/2)."""
    i, j = pair_indices(d, pairs.device)
    out = pairs.new_zeros(*pairs.shape[:-1], d, d)
    out[..., i, j] = pairs
    out[..., j, i] = pairs
    return out


def m_step(stats: Tensor, n_samples: int, covariance_type: str, reg: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Closed-form weighted maximum likelihood from S (R, K, P).

    reg (D,) is added to the covariance diagonal (reg_covar, per axis in the working units).
    Returns weights (R, K), means (R, K, D), covariances (R, K, D, D) as full matrices.
    """
    d = reg.shape[0]
    eps = NK_EPS_FACTOR * torch.finfo(stats.dtype).eps
    nk = stats[..., 0] + eps
    means = stats[..., 1 : 1 + d] / nk.unsqueeze(-1)
    second = symmetric_from_pairs(stats[..., 1 + d :], d)  # sum_n r x x^T  (R, K, D, D)
    outer = means.unsqueeze(-1) * means.unsqueeze(-2)
    cov = _COVARIANCE_UPDATES[covariance_type](second, nk, outer)
    cov = cov + torch.diag_embed(reg.to(cov.dtype).expand(cov.shape[:-1]))
    weights = nk / nk.sum(-1, keepdim=True)
    return weights, means, cov


def _full(second: Tensor, nk: Tensor, outer: Tensor) -> Tensor:
    return second / nk[..., None, None] - outer


def _tied(second: Tensor, nk: Tensor, outer: Tensor) -> Tensor:
    shared = (second - nk[..., None, None] * outer).sum(-3) / nk.sum(-1)[..., None, None]
    return shared.unsqueeze(-3).expand_as(second).clone()


def _diag(second: Tensor, nk: Tensor, outer: Tensor) -> Tensor:
    return torch.diag_embed(torch.diagonal(_full(second, nk, outer), dim1=-2, dim2=-1))


def _spherical(second: Tensor, nk: Tensor, outer: Tensor) -> Tensor:
    var = torch.diagonal(_full(second, nk, outer), dim1=-2, dim2=-1).mean(-1)
    d = second.shape[-1]
    return var[..., None, None] * torch.eye(d, dtype=second.dtype, device=second.device)


_COVARIANCE_UPDATES = {"full": _full, "tied": _tied, "diag": _diag, "spherical": _spherical}


def project_covariances(cov: Tensor, covariance_type: str, weights: Tensor | None = None) -> Tensor:
    """Project full covariances (..., K, D, D) onto a covariance type (tied: weighted average)."""
    if covariance_type == "full":
        return cov
    if covariance_type == "diag":
        return torch.diag_embed(torch.diagonal(cov, dim1=-2, dim2=-1))
    if covariance_type == "spherical":
        var = torch.diagonal(cov, dim1=-2, dim2=-1).mean(-1)
        return var[..., None, None] * torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    if covariance_type == "tied":
        w = torch.full(cov.shape[:-2], 1.0 / cov.shape[-3], dtype=cov.dtype) if weights is None else weights
        shared = (w[..., None, None] * cov).sum(-3) / w.sum(-1)[..., None, None]
        return shared.unsqueeze(-3).expand_as(cov).clone()
    raise ValueError(covariance_type)


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters of the mixture (as scikit-learn counts them, for BIC and AIC)."""
    k, d = n_components, n_features
    cov_params = {
        "full": k * d * (d + 1) // 2,
        "tied": d * (d + 1) // 2,
        "diag": k * d,
        "spherical": k,
    }[covariance_type]
    return cov_params + k * d + k - 1
