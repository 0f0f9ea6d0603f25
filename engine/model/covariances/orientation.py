"""The M-steps of the models with one common orientation and varying shapes (mclust's EVE and VVE).

Sigma_k = D C_k D^T with D orthogonal and C_k diagonal: EVE, C_k = lambda A_k (det A_k = 1); VVE, C_k = lambda_k
A_k. Given D, the C_k have closed forms from B_k = diag(D^T W_k D). Given the C_k, D minimises f(D) = sum_k
tr(D C_k^-1 D^T W_k) over orthogonal matrices: the majorise-minimise update of Browne & McNicholas (2014), with
w_k the largest eigenvalue of W_k: F = sum_k (w_k I - W_k) D0 C_k^-1, F = U S V^T, D = U V^T. (f = const - g with
g(D) = sum_k tr(C_k^-1 D^T (w_k I - W_k) D) convex; g lies above its tangent at D0, whose maximum over orthogonal
matrices is U V^T: f never rises.) One MM step alternates with one closed-form step, from the previous parameters'
orientation (warm start), until algebra.INNER_TOL.

A restart with a component whose scatter W_k is singular (smallest eigenvalue below SCATTER_FLOOR of its largest)
gets NaN for that component's covariance, so that the restart fails (ExactEM._factor), as mclust's EM for these two
models stops with NA there (mclustaddson.f, meeve and mevve: min eig(W_k) < sqrt(eps) before the M-step). Such a
component sits on at most D points, the likelihood is unbounded, and the common orientation turns towards it step by
step: diabetes, VVE, K = 4, a two-point component, the inner loop at its cap every iteration and EM creeping for 5000
iterations.

Arguments as closed.py's: second (..., K, D, D), nk (..., K), outer (..., K, D, D), previous (..., K, D, D) or None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from . import algebra
from .algebra import diagonal, eigh_descending, geometric_mean, keep, scatter, tiny

if TYPE_CHECKING:
    from torch import Tensor

# A scatter is singular when its smallest eigenvalue is below SCATTER_FLOOR times its largest: rank-deficient to
# rounding, a component on at most D distinct points with no other point's responsibility. mclust's bound is
# sqrt(eps) absolute, in the data's units (so it depends on them); on data of ordinary units the two agree on such a
# component (diabetes, VVE, K = 4: 1e-16 of the largest), while sqrt(eps) in the standardised units failed a real
# fit (wine, VVE, K = 6: a component of 10.9 points in 13-D, 5e-9 there, 4e-5 in wine's units, where mclust goes on;
# so do we: 8e-10 of its largest).
# It applies to components that hold at least OCCUPIED points' worth of responsibility (engine/inference/em.py's
# EMPTY_NK: a lighter one is empty and left to the empty policy; the grid's padding has N_k ~ 1e-15).
SCATTER_FLOOR = 64 * float(np.finfo(np.float64).eps)
OCCUPIED = 1.0

# (B (..., K, D)) -> the diagonal C_k (..., K, D) and the profile objective per point (...)
ShapesGiven = Callable[["Tensor"], tuple["Tensor", "Tensor"]]


def eve_shapes(nk: Tensor) -> ShapesGiven:
    """EVE given D: A_k = B_k / |B_k|^(1/D), lambda = sum_k |B_k|^(1/D) / n; objective D log lambda (+ D)."""

    def shapes(b: Tensor) -> tuple[Tensor, Tensor]:
        g = geometric_mean(b)  # (..., K)
        lam = g.sum(-1) / nk.sum(-1)
        c = lam[..., None, None] * b / g[..., None].clamp_min(tiny(b))
        return c.clamp_min(tiny(b)), b.shape[-1] * lam.log()

    return shapes


def vve_shapes(nk: Tensor) -> ShapesGiven:
    """VVE given D: C_k = B_k / n_k; objective sum_k n_k log det C_k / n (+ D)."""

    def shapes(b: Tensor) -> tuple[Tensor, Tensor]:
        c = (b / nk[..., None]).clamp_min(tiny(b))
        return c, (nk * c.log().sum(-1)).sum(-1) / nk.sum(-1)

    return shapes


def singular_scatters(w: Tensor, nk: Tensor) -> Tensor:
    """Which components (..., K) hold a point or more (OCCUPIED) with a singular scatter w (..., K, D, D): a column
    without spread, or its correlation matrix's smallest eigenvalue below SCATTER_FLOOR times the largest.

    On the correlation matrix, not on w: EVE and VVE are fitted with one scale for all columns (their form would not
    survive a scale per column), so a column in other units (Old Faithful's waiting time x 1e6) made every scatter's
    eigenvalues 1e-14 apart, and every fit of it failed as singular; a rank that rounding lost is lost in either."""
    import torch

    spread = diagonal(w).clamp_min(0.0).sqrt()  # (..., K, D)
    flat = (spread <= tiny(w)).any(-1)
    scale = spread.clamp_min(tiny(w))
    corr = w / (scale[..., :, None] * scale[..., None, :])
    values = torch.linalg.eigvalsh(
        torch.where(flat[..., None, None], torch.eye(w.shape[-1], dtype=w.dtype, device=w.device), corr)
    )
    return (nk >= OCCUPIED) & (flat | (values[..., 0] < SCATTER_FLOOR * values[..., -1]))


def common_orientation(
    w: Tensor, nk: Tensor, shapes_given: ShapesGiven, d0: Tensor, singular: Tensor | None = None
) -> tuple[Tensor, int]:
    """Covariances D C_k D^T (..., K, D, D) and the iterations, alternating MM steps for D (..., D, D) from d0
    with shapes_given for the C_k; NaN for the components where singular (..., K) is True (singular_scatters),
    whose restarts take no inner iterations."""
    import torch

    singular = torch.zeros_like(nk, dtype=torch.bool) if singular is None else singular
    majoriser = _majoriser(w) if w.shape[-1] > 2 else None  # in a plane the sweep's one rotation is exact
    d = d0
    c, objective = shapes_given(_rotated_diagonal(w, d))
    done = singular.any(-1)
    iteration = 0
    while iteration < algebra.INNER_MAX_ITER and not bool(done.all()):
        iteration += 1
        d = keep(done, d, jacobi_sweep(w, d if majoriser is None else _mm_step(majoriser, d, c), c))
        before, (new_c, objective) = objective, shapes_given(_rotated_diagonal(w, d))
        c = keep(done, c, new_c)
        done = done | algebra.converged(before, objective)
    cov = d.unsqueeze(-3) @ torch.diag_embed(c) @ d.transpose(-1, -2).unsqueeze(-3)
    return cov.masked_fill(singular[..., None, None], float("nan")), iteration


def _majoriser(w: Tensor) -> Tensor:
    """w_k I - W_k (..., K, D, D), positive semi-definite, with w_k the largest eigenvalue of W_k (..., K, D, D)."""
    import torch

    largest = torch.linalg.eigvalsh(w)[..., -1]  # (..., K)
    eye = torch.eye(w.shape[-1], dtype=w.dtype, device=w.device)
    return largest[..., None, None] * eye - w


def _mm_step(majoriser: Tensor, d: Tensor, c: Tensor) -> Tensor:
    """Browne & McNicholas's MM update of D (..., D, D) given the C_k (..., K, D): F = sum_k (w_k I - W_k) D C_k^-1,
    F = U S V^T, D = U V^T."""
    import torch

    f = (majoriser @ d.unsqueeze(-3) / c[..., None, :]).sum(-3)  # (..., D, D)
    u, _, vh = torch.linalg.svd(f)
    return u @ vh


def jacobi_sweep(w: Tensor, d: Tensor, c: Tensor) -> Tensor:
    """D (..., D, D) after one sweep of plane rotations, each the exact minimiser of f over its plane's angle.

    Rotating columns i, j of D by theta changes f by alpha cos 2 theta + beta sin 2 theta - alpha, with p_k = 1 /
    c_k (..., K, D), M_k = D^T W_k D: alpha = sum_k (p_ki - p_kj)(M_kii - M_kjj) / 2, beta = sum_k (p_ki - p_kj)
    M_kij; the least is -sqrt(alpha^2 + beta^2). The MM step alone crawls where the w_k majorise loosely (measured:
    3e-7 relative short of the minimum at the tolerance); the sweep, which never raises f either, finishes it. In
    D = 2 the one plane is every rotation (a reflection or a swap of the columns leaves f as it is): the sweep is
    then the exact minimiser over D by itself, and common_orientation skips the MM step.

    The D (D - 1) / 2 planes are visited in D - 1 rounds of disjoint pairs (round_robin): f's terms of columns i and
    j involve no other column, so the rotations of one round are independent, and one batched round is exactly
    those rotations one after another. (One plane at a time, a 13-D sweep was 78 steps of small operations.)
    """
    import torch

    p = 1.0 / c
    d = d.clone()  # the caller's D stays as it was (a converged restart keeps it)
    for first, second in round_robin(d.shape[-1]):
        i, j = torch.tensor(first, device=d.device), torch.tensor(second, device=d.device)
        ci, cj = d[..., :, i], d[..., :, j]  # (..., D, P): the pairs' columns
        wi, wj = w @ ci.unsqueeze(-3), w @ cj.unsqueeze(-3)  # (..., K, D, P)
        mii, mjj = (ci.unsqueeze(-3) * wi).sum(-2), (cj.unsqueeze(-3) * wj).sum(-2)  # (..., K, P)
        mij = (ci.unsqueeze(-3) * wj).sum(-2)
        gap = p[..., i] - p[..., j]  # (..., K, P)
        alpha = (gap * (mii - mjj)).sum(-2) / 2  # (..., P)
        beta = (gap * mij).sum(-2)
        theta = torch.where(alpha.abs() + beta.abs() > 0, torch.atan2(-beta, -alpha) / 2, 0.0)  # 0: f is flat
        cos, sin = theta.cos().unsqueeze(-2), theta.sin().unsqueeze(-2)  # (..., 1, P)
        d[..., :, i], d[..., :, j] = cos * ci + sin * cj, cos * cj - sin * ci
    return d


def round_robin(size: int) -> list[tuple[list[int], list[int]]]:
    """Every pair (i, j), i < j, of range(size) once, in size - 1 rounds (size rounds when odd) of disjoint pairs:
    the circle method (one index fixed, the others turning), each round as its pairs' first and second indices."""
    ring = list(range(size)) + ([-1] if size % 2 else [])  # -1: a bye
    n = len(ring)
    rounds = []
    for _ in range(n - 1):
        pairs = [(ring[a], ring[n - 1 - a]) for a in range(n // 2)]
        pairs = [(min(a, b), max(a, b)) for a, b in pairs if a >= 0 and b >= 0]
        if pairs:  # size 1 has none: one column has no plane to rotate
            rounds.append(([a for a, _ in pairs], [b for _, b in pairs]))
        ring = [ring[0], ring[-1], *ring[1:-1]]
    return rounds


def _rotated_diagonal(w: Tensor, d: Tensor) -> Tensor:
    """B_k = diag(D^T W_k D) (..., K, D) for scatters w (..., K, D, D) and an orientation d (..., D, D)."""
    return diagonal(d.transpose(-1, -2).unsqueeze(-3) @ w @ d.unsqueeze(-3))


def start_orientation(w: Tensor, nk: Tensor, previous: Tensor | None) -> Tensor:
    """D0 (..., D, D): the eigenvectors of sum_k n_k Sigma_k (those of a common orientation exactly, whatever the
    C_k), or of sum_k W_k without previous covariances (EEE's orientation)."""
    pooled = w.sum(-3) if previous is None else (nk[..., None, None] * previous).sum(-3)
    return eigh_descending(pooled)[1]


def eve_fit(
    second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None, check: bool = True
) -> tuple[Tensor, int]:
    """EVE's covariances (..., K, D, D) and inner iterations; check: NaN where a scatter is singular (the M-step's,
    mclust's rule), not for a projection."""
    w = scatter(second, nk, outer)
    singular = singular_scatters(w, nk) if check else None
    return common_orientation(w, nk, eve_shapes(nk), start_orientation(w, nk, previous), singular)


def vve_fit(
    second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None, check: bool = True
) -> tuple[Tensor, int]:
    """VVE's covariances (..., K, D, D) and inner iterations; check as eve_fit's."""
    w = scatter(second, nk, outer)
    singular = singular_scatters(w, nk) if check else None
    return common_orientation(w, nk, vve_shapes(nk), start_orientation(w, nk, previous), singular)


def eve(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    return eve_fit(second, nk, outer, previous)[0]


def vve(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    return vve_fit(second, nk, outer, previous)[0]


def eve_nearest(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    """EVE's update without the singular-scatter check: what its projection runs (a projection's counts are
    weights, and a nearly flat covariance has a nearest EVE one)."""
    return eve_fit(second, nk, outer, previous, check=False)[0]


def vve_nearest(second: Tensor, nk: Tensor, outer: Tensor, previous: Tensor | None = None) -> Tensor:
    """VVE's update without the singular-scatter check (eve_nearest)."""
    return vve_fit(second, nk, outer, previous, check=False)[0]
