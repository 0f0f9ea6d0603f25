"""The closed-form M-steps of mclust's models (Celeux & Govaert 1995, Sigma_k = lambda_k D_k A_k D_k^T).

Each takes the statistics the M-step receives, second (..., K, D, D) = sum_n r x x^T, nk (..., K) and outer
(..., K, D, D) = mu mu^T, and the previous covariances (..., K, D, D) or None (ignored: a closed form needs no
start), and returns the maximum-likelihood covariances (..., K, D, D) as full matrices, before reg_covar. With
W_k the scatter matrices and n = sum_k n_k, each minimises sum_k [n_k log det Sigma_k + tr(Sigma_k^-1 W_k)].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .algebra import (
    COLLAPSED_ULPS,
    diagonal,
    eigh_descending,
    free_orientation,
    geometric_mean,
    rotate,
    scatter,
)

if TYPE_CHECKING:
    from torch import Tensor


def full(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    """VVV: W_k / n_k."""
    return second / nk[..., None, None] - outer


def tied(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    """EEE: sum_k W_k / n for every component."""
    shared = (second - nk[..., None, None] * outer).sum(-3) / nk.sum(-1)[..., None, None]
    return shared.unsqueeze(-3).expand_as(second).clone()


# VVI, VII: a variance whose scatter is rounding alone (_noise: COLLAPSED_ULPS, as algebra.collapsed) is 0. Kept,
# that rounding (about 1e-15 in the working units) was a variance EM could not shrink further, and a component on one
# point (VII), or on two with a coordinate equal (VVI), stood as a fit 30-290 above mclust's BIC (diabetes VII at
# K = 7..9 and VVI at 7, banknote VII at 9, iris VVI at 8 and 9, reg_covar 0); mclust's EM, computing the scatter
# about the mean, drives it to 0 and stops with NA (sigma-squared below its threshold). A zero variance fails the
# restart (gaussian.SINGULAR) as mclust's does; with a reg_covar floor it is the floor. Others: the same bits.
def _variances(second: Tensor, nk: Tensor, outer: Tensor) -> tuple[Tensor, Tensor]:
    """The diagonal of W_k / n_k (..., K, D) (full's bits) and its rounding level (..., K, D) (_noise)."""
    d2 = diagonal(second)
    return d2 / nk[..., None] - diagonal(outer), (_noise(d2) / nk)[..., None] * d2


def diag(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    """VVI: diag(W_k) / n_k; 0 on an axis whose scatter is rounding alone (_noise)."""
    import torch

    values, noise = _variances(second, nk, outer)
    return torch.diag_embed(torch.where(values <= noise, 0.0, values))


def spherical(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    """VII: tr(W_k) / (D n_k) I; 0 for a component whose scatter is rounding alone (_noise)."""
    import torch

    values, noise = _variances(second, nk, outer)
    eye = torch.eye(second.shape[-1], dtype=second.dtype, device=second.device)
    return torch.where(values.sum(-1) <= noise.sum(-1), 0.0, values.mean(-1))[..., None, None] * eye


def _noise(t: Tensor) -> float:
    """The scatter's rounding relative to diag(second): COLLAPSED_ULPS ulps of t's dtype."""
    import torch

    return COLLAPSED_ULPS * float(torch.finfo(t.dtype).eps)


def full_project(cov: Tensor, weights: Tensor | None = None) -> Tensor:
    return cov


def tied_project(cov: Tensor, weights: Tensor | None = None) -> Tensor:
    """The weighted average of the components' covariances (equal weights when none are given)."""
    import torch

    if weights is None:
        w = torch.full(cov.shape[:-2], 1.0 / cov.shape[-3], dtype=cov.dtype, device=cov.device)
    else:  # in cov's dtype: float32 weights summed apart from the float64 products moved the average by 1e-8
        w = weights.to(cov)
    shared = (w[..., None, None] * cov).sum(-3) / w.sum(-1)[..., None, None]
    return shared.unsqueeze(-3).expand_as(cov).clone()


def diag_project(cov: Tensor, weights: Tensor | None = None) -> Tensor:
    import torch

    return torch.diag_embed(diagonal(cov))


def spherical_project(cov: Tensor, weights: Tensor | None = None) -> Tensor:
    import torch

    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    return diagonal(cov).mean(-1)[..., None, None] * eye


def eii(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    """EII: lambda I with lambda = tr(sum_k W_k) / (n D)."""
    import torch

    w = scatter(second, nk, outer)
    d = w.shape[-1]
    lam = diagonal(w.sum(-3)).sum(-1) / (nk.sum(-1) * d)  # (...,)
    eye = torch.eye(d, dtype=w.dtype, device=w.device)
    return (lam[..., None, None, None] * eye).expand_as(w).clone()


def eei(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    """EEI: diag(sum_k W_k) / n for every component."""
    import torch

    w = scatter(second, nk, outer)
    shared = diagonal(w.sum(-3)) / nk.sum(-1)[..., None]  # (..., D)
    return torch.diag_embed(shared).unsqueeze(-3).expand_as(w).clone()


def evi(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    """EVI: lambda A_k with B_k = diag(W_k), A_k = B_k / |B_k|^(1/D), lambda = sum_k |B_k|^(1/D) / n."""
    import torch

    b = diagonal(scatter(second, nk, outer))  # (..., K, D)
    g = geometric_mean(b)  # (..., K)
    lam = g.sum(-1) / nk.sum(-1)  # (...,)
    return torch.diag_embed(lam[..., None, None] * b / g[..., None])


def eev(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    """EEV: L_k (lambda A) L_k^T with W_k = L_k Omega_k L_k^T (eigenvalues decreasing), lambda A = sum_k Omega_k / n
    (von Neumann's trace inequality pairs the largest of each); a singular W_k's null space turned by
    free_orientation (the maximum is not unique there)."""
    w = scatter(second, nk, outer)
    values, vectors = eigh_descending(w)
    vectors = free_orientation(values, vectors, second, nk, outer)
    shared = values.sum(-2) / nk.sum(-1)[..., None]  # (..., D)
    return rotate(vectors, shared.unsqueeze(-2).expand_as(values))


def evv(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    """EVV: lambda C_k with C_k = W_k / |W_k|^(1/D), lambda = sum_k |W_k|^(1/D) / n."""
    w = scatter(second, nk, outer)
    g = geometric_mean(eigh_descending(w)[0])  # (..., K) = |W_k|^(1/D)
    lam = g.sum(-1) / nk.sum(-1)
    return lam[..., None, None, None] * w / g[..., None, None]
