"""The registry of covariance types: what each one changes in the model, in one place.

A covariance type is its M-step (the weighted maximum-likelihood covariances from the sufficient statistics),
its projection of full covariances (a start or imported parameters), its number of free parameters (BIC,
AIC), its export form (scikit-learn's `covariances_`) and whether the standardisation must keep one scale on
every axis. Every covariance is held as full (K, D, D) matrices everywhere else, so a new type is one entry
here. Shapes: R restarts, K components, D dimensions.

mclust's fourteen models, Sigma_k = lambda_k D_k A_k D_k^T (volume, shape, orientation; Celeux & Govaert 1995):
closed forms in closed.py, the alternating updates of VEI, VEE, VEV in alternating.py, the common orientation of
EVE and VVE (Browne & McNicholas's majorise-minimise update) in orientation.py, the shared algebra in algebra.py.

Importing this package does not import torch (the window reads the names before the engine's torch part
loads); the functions that need it import it when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import alternating, closed, orientation
from .algebra import projection_of

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class CovarianceType:
    """One covariance structure of the mixture's components."""

    name: str
    description: str  # one line, for help texts
    # M-step: second (R, K, D, D) = sum_n r x x^T, nk (R, K), outer (R, K, D, D) = mu mu^T, previous (R, K, D, D)
    # the covariances before this step or None -> covariances (R, K, D, D) as full matrices, before reg_covar.
    # The iterative updates start from previous (so EM stays monotone); the closed forms ignore it.
    update: Callable[..., Tensor]
    # full covariances (..., K, D, D) and optional weights (..., K) -> the nearest of this type (full matrices)
    project: Callable[[Tensor, Tensor | None], Tensor]
    n_cov_parameters: Callable[[int, int], int]  # (K, D) -> free covariance parameters
    export: Callable[[np.ndarray], np.ndarray]  # full (K, D, D) -> scikit-learn's covariances_ for this type
    # The standardisation must use one common scale on every axis (and reg_covar the same floor on each): scaling
    # each axis apart would change the model's form. True where the form fixes a sphere (EII, VII), a common
    # orientation with varying shapes (EVE, VVE) or a common shape with varying orientations (EEV, VEV).
    isotropic: bool = False
    model: str = ""  # mclust's name (Celeux & Govaert's volume, shape, orientation: E equal, V varying, I identity)
    # reg_covar goes into the scatter matrices (W_k + n_k diag(reg)) before the update, not onto its answer: where the
    # components are coupled (a common volume, shape or orientation) a component on too few points then stays a
    # regular matrix inside the fit; added after, it could not keep EM from falling back (EVV: a component on two
    # points took volume 0 and an unbounded shape, and the others' common volume with it). For scikit-learn's four
    # both are the same covariances; those keep adding it after, as scikit-learn does, to the same bits.
    floor_in_scatter: bool = False
    # The update treats a component with N_k = 0 (the grid's padding: zero sums, N_k = eps, scatter 0 or eps reg)
    # as absent: the others' covariances and every shared part (volume, shape, orientation) come out the same
    # (to rounding), and its own is finite. The grid then runs every K of the type in one padded call per
    # iteration (engine/inference/em.py); a type without the claim runs on each K's real components apart.
    # Every registered model has it (tests/engine/test_pad_safe.py); a type added elsewhere must earn it. The claim
    # is this maximum-likelihood update's: the conjugate prior's MAP M-steps (prior_mstep.py) count K in their
    # denominators (EII, EEE) and give an empty component the prior's scale in a shared sum (EVI, VEI, ...), so a
    # grid fitted with a prior must run each K's real components apart.
    pad_safe: bool = False

    def n_parameters(self, k: int, d: int) -> int:
        """Free parameters of a K-component mixture in D dimensions (mclust's nMclustParams without a prior)."""
        return self.n_cov_parameters(k, d) + k * d + k - 1


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


def _full_copy(full: np.ndarray) -> np.ndarray:
    """The stored form of the ten models scikit-learn lacks: full (K, D, D) matrices."""
    return full.copy()


def _mclust(
    model: str,
    description: str,
    update: Callable[..., Tensor],
    count: Callable[[int, int], int],
    nearest: Callable[..., Tensor] | None = None,
) -> None:
    """Register one of the ten models scikit-learn lacks, by its mclust name; nearest: the update its projection
    runs, where that differs from the M-step's (EVE, VVE: without the singular-scatter check)."""
    isotropic = model in ("EII", "EVE", "VVE", "EEV", "VEV")  # VII is "spherical"
    project = projection_of(update if nearest is None else nearest)
    register(CovarianceType(model, description, update, project, count, _full_copy, isotropic, model, True, True))


register(
    CovarianceType(
        "full",
        "each component its own covariance matrix",
        closed.full,
        closed.full_project,
        lambda k, d: k * d * (d + 1) // 2,
        lambda full: full.copy(),
        model="VVV",
        pad_safe=True,
    )
)
register(
    CovarianceType(
        "tied",
        "one covariance matrix shared by every component",
        closed.tied,
        closed.tied_project,
        lambda k, d: d * (d + 1) // 2,
        lambda full: full[0].copy(),
        model="EEE",
        pad_safe=True,
    )
)
register(
    CovarianceType(
        "diag",
        "each component its own axis-aligned (diagonal) covariance",
        closed.diag,
        closed.diag_project,
        lambda k, d: k * d,
        lambda full: np.diagonal(full, axis1=1, axis2=2).copy(),
        model="VVI",
        pad_safe=True,
    )
)
register(
    CovarianceType(
        "spherical",
        "each component one variance, the same along every axis",
        closed.spherical,
        closed.spherical_project,
        lambda k, d: k,
        lambda full: full[:, 0, 0].copy(),
        isotropic=True,
        model="VII",
        pad_safe=True,
    )
)
# mclust's counts (nMclustParams less the K D means and K - 1 weights); lambda volume, A shape, D orientation
_mclust("EII", "spheres of one size: one variance for every component and axis", closed.eii, lambda k, d: 1)
_mclust("EEI", "one axis-aligned ellipsoid shared by every component", closed.eei, lambda k, d: d)
_mclust("VEI", "axis-aligned, one shape, each component its own volume", alternating.vei, lambda k, d: k + d - 1)
_mclust("EVI", "axis-aligned, one volume, each component its own shape", closed.evi, lambda k, d: 1 + k * (d - 1))
_mclust(
    "VEE",
    "one shape and orientation, each component its own volume",
    alternating.vee,
    lambda k, d: k + d * (d + 1) // 2 - 1,
)
_mclust(
    "EVE",
    "one volume and orientation, each component its own shape",
    orientation.eve,
    lambda k, d: 1 + k * (d - 1) + d * (d - 1) // 2,
    orientation.eve_nearest,
)
_mclust(
    "VVE",
    "one orientation, each component its own volume and shape",
    orientation.vve,
    lambda k, d: k * d + d * (d - 1) // 2,
    orientation.vve_nearest,
)
_mclust(
    "EEV", "one volume and shape, each component its own orientation", closed.eev, lambda k, d: d + k * d * (d - 1) // 2
)
_mclust(
    "VEV",
    "one shape, each component its own volume and orientation",
    alternating.vev,
    lambda k, d: k + d - 1 + k * d * (d - 1) // 2,
)
_mclust(
    "EVV",
    "one volume, each component its own shape and orientation",
    closed.evv,
    lambda k, d: 1 + k * (d * (d + 1) // 2 - 1),
)
