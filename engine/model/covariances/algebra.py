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
    noise = COLLAPSED_ULPS * torch.finfo(w.dtype).eps * diagonal(second).sum(-1)
    return torch.where((diagonal(w).sum(-1) <= noise)[..., None, None], 0.0, w)


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
