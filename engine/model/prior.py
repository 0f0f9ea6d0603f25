"""mclust's default conjugate prior (Fraley & Raftery 2007, J. Classification 24: 155-181), as `defaultPrior`.

Each component's mean has a normal prior N(mu_P, Sigma_k / kappa_P) and its covariance a conjugate prior of
its family: an inverse gamma on the variance (spherical models), on each axis's variance (diagonal models), an
inverse Wishart (ellipsoidal models), with nu_P degrees of freedom and the scale of the data's spread shared
among K components. mclust puts no prior on the mixing weights. The MAP M-steps are in prior_mstep.py; the
log-likelihood and BIC reported with a prior are the plain ones at the MAP parameters (prior_fit.py).

Shapes: N points, D dimensions, K components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPHERICAL = ("EII", "VII")
DIAGONAL = ("EEI", "VEI", "EVI", "VVI")
ELLIPSOIDAL = ("EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
# the ten models mclust fits with a prior, in mclust's order; it leaves VEE, EVE, VVE and EVV out (their
# mstep has no prior branch, and mclustBIC(prior = priorControl()) reports NA for them)
PRIOR_MODELS = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "EEV", "VEV", "VVV")
NO_PRIOR_MODELS = ("VEE", "EVE", "VVE", "EVV")
DEFAULT_SHRINKAGE = 0.01  # mclust's priorControl() default


@dataclass(frozen=True, eq=False)
class Prior:
    """A conjugate prior: shrinkage kappa_P > 0, mean mu_P (D,), degrees of freedom nu_P and a scale.

    scale: a number (spherical models: the inverse gamma's scale zeta_P^2), a (D,) vector (diagonal models: one
    scale per axis; mclust's default gives every axis the same) or a (D, D) positive definite matrix
    (ellipsoidal models: the inverse Wishart's scale Lambda_P).
    """

    shrinkage: float
    mean: np.ndarray
    dof: float
    scale: float | np.ndarray

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        scale = self.scale if np.ndim(self.scale) == 0 else np.asarray(self.scale, dtype=np.float64)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "scale", float(scale) if np.ndim(scale) == 0 else scale)
        d = mean.shape[0]
        if not (np.isfinite(self.shrinkage) and self.shrinkage > 0):
            # mclust drops the mean's prior at kappa = 0 and changes its denominators: not supported here
            raise ValueError(f"prior shrinkage {self.shrinkage!r}: give a positive number (mclust's is 0.01)")
        if not (np.isfinite(self.dof) and self.dof > 0):
            raise ValueError(f"prior degrees of freedom {self.dof!r}: give a positive number (mclust's is D + 2)")
        if not np.all(np.isfinite(mean)):
            raise ValueError("prior mean: give finite numbers, one per column")
        _check_scale(self.scale, d)

    @property
    def family(self) -> str:
        """'spherical', 'diagonal' or 'ellipsoidal': the models this prior's scale is for."""
        return {0: "spherical", 1: "diagonal", 2: "ellipsoidal"}[np.ndim(self.scale)]

    def fits(self, model: str) -> bool:
        """Whether this prior's scale has the form the mclust model `model` needs."""
        return model in _FAMILY_MODELS[self.family]


_FAMILY_MODELS = {"spherical": SPHERICAL, "diagonal": DIAGONAL, "ellipsoidal": ELLIPSOIDAL}


def _check_scale(scale: float | np.ndarray, d: int) -> None:
    """One line on a scale of the wrong shape or not positive (definite)."""
    if np.ndim(scale) == 0:
        ok = np.isfinite(scale) and scale > 0
        what = "a positive number"
    elif np.ndim(scale) == 1:
        ok = scale.shape == (d,) and bool(np.all(np.isfinite(scale)) and np.all(scale > 0))
        what = f"{d} positive numbers"
    else:
        ok = scale.shape == (d, d) and bool(np.all(np.isfinite(scale))) and np.allclose(scale, scale.T)
        ok = ok and bool(np.linalg.eigvalsh(scale).min() > 0)
        what = f"a symmetric positive definite {d} x {d} matrix"
    if not ok:
        raise ValueError(f"prior scale of shape {np.shape(scale)}: give {what}")


def prior_family(model: str) -> str:
    """The family of an mclust model name ('spherical', 'diagonal' or 'ellipsoidal'); one line if unknown."""
    for family, models in _FAMILY_MODELS.items():
        if model in models:
            return family
    known = ", ".join(SPHERICAL + DIAGONAL + ELLIPSOIDAL)
    raise ValueError(f"model {model!r} has no default prior: give one of {known}")


def check_prior_model(model: str) -> None:
    """One line for the four models mclust fits no prior for (and for an unknown name)."""
    prior_family(model)
    if model in NO_PRIOR_MODELS:
        fitted = ", ".join(PRIOR_MODELS)
        raise ValueError(f"model {model} is not fitted with a prior (mclust fits none for it): use one of {fitted}")


def default_prior(x: np.ndarray, k: int, model: str, shrinkage: float = DEFAULT_SHRINKAGE) -> Prior:
    """mclust's defaultPrior(x, G = k, modelName = model) for data x (N, D), N >= 2.

    kappa_P = shrinkage (0.01), mu_P = the column means, nu_P = D + 2, and the scale: for the spherical and
    diagonal models sum_j var(x_j) / D * (1/K)^(2/D) (a number, or that number on each of the D axes), for the
    ellipsoidal ones cov(x) * (1/K)^(2/D) (diag(var(x_j)) * (1/K)^(2/D) when N <= D). Variances with N - 1.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"data of shape {x.shape}: the default prior needs a matrix of at least two rows")
    d = x.shape[1]
    return prior_from_moments(
        x.mean(axis=0), np.cov(x, rowvar=False, ddof=1).reshape(d, d), x.shape[0], k, model, shrinkage
    )


def prior_from_moments(
    mean: np.ndarray, cov: np.ndarray, n: int, k: int, model: str, shrinkage: float = DEFAULT_SHRINKAGE
) -> Prior:
    """default_prior from the data's column means (D,), covariance matrix (D, D) (with N - 1) and row count N: what
    a fit that holds only the data's moments needs."""
    if k < 1:
        raise ValueError(f"k = {k}: the default prior needs at least one component")
    family = prior_family(model)
    d = len(mean)
    factor = (1.0 / k) ** (2.0 / d)  # each of K components covers about 1/K of the data's volume
    variances = np.diagonal(cov).copy()
    if family == "ellipsoidal":
        scale = factor * (cov if n > d else np.diag(variances))
    else:
        scale = factor * variances.sum() / d
        scale = scale if family == "spherical" else np.full(d, scale)
    return Prior(shrinkage=shrinkage, mean=np.asarray(mean, dtype=np.float64), dof=d + 2.0, scale=scale)


# the models whose MAP M-step commutes with a different scale on each axis; the others (spherical ones, EEV, VEV)
# need the isotropic standardisation (one scale on every axis), as the spherical covariance types do
PER_AXIS_SCALING_MODELS = ("EEI", "VEI", "EVI", "VVI", "EEE", "VVV")


def prior_to_std(prior: Prior, center: np.ndarray, scale: np.ndarray) -> Prior:
    """The same prior in standardised coordinates x_std = (x - center) / scale (Scaling's center and scale, (D,)).

    The MAP M-step on the standardised statistics, mapped back, is then the MAP M-step on the data (the inverse
    gamma and Wishart modes move with the scale; mclust's formulas are all homogeneous of degree 2): for every
    model under one common scale, and under per-axis scales for PER_AXIS_SCALING_MODELS.
    """
    center, scale = np.asarray(center, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    if np.ndim(prior.scale) == 0:
        if not np.allclose(scale, scale[0], rtol=1e-12, atol=0):
            raise ValueError("a spherical prior needs one common scale on every axis (the isotropic standardisation)")
        new_scale: float | np.ndarray = prior.scale / float(scale[0]) ** 2
    elif np.ndim(prior.scale) == 1:
        new_scale = prior.scale / scale**2
    else:
        new_scale = prior.scale / np.outer(scale, scale)
    return Prior(shrinkage=prior.shrinkage, mean=(prior.mean - center) / scale, dof=prior.dof, scale=new_scale)
