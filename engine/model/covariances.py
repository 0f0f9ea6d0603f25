"""The registry of covariance types: what each one changes in the model, in one place.

A covariance type is its M-step (the weighted maximum-likelihood covariances from the sufficient statistics),
its projection of full covariances (a start or imported parameters), its number of free parameters (BIC,
AIC), its export form (scikit-learn's `covariances_`) and whether the standardisation must keep one scale on
every axis. Every covariance is held as full (K, D, D) matrices everywhere else, so a new type is one entry
here. Shapes: R restarts, K components, D dimensions.

Importing this module does not import torch (the window reads the names before the engine's torch part
loads); the functions that need it import it when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class CovarianceType:
    """One covariance structure of the mixture's components."""

    name: str
    description: str  # one line, for help texts
    # M-step: second (R, K, D, D) = sum_n r x x^T, nk (R, K), outer (R, K, D, D) = mu mu^T -> covariances (R, K,
    # D, D) as full matrices, before reg_covar
    update: Callable[[Tensor, Tensor, Tensor], Tensor]
    # full covariances (..., K, D, D) and optional weights (..., K) -> the nearest of this type (full matrices)
    project: Callable[[Tensor, Tensor | None], Tensor]
    n_cov_parameters: Callable[[int, int], int]  # (K, D) -> free covariance parameters
    export: Callable[[np.ndarray], np.ndarray]  # full (K, D, D) -> scikit-learn's covariances_ for this type
    isotropic: bool = False  # the standardisation must use one common scale (a sphere stays a sphere)
    model: str = ""  # mclust's name (Celeux & Govaert's volume, shape, orientation: E equal, V varying, I identity)

    def n_parameters(self, k: int, d: int) -> int:
        """Free parameters of a K-component mixture in D dimensions (as scikit-learn counts them)."""
        return self.n_cov_parameters(k, d) + k * d + k - 1


def _diagonal(cov: Tensor) -> Tensor:
    return cov.diagonal(dim1=-2, dim2=-1)


def _eye_like(cov: Tensor) -> Tensor:
    import torch

    return torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)


def _full_update(second: Tensor, nk: Tensor, outer: Tensor) -> Tensor:
    return second / nk[..., None, None] - outer


def _tied_update(second: Tensor, nk: Tensor, outer: Tensor) -> Tensor:
    shared = (second - nk[..., None, None] * outer).sum(-3) / nk.sum(-1)[..., None, None]
    return shared.unsqueeze(-3).expand_as(second).clone()


def _diag_update(second: Tensor, nk: Tensor, outer: Tensor) -> Tensor:
    return _diag_project(_full_update(second, nk, outer))


def _spherical_update(second: Tensor, nk: Tensor, outer: Tensor) -> Tensor:
    return _spherical_project(_full_update(second, nk, outer))


def _full_project(cov: Tensor, weights: Tensor | None = None) -> Tensor:
    return cov


def _tied_project(cov: Tensor, weights: Tensor | None = None) -> Tensor:
    """The weighted average of the components' covariances (equal weights when none are given)."""
    import torch

    w = torch.full(cov.shape[:-2], 1.0 / cov.shape[-3], dtype=cov.dtype) if weights is None else weights
    shared = (w[..., None, None] * cov).sum(-3) / w.sum(-1)[..., None, None]
    return shared.unsqueeze(-3).expand_as(cov).clone()


def _diag_project(cov: Tensor, weights: Tensor | None = None) -> Tensor:
    import torch

    return torch.diag_embed(_diagonal(cov))


def _spherical_project(cov: Tensor, weights: Tensor | None = None) -> Tensor:
    return _diagonal(cov).mean(-1)[..., None, None] * _eye_like(cov)


COVARIANCE_TYPES: dict[str, CovarianceType] = {}  # by name: scikit-learn's where it has one, else mclust's
# mclust's fourteen models, in mclust's order (Sigma_k = lambda_k D_k A_k D_k^T: volume, shape, orientation)
MCLUST_MODELS = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
SKLEARN_TYPES = ("full", "tied", "diag", "spherical")  # scikit-learn's four: VVV, EEE, VVI, VII


def covariance_type(name: str) -> CovarianceType:
    """The registered type called `name`: its registry name (full, tied, ...) or its mclust name (any case).
    KeyError when none is."""
    if name in COVARIANCE_TYPES:
        return COVARIANCE_TYPES[name]
    for cov_type in COVARIANCE_TYPES.values():
        if cov_type.model and cov_type.model == name.upper():
            return cov_type
    raise KeyError(name)


def register(cov_type: CovarianceType) -> CovarianceType:
    """Add a covariance type (its name must be new); the command line and the window list it."""
    if cov_type.name in COVARIANCE_TYPES:
        raise ValueError(f"covariance type {cov_type.name!r} is already registered")
    COVARIANCE_TYPES[cov_type.name] = cov_type
    return cov_type


register(
    CovarianceType(
        "full",
        "each component its own covariance matrix",
        _full_update,
        _full_project,
        lambda k, d: k * d * (d + 1) // 2,
        lambda full: full.copy(),
        model="VVV",
    )
)
register(
    CovarianceType(
        "tied",
        "one covariance matrix shared by every component",
        _tied_update,
        _tied_project,
        lambda k, d: d * (d + 1) // 2,
        lambda full: full[0].copy(),
        model="EEE",
    )
)
register(
    CovarianceType(
        "diag",
        "each component its own axis-aligned (diagonal) covariance",
        _diag_update,
        _diag_project,
        lambda k, d: k * d,
        lambda full: np.diagonal(full, axis1=1, axis2=2).copy(),
        model="VVI",
    )
)
register(
    CovarianceType(
        "spherical",
        "each component one variance, the same along every axis",
        _spherical_update,
        _spherical_project,
        lambda k, d: k,
        lambda full: full[:, 0, 0].copy(),
        isotropic=True,
        model="VII",
    )
)
