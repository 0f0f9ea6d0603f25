"""Shared algebra of the covariance models' M-steps: scatter matrices, unit-determinant shapes, sorted
eigendecompositions, the inner loops' stopping rule. Shapes: (..., K, D, D) covariances or scatters, (..., K)
weights; the leading dimensions are restarts (R) or none.

Importing this module does not import torch (see the package's docstring); the functions import it when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

# The iterative M-steps (VEI, VEE, VEV, EVE, VVE) stop when an iteration changes the profile objective (minus the
# expected complete-data log-likelihood per point, sum_k n_k log det Sigma_k / n, up to a constant) by less than
# INNER_TOL: mclust's emControl() uses sqrt(machine eps) as the M-step's inner tolerance, and so do we. The cap
# only bounds the time of one M-step (mclust has none); every inner iteration lowers the objective, so stopping
# at the cap still leaves EM monotone. Warm-started from the previous parameters, they seldom need more than a few.
INNER_TOL = float(np.sqrt(np.finfo(np.float64).eps))
INNER_MAX_ITER = 1000

Update = Callable[..., "Tensor"]


# A scatter W_k = second - n_k mu mu^T whose trace is below COLLAPSED_ULPS * eps * tr(second) is rounding alone
# (the difference cancels: a component on one point, or on repeated ones): it counts as exactly 0. Kept as noise,
# its ratios (VEI's diag(W_k) / lambda_k, both ~1e-15) came out of order one and shook the common shape from one
# step to the next: EM fell back by 9e-3 per point (VEI, 21 points, reg_covar 0; with a reg_covar floor the scatter
# holds n_k reg and is no longer rounding alone).
COLLAPSED_ULPS = 64


def scatter(second: Tensor, nk: Tensor, outer: Tensor) -> Tensor:
    """W_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T (..., K, D, D) from second (..., K, D, D), nk (..., K), outer;
    0 for a collapsed component (COLLAPSED_ULPS)."""
    import torch

    w = second - nk[..., None, None] * outer
    return torch.where(collapsed(second, nk, outer)[..., None, None], 0.0, w)


def collapsed(second: Tensor, nk: Tensor, outer: Tensor) -> Tensor:
    """Which components' scatter matrices are rounding alone (COLLAPSED_ULPS): a bool mask (..., K)."""
    import torch

    trace = (diagonal(second) - nk[..., None] * diagonal(outer)).sum(-1)  # tr W_k, as scatter's entries round
    return trace <= COLLAPSED_ULPS * torch.finfo(second.dtype).eps * diagonal(second).sum(-1)


def free_orientation(values: Tensor, vectors: Tensor, second: Tensor, nk: Tensor, outer: Tensor) -> Tensor:
    """The eigenvectors (..., K, D, D) of the scatters W_k, sorted by values (..., K, D) decreasing, with the
    directions of each W_k's null space (eigenvalues at rounding level: COLLAPSED_ULPS) turned to the eigenvectors
    there of T_k = sum_n (x_n - mu_k)(x_n - mu_k)^T, largest first; other components' vectors unchanged (bit for bit).

    Why: a component on fewer points than dimensions has a singular W_k, and where its orientation is the model's
    own (EEV) every choice of it in the null space pairs those directions with the shape's last entries at the same
    expected complete-data log-likelihood: the M-step's maximum is not unique, and eigh's answer there is rounding
    noise. We take the limit of the unique maximum when every point keeps a responsibility e -> 0 in every component
    (W_k + e T_k + O(e^2)): the data's spread about mu_k picks the directions. mclust resolves the same null space
    from the far points' tiny responsibilities (down to e^-708) by a QR of sqrt(z)(x - mu_k), which sums of
    r x x^T cannot hold; eigh's noise had kept such a component on its few points (wine, EEV, K = 7..9: 40-90
    log-likelihood below mclust's fit; tests/engine/test_mclust_reference.py). T_k = sum_j second_j + n mu_k mu_k^T
    (the working units centre the data: their mean is 0); a component without data (the grid's padding) is left.
    """
    import torch

    noise = COLLAPSED_ULPS * torch.finfo(values.dtype).eps * diagonal(second).sum(-1)  # (..., K)
    if not bool((values[..., -1] < noise).any()):  # the smallest eigenvalue (none without data: 0 < 0 fails)
        return vectors
    null = values < noise[..., None]  # (..., K, D): a trailing block of each row
    total = second.sum(-3, keepdim=True) + nk.sum(-1)[..., None, None, None] * outer  # T_k (..., K, D, D)
    block = null[..., :, None] & null[..., None, :]
    spread = torch.where(block, vectors.transpose(-1, -2) @ total @ vectors, 0.0)  # in the eigenbasis
    # the range's directions stay first and in order: diagonal entries above every eigenvalue of the null block
    above = 1.0 + 2.0 * diagonal(spread).sum(-1)  # (..., K) >= the null block's largest eigenvalue
    rank = torch.arange(values.shape[-1], 0, -1, dtype=values.dtype, device=values.device)
    turn = eigh_descending(spread + torch.diag_embed(torch.where(null, 0.0, above[..., None] * rank)))[1]
    return torch.where(null.any(-1)[..., None, None], vectors @ turn, vectors)


