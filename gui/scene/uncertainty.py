"""No Qt: a fit's bootstrap (issue 25) in the plot's 2-D view: each component's replicate means (its cloud) and a
band around its ellipse.

The band of component k is the region between the 2.5% and 97.5% pointwise quantiles, over the replicates, of
where each replicate's BAND_SIGMA ellipse (centred at its own mean, so that it shows the means' spread and the
covariances' together) crosses each ray from the fitted mean. The rays are the fitted ellipse's own parametrisation,
mean + r L (cos t, sin t) with L L^T the fitted covariance: r is a Mahalanobis radius under the fit, so the fitted
ellipse is r = BAND_SIGMA at every t and the rays are spread evenly around it whatever the axes' units.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .frames import RING_POINTS, DataScene, view_mixture

BAND_SIGMA = 2.0  # the band surrounds the 2-sigma ellipse (the middle ring of the three drawn)
BAND_LEVEL = 0.95  # between the 2.5% and 97.5% quantiles of the replicates' radii, as the engine's intervals


@dataclass(frozen=True)
class Uncertainty:
    """A finished bootstrap and what it bootstrapped: boot (engine.Bootstrap, data units), the fit's snapshot and
    the job that made it (the overlay belongs to that fit only)."""

    boot: object
    snapshot: object
    job: object


@dataclass(frozen=True)
class ViewUncertainty:
    """The uncertainty in one view: clouds (K, B', 2) the replicates' means; lower, upper (K, n, 2) the band's
    inner and outer rings (NaN where no replicate's ellipse crosses a ray); the view's fitted means (K, 2)."""

    clouds: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    centers: np.ndarray


def fitted_rays(cov: np.ndarray, n: int = RING_POINTS) -> np.ndarray:
    """The rays L u_t (n, 2), L L^T = cov (2, 2) by its eigenvectors (as frames.ellipse_rings draws the ellipse),
    u_t = (cos t, sin t) for n angles t from 0 to 2 pi (the first and last the same: a closed ring)."""
    values, vectors = np.linalg.eigh(cov)
    t = np.linspace(0.0, 2.0 * np.pi, n)
    return ((vectors * np.sqrt(np.clip(values, 0.0, None))) @ np.stack([np.cos(t), np.sin(t)])).T


def ray_radii(
    center: np.ndarray, cov: np.ndarray, means: np.ndarray, covs: np.ndarray, sigma: float = BAND_SIGMA, n=RING_POINTS
) -> np.ndarray:
    """Where each replicate's sigma-ellipse crosses each ray center + r L u_t (L L^T = cov, u_t on the unit circle,
    t in [0, 2 pi], n of them): the largest root r of (d + r L u)^T P_b (d + r L u) = sigma^2, d = center - m_b,
    P_b = inverse of covs[b]. center (2,), cov (2, 2), means (B, 2), covs (B, 2, 2) -> r (B, n), NaN where the
    ray misses the ellipse."""
    rays = fitted_rays(cov, n).T  # (2, n)
    precision = np.linalg.inv(covs)  # (B, 2, 2)
    d = center[None, :] - means  # (B, 2)
    pr = precision @ rays  # (B, 2, n)
    a = np.einsum("in,bin->bn", rays, pr)
    b = np.einsum("bi,bin->bn", d, pr)
    c = np.einsum("bi,bij,bj->b", d, precision, d) - sigma**2
    disc = b**2 - a * c[:, None]
    with np.errstate(invalid="ignore"):
        return np.where(disc >= 0, (-b + np.sqrt(np.where(disc >= 0, disc, 0.0))) / a, np.nan)


def band_rings(
    center: np.ndarray, cov: np.ndarray, means: np.ndarray, covs: np.ndarray, level: float = BAND_LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """The band's inner and outer rings (n, 2) each: center + q L u_t at the (1 - level)/2 and (1 + level)/2
    quantiles q of ray_radii over the replicates (means (B, 2), covs (B, 2, 2)); NaN where every ray misses."""
    radii = ray_radii(center, cov, means, covs)
    tail = (1.0 - level) / 2.0
    if not np.isnan(radii).any():  # the usual case: np.quantile is vectorised, nanquantile loops over the rays
        q = np.quantile(radii, [tail, 1.0 - tail], axis=0)  # (2, n)
    else:
        with warnings.catch_warnings():  # a ray no replicate's ellipse crosses: NaN, said by the docstring
            warnings.simplefilter("ignore", RuntimeWarning)
            q = np.nanquantile(radii, [tail, 1.0 - tail], axis=0)
    rays = fitted_rays(cov, radii.shape[1])
    return center + q[0][:, None] * rays, center + q[1][:, None] * rays


def in_view(scene: DataScene, unc: Uncertainty) -> ViewUncertainty | None:
    """The uncertainty in the scene's 2-D view (None for 1-D data: the table shows the standard errors there)."""
    if scene.view is None:
        return None
    boot, snap = unc.boot, unc.snapshot
    centers, fitted = view_mixture(scene, snap.means, snap.covariances)  # (K, 2), (K, 2, 2)
    means, covs = view_mixture(scene, boot.means, boot.covariances)  # (B', K, 2), (B', K, 2, 2)
    rings = [band_rings(centers[k], fitted[k], means[:, k], covs[:, k]) for k in range(len(centers))]
    lower = np.stack([r[0] for r in rings])
    upper = np.stack([r[1] for r in rings])
    return ViewUncertainty(np.swapaxes(means, 0, 1), lower, upper, centers)
