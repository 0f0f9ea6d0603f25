"""The alternating M-steps of the models with varying volume and a common shape (mclust's VEI, VEE, VEV).

Sigma_k = lambda_k C (VEI: C = A diagonal; VEE: C full; VEV: C = D_k A D_k^T with D_k the eigenvectors of W_k),
det C = 1. Given the shape, lambda_k = tr(W_k C^-1) / (D n_k); given the volumes, the shape is sum_k W_k /
lambda_k scaled to determinant 1 (Celeux & Govaert 1995). Each half-step minimises the objective exactly over its
block, so it never rises; after a volume step it equals D sum_k n_k log lambda_k + n D. The loop starts from the
previous parameters' shape (warm start: EM stays monotone) and stops by algebra.INNER_TOL.

Arguments as closed.py's: second (..., K, D, D), nk (..., K), outer (..., K, D, D), previous (..., K, D, D) or None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import algebra
from .algebra import diagonal, eigh_descending, keep, rotate, scatter, tiny, unit_det, unit_det_matrix, weighted_mean

if TYPE_CHECKING:
    from torch import Tensor

# (shape) -> volumes (..., K); (volumes) -> shape: the two half-steps of one model
HalfSteps = tuple[Callable[["Tensor"], "Tensor"], Callable[["Tensor"], "Tensor"]]


def alternate(half_steps: HalfSteps, shape: Tensor, nk: Tensor) -> tuple[Tensor, Tensor, int]:
    """Volumes (..., K), the shape and the number of iterations, alternating from shape to convergence."""
    import torch

    volumes_given, shape_given = half_steps
    n = nk.sum(-1)
    volumes = volumes_given(shape)
    objective = (nk * volumes.log()).sum(-1) / n
    done = torch.zeros_like(objective, dtype=torch.bool)
    iteration = 0
    while iteration < algebra.INNER_MAX_ITER and not bool(done.all()):
        iteration += 1
        new_shape = shape_given(volumes)
        new_volumes = volumes_given(new_shape)
        shape, volumes = keep(done, shape, new_shape), keep(done, volumes, new_volumes)
        before, objective = objective, (nk * volumes.log()).sum(-1) / n
        done = done | algebra.converged(before, objective)
    return volumes, shape, iteration


def vei_steps(w: Tensor, nk: Tensor) -> HalfSteps:
    """VEI's half-steps for scatters w (..., K, D, D); the shape is A's diagonal (..., D)."""
    b, d = diagonal(w), w.shape[-1]  # (..., K, D)
    return (
        lambda a: ((b / a[..., None, :]).sum(-1) / (d * nk)).clamp_min(tiny(b)),
        lambda lam: unit_det((b / lam[..., None]).sum(-2)),
    )


def vei_fit(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None) -> tuple[Tensor, int]:
    """VEI's covariances (..., K, D, D) and inner iterations."""
    import torch

    w = scatter(second, nk, outer)
    start = diagonal(w.sum(-3)) if previous is None else weighted_mean(unit_det(diagonal(previous)), nk)
    lam, a, iterations = alternate(vei_steps(w, nk), unit_det(start), nk)
    return torch.diag_embed(lam[..., None] * a[..., None, :]), iterations


def vee_steps(w: Tensor, nk: Tensor) -> HalfSteps:
    """VEE's half-steps; the shape is C (..., D, D)."""
    import torch

    d = w.shape[-1]

    def volumes(c: Tensor) -> Tensor:
        inverse = torch.linalg.inv(c).unsqueeze(-3)  # (..., 1, D, D)
        return ((w * inverse).sum((-2, -1)) / (d * nk)).clamp_min(tiny(w))

    return volumes, lambda lam: unit_det_matrix((w / lam[..., None, None]).sum(-3))


def vee_fit(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None) -> tuple[Tensor, int]:
    """VEE's covariances (..., K, D, D) and inner iterations."""
    w = scatter(second, nk, outer)
    start = w.sum(-3) if previous is None else weighted_mean(unit_det_matrix(previous), nk)
    lam, c, iterations = alternate(vee_steps(w, nk), unit_det_matrix(start), nk)
    return lam[..., None, None] * c.unsqueeze(-3), iterations


def vev_steps(omega: Tensor, nk: Tensor) -> HalfSteps:
    """VEV's half-steps on the scatters' eigenvalues omega (..., K, D), decreasing; the shape is A's diagonal."""
    d = omega.shape[-1]
    return (
        lambda a: ((omega / a[..., None, :]).sum(-1) / (d * nk)).clamp_min(tiny(omega)),
        lambda lam: unit_det((omega / lam[..., None]).sum(-2)),
    )


def vev_fit(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None) -> tuple[Tensor, int]:
    """VEV's covariances (..., K, D, D) and inner iterations. Whatever the volumes, the best orientations for a
    decreasing A are W_k's eigenvectors in decreasing order (von Neumann's trace inequality): fixed once."""
    omega, vectors = eigh_descending(scatter(second, nk, outer))
    start = omega.sum(-2) if previous is None else weighted_mean(unit_det(eigh_descending(previous)[0]), nk)
    lam, a, iterations = alternate(vev_steps(omega, nk), unit_det(start), nk)
    return rotate(vectors, lam[..., None] * a[..., None, :]), iterations


def vei(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    return vei_fit(second, nk, outer, previous)[0]


def vee(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    return vee_fit(second, nk, outer, previous)[0]


def vev(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    return vev_fit(second, nk, outer, previous)[0]