def tiny(t: Tensor) -> float:
    """The smallest positive normal number of t's dtype: a floor that keeps 0 / 0 out of padded components."""
    import torch

    return torch.finfo(t.dtype).tiny


def geometric_mean(values: Tensor) -> Tensor:
    """(prod values)^(1/D) over the last axis (..., D) -> (...); values floored at the dtype's tiny."""
    return values.clamp_min(tiny(values)).log().mean(-1).exp()


def unit_det(values: Tensor) -> Tensor:
    """Diagonal entries (..., D) scaled to product 1 (a shape matrix A with det A = 1)."""
    return values / geometric_mean(values)[..., None]


def unit_det_matrix(m: Tensor) -> Tensor:
    """Symmetric positive matrices (..., D, D) scaled to determinant 1."""
    return m / geometric_mean(eigh_descending(m)[0])[..., None, None]


def eigh_descending(m: Tensor) -> tuple[Tensor, Tensor]:
    """Eigenvalues (..., D) in decreasing order and their eigenvectors as columns (..., D, D)."""
    import torch

    values, vectors = torch.linalg.eigh(m)
    return values.flip(-1), vectors.flip(-1)


def diagonal(m: Tensor) -> Tensor:
    return m.diagonal(dim1=-2, dim2=-1)


def rotate(vectors: Tensor, values: Tensor) -> Tensor:
    """vectors diag(values) vectors^T: (..., D, D) and (..., D) -> (..., D, D)."""
    return (vectors * values[..., None, :]) @ vectors.transpose(-1, -2)


def weighted_mean(per_component: Tensor, nk: Tensor) -> Tensor:
    """The nk-weighted mean over components of (..., K, *S) -> (..., *S)."""
    w = nk / nk.sum(-1, keepdim=True)
    return (w.reshape(*w.shape, *([1] * (per_component.dim() - w.dim()))) * per_component).sum(nk.dim() - 1)


def converged(before: Tensor, after: Tensor) -> Tensor:
    """Which restarts' profile objectives (...) moved by less than INNER_TOL: a bool mask (...). A change of a
    log-likelihood per point is the same in any units (the objective itself moves by a constant with them), so the
    stopping point, and the fit, do not depend on the standardisation."""
    return (before - after).abs() <= INNER_TOL


def keep(done: Tensor, old: Tensor, new: Tensor) -> Tensor:
    """new (..., *S) where done (...) is False, old where it is True: a restart whose inner loop has converged
    stays where it stopped while the others of its batch go on (so a restart gets the same answer in any batch)."""
    return new.where(~done.reshape(*done.shape, *([1] * (new.dim() - done.dim()))), old)


def projection_of(update: Update) -> Callable[[Tensor, Tensor | None], Tensor]:
    """The nearest covariances of an update's type to given ones (..., K, D, D) with weights (..., K) (equal when
    None): the update's maximum-likelihood answer for scatter matrices w_k Sigma_k and counts w_k, warm-started
    from the given covariances (so covariances of the type come back unchanged)."""

    def project(cov: Tensor, weights: Tensor | None = None) -> Tensor:
        import torch

        k = cov.shape[-3]
        w = (
            torch.full(cov.shape[:-2], 1.0 / k, dtype=cov.dtype, device=cov.device)
            if weights is None
            else weights.to(cov)
        )
        w = w.expand(cov.shape[:-2])
        return update(w[..., None, None] * cov, w, torch.zeros_like(cov), cov)

    return project
