"""The MAP M-steps of mclust's ten models with a conjugate prior (prior.py), as mclust 6 computes them.

Input, batched over R restarts like the engine's M-step: the responsibilities' sums nk (R, K), the weighted
means ybar (R, K, D) and the scatter matrices W_k = sum_n r_nk (x_n - ybar_k)(x_n - ybar_k)^T (R, K, D, D).
Output: the MAP means (R, K, D) and covariances (R, K, D, D) as full matrices (like the covariance registry).
The weights are nk / n: mclust puts no prior on them (map_weights).

Notation: n = sum_k nk, kappa, mu_P, nu, scale = the prior's (zeta^2 a number or (D,) vector, Lambda a matrix),
mean_k = (nk ybar_k + kappa mu_P) / (nk + kappa) the shrunk mean, M_k = kappa nk / (nk + kappa) (ybar_k -
mu_P)(ybar_k - mu_P)^T the mean prior's term, B_k = W_k + M_k. The formulas are the posterior modes of Fraley &
Raftery (2007), with the denominators and the few departures of mclust's EM (its meXXXp Fortran), each checked
against mclust 6.0.0 to 1e-10 relative (tests/engine/test_prior.py):
  EII  sigma^2 = sum_k (tr W_k + tr M_k) / (nu + (n + K) D + 2) (mclust does not use zeta^2)
  VII  sigma_k^2 = (zeta^2 + tr B_k) / (nu + (nk + 1) D + 2)
  EEI  Sigma = diag(zeta^2 + sum_k B_k) / (n + nu + 2), means ybar_k (mclust returns the unshrunk means)
  VEI  Sigma_k = lambda_k A, C_k = zeta^2 + diag B_k: lambda_k = sum_j C_kj / A_j / (D nk + nu + 3), A = C / |C|
       with C = sum_k C_k / lambda_k and |C| its geometric mean; iterated (INNER_TOL, INNER_MAX_ITER)
  EVI  Sigma_k = lambda C_k / |C_k|, C_k = zeta^2 + diag B_k, lambda = sum_k |C_k| / (n + nu + 2)
  VVI  Sigma_k = (zeta^2 + diag B_k) / (nk + nu + 3)
  EEE  Sigma = (Lambda + sum_k B_k) / (n + nu + D + K + 1)
  EEV  Lambda + B_k = V_k Omega_k V_k^T: Sigma_k = V_k (sum_j Omega_j) V_k^T / (n + nu + D + 2)
  VEV  Lambda + B_k = V_k Omega_k V_k^T: Sigma_k = lambda_k V_k A V_k^T, lambda_k = tr(Omega_k A^-1) / (D nk),
       A = C / |C| with C = sum_k Omega_k / lambda_k; iterated (mclust's denominator has no nu here)
  VVV  Sigma_k = (Lambda + B_k) / (nk + nu + D + 2)
mclust's stand-alone mstep() computes four of them otherwise (flavour "mstep"; its EM does not use these):
  EII  the scatter about the shrunk means: nk |ybar_k - mean_k|^2 more for each k
  EEI, EVI  n + nu + K + 2 in the denominator
  EEV  from Lambda + W_k (no M_k), with n + nu + D + 1, and the unshrunk means ybar_k
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .prior import PRIOR_MODELS, Prior, check_prior_model

# VEI and VEV alternate between the volumes and the common shape until the volumes' largest relative change is
# below INNER_TOL (mclust's default is sqrt(machine eps) on its own measure; ours is tighter so that the answer is
# the fixed point itself, not where a tolerance happened to stop), or INNER_MAX_ITER rounds. Each round maximises
# over one block exactly, so a capped loop still climbs its objective (faithful, from A = 1: VEI 4 rounds, VEV 5)
INNER_TOL = 1e-13
INNER_MAX_ITER = 1000


@dataclass(frozen=True)
class _Terms:
    """The statistics and prior in torch, shared by the ten M-steps (shapes in the module's docstring)."""

    nk: Tensor  # (R, K)
    ybar: Tensor  # (R, K, D)
    scatter: Tensor  # (R, K, D, D) W_k
    kappa: float
    mu: Tensor  # (D,)
    nu: float
    scale: Tensor  # () zeta^2, (D,) per-axis zeta^2 or (D, D) Lambda

    @property
    def n(self) -> Tensor:
        """(R,) each restart's total weight."""
        return self.nk.sum(-1)

    @property
    def d(self) -> int:
        return self.ybar.shape[-1]

    @property
    def k(self) -> int:
        return self.ybar.shape[-2]

    def shrunk_means(self) -> Tensor:
        """(R, K, D) the posterior means (nk ybar + kappa mu_P) / (nk + kappa)."""
        nk = self.nk[..., None]
        return (nk * self.ybar + self.kappa * self.mu) / (nk + self.kappa)

    def mean_term(self) -> Tensor:
        """(R, K, D, D) M_k = kappa nk / (nk + kappa) (ybar_k - mu_P)(ybar_k - mu_P)^T."""
        dev = self.ybar - self.mu
        c = self.kappa * self.nk / (self.nk + self.kappa)
        return c[..., None, None] * dev[..., :, None] * dev[..., None, :]

    def posterior_scatter(self) -> Tensor:
        """(R, K, D, D) B_k = W_k + M_k."""
        return self.scatter + self.mean_term()

    def diagonal_scatter(self) -> Tensor:
        """(R, K, D) C_k = zeta^2 + diag(B_k), the diagonal models' posterior scatter."""
        return self.scale + self.posterior_scatter().diagonal(dim1=-2, dim2=-1)


def _terms(nk: Tensor, ybar: Tensor, scatter: Tensor, prior: Prior) -> _Terms:
    like = {"dtype": ybar.dtype, "device": ybar.device}
    return _Terms(
        nk=nk,
        ybar=ybar,
        scatter=scatter,
        kappa=float(prior.shrinkage),
        mu=torch.as_tensor(prior.mean, **like),
        nu=float(prior.dof),
        scale=torch.as_tensor(prior.scale, **like),
    )


def _eye(t: _Terms) -> Tensor:
    return torch.eye(t.d, dtype=t.ybar.dtype, device=t.ybar.device)


def _diag(v: Tensor) -> Tensor:
    """(..., D) -> (..., D, D)."""
    return torch.diag_embed(v)


def _geometric_mean(v: Tensor) -> Tensor:
    """(..., D) -> (..., 1): the D-th root of the product (a diagonal shape's determinant is 1 after dividing)."""
    return v.log().mean(-1, keepdim=True).exp()


def _eii(t: _Terms, about_shrunk_means: bool = False) -> tuple[Tensor, Tensor]:
    dev2 = (t.ybar - t.mu).square().sum(-1)  # (R, K)
    c = t.kappa * t.nk / (t.nk + t.kappa)
    if about_shrunk_means:  # mstep()'s scatter about the shrunk means adds nk kappa^2 / (nk + kappa)^2 |dev|^2
        c = c + t.nk * (t.kappa / (t.nk + t.kappa)) ** 2
    total = (t.scatter.diagonal(dim1=-2, dim2=-1).sum(-1) + c * dev2).sum(-1)  # (R,)
    var = total / (t.nu + (t.n + t.k) * t.d + 2)
    return t.shrunk_means(), var[:, None, None, None] * _eye(t).expand(*t.nk.shape, t.d, t.d)


def _eii_mstep(t: _Terms) -> tuple[Tensor, Tensor]:
    return _eii(t, about_shrunk_means=True)


def _vii(t: _Terms) -> tuple[Tensor, Tensor]:
    trace = t.posterior_scatter().diagonal(dim1=-2, dim2=-1).sum(-1)  # (R, K)
    var = (t.scale + trace) / (t.nu + (t.nk + 1) * t.d + 2)
    return t.shrunk_means(), var[..., None, None] * _eye(t)


def _eei(t: _Terms, extra: float | int = 0) -> tuple[Tensor, Tensor]:
    pooled = t.scale + t.posterior_scatter().diagonal(dim1=-2, dim2=-1).sum(-2)  # (R, D)
    var = pooled / (t.n + t.nu + 2 + extra)[:, None]
    return t.ybar.clone(), _diag(var)[:, None].expand(*t.nk.shape, t.d, t.d).clone()


def _eei_mstep(t: _Terms) -> tuple[Tensor, Tensor]:
    return _eei(t, extra=t.k)


def _evi(t: _Terms, extra: float | int = 0) -> tuple[Tensor, Tensor]:
    c = t.diagonal_scatter()  # (R, K, D)
    det = _geometric_mean(c)  # (R, K, 1)
    volume = det.sum(-2) / (t.n + t.nu + 2 + extra)[:, None]  # (R, 1)
    return t.shrunk_means(), _diag(volume[:, None] * c / det)


def _evi_mstep(t: _Terms) -> tuple[Tensor, Tensor]:
    return _evi(t, extra=t.k)


def _vvi(t: _Terms) -> tuple[Tensor, Tensor]:
    var = t.diagonal_scatter() / (t.nk + t.nu + 3)[..., None]
    return t.shrunk_means(), _diag(var)


def _common_shape(omega: Tensor, denominators: Tensor) -> tuple[Tensor, Tensor]:
    """The volumes lambda (R, K) and common shape A (R, D), |A| = 1, maximising the posterior of lambda_k A with
    the components' scatter eigenvalues (or diagonals) omega (R, K, D): lambda_k = sum_j omega_kj / A_j /
    denominators_k and A = C / |C| with C = sum_k omega_k / lambda_k, alternated from A = 1."""
    shape = torch.ones_like(omega[:, 0])
    volume = (omega / shape[:, None]).sum(-1) / denominators
    for _ in range(INNER_MAX_ITER):
        c = (omega / volume[..., None]).sum(-2)
        shape = c / _geometric_mean(c)
        new = (omega / shape[:, None]).sum(-1) / denominators
        change = ((new - volume).abs() / new).max()
        volume = new
        if change < INNER_TOL:
            break
    return volume, shape


def _vei(t: _Terms) -> tuple[Tensor, Tensor]:
    volume, shape = _common_shape(t.diagonal_scatter(), t.d * t.nk + t.nu + 3)
    return t.shrunk_means(), _diag(volume[..., None] * shape[:, None])


def _eee(t: _Terms) -> tuple[Tensor, Tensor]:
    shared = (t.scale + t.posterior_scatter().sum(-3)) / (t.n + t.nu + t.d + t.k + 1)[:, None, None]
    return t.shrunk_means(), shared[:, None].expand(*t.nk.shape, t.d, t.d).clone()


def _oriented(omega: Tensor, vectors: Tensor) -> Tensor:
    """V diag(omega) V^T: (R, K, D) eigenvalues and (R, K, D, D) eigenvectors -> (R, K, D, D)."""
    cov = (vectors * omega[..., None, :]) @ vectors.transpose(-1, -2)
    return (cov + cov.transpose(-1, -2)) / 2


def _eev(t: _Terms) -> tuple[Tensor, Tensor]:
    omega, vectors = torch.linalg.eigh(t.scale + t.posterior_scatter())  # both ascending: paired in order
    shape = omega.sum(-2, keepdim=True) / (t.n + t.nu + t.d + 2)[:, None, None]
    return t.shrunk_means(), _oriented(shape.expand_as(omega), vectors)


def _eev_mstep(t: _Terms) -> tuple[Tensor, Tensor]:
    omega, vectors = torch.linalg.eigh(t.scale + t.scatter)  # no mean term here, and the unshrunk means
    shape = omega.sum(-2, keepdim=True) / (t.n + t.nu + t.d + 1)[:, None, None]
    return t.ybar.clone(), _oriented(shape.expand_as(omega), vectors)


def _vev(t: _Terms) -> tuple[Tensor, Tensor]:
    omega, vectors = torch.linalg.eigh(t.scale + t.posterior_scatter())
    volume, shape = _common_shape(omega, t.d * t.nk)
    return t.shrunk_means(), _oriented(volume[..., None] * shape[:, None], vectors)


def _vvv(t: _Terms) -> tuple[Tensor, Tensor]:
    cov = (t.scale + t.posterior_scatter()) / (t.nk + t.nu + t.d + 2)[..., None, None]
    return t.shrunk_means(), cov


MAP_MSTEPS: dict[str, Callable[[_Terms], tuple[Tensor, Tensor]]] = {
    "EII": _eii,
    "VII": _vii,
    "EEI": _eei,
    "VEI": _vei,
    "EVI": _evi,
    "VVI": _vvi,
    "EEE": _eee,
    "EEV": _eev,
    "VEV": _vev,
    "VVV": _vvv,
}
assert tuple(MAP_MSTEPS) == PRIOR_MODELS
# mclust's stand-alone mstep() (its msXXXp routines) differs from the M-step inside its EM (meXXXp: me(), Mclust,
# mclustBIC) for four models; "mstep" gives those, to compare with mstep()'s numbers
MSTEP_ONLY = {"EII": _eii_mstep, "EEI": _eei_mstep, "EVI": _evi_mstep, "EEV": _eev_mstep}
FLAVOURS = ("em", "mstep")


def map_mstep(
    model: str, nk: Tensor, ybar: Tensor, scatter: Tensor, prior: Prior, flavour: str = "em"
) -> tuple[Tensor, Tensor]:
    """mclust's MAP means (R, K, D) and covariances (R, K, D, D) of `model` from nk (R, K), ybar (R, K, D) and
    the scatter matrices (R, K, D, D) under `prior` (its scale's form must suit the model's family). flavour:
    "em", the M-step of mclust's EM (what its BIC comes from), or "mstep", its stand-alone mstep()."""
    check_prior_model(model)
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour {flavour!r}: give 'em' or 'mstep'")
    if not prior.fits(model):
        raise ValueError(
            f"a {prior.family} prior's scale does not suit model {model}: use default_prior(x, k, {model!r})"
        )
    if prior.mean.shape[0] != ybar.shape[-1]:
        raise ValueError(f"prior mean has {prior.mean.shape[0]} values for data of {ybar.shape[-1]} columns")
    step = MSTEP_ONLY.get(model, MAP_MSTEPS[model]) if flavour == "mstep" else MAP_MSTEPS[model]
    return step(_terms(nk, ybar, scatter, prior))


def map_weights(nk: Tensor) -> Tensor:
    """(R, K) mixing weights nk / n: mclust puts no prior on them (its msXXXp return pro = nk / n)."""
    return nk / nk.sum(-1, keepdim=True)


def sufficient_statistics(x: Tensor, resp: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """nk (R, K), ybar (R, K, D) and scatter (R, K, D, D) of data x (N, D) under responsibilities resp (R, N, K),
    centred on each component's mean (no raw moments: exact for tests and references)."""
    nk = resp.sum(-2)
    ybar = (resp.transpose(-1, -2) @ x) / nk[..., None]
    dev = x[None, None] - ybar[..., None, :]  # (R, K, N, D)
    scatter = (resp.transpose(-1, -2)[..., None] * dev).transpose(-1, -2) @ dev
    return nk, ybar, scatter


def scatter_from_moments(second: Tensor, nk: Tensor, ybar: Tensor) -> Tensor:
    """(R, K, D, D) W_k = sum_n r_nk x x^T - nk ybar_k ybar_k^T from the engine's M-step statistics: second
    (R, K, D, D), nk (R, K) and the weighted means ybar (R, K, D) (on standardised data, where raw moments are
    exact enough: scaling.py)."""
    return second - nk[..., None, None] * ybar[..., :, None] * ybar[..., None, :]
