"""Internal standardisation: fits run on (x - center) / scale and parameters are mapped back.

EM is equivariant under this map when reg_covar is carried along (reg / scale^2 per axis), so a fit of
1e8 + noise, or of columns in different units, is the same fit as on centred data, mapped back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Scaling:
    """x_std = (x - center) / scale, per column. center and scale have shape (D,)."""

    center: np.ndarray
    scale: np.ndarray

    @staticmethod
    def identity(d: int) -> Scaling:
        return Scaling(np.zeros(d), np.ones(d))

    @staticmethod
    def fit(x: np.ndarray, isotropic: bool = False, moments: tuple[np.ndarray, np.ndarray] | None = None) -> Scaling:
        """Centre on the column means, scale by the column standard deviations (1 where constant).

        isotropic: one common scale for all columns (their RMS standard deviation). The covariance types whose
        form a per-axis scale would change need it (CovarianceType.isotropic): a sphere stays a sphere, a common
        orientation with varying shapes stays common, only under the same scale on every axis.
        moments: x's column_moments when they are known already.
        """
        center, scale = column_moments(x) if moments is None else moments
        if isotropic:
            scale = np.full_like(scale, np.sqrt(np.mean(scale**2)))
        scale = np.where(scale > 0, scale, 1.0)
        return Scaling(center.astype(np.float64), scale.astype(np.float64))

    @property
    def log_det(self) -> float:
        """log |det| of the map to data units; log p_data(x) = log p_std(x_std) - log_det."""
        return float(np.log(self.scale).sum())

    def data_to_std(self, x: np.ndarray) -> np.ndarray:
        y = x - self.center
        y /= self.scale  # in place: one copy of the data, not two (the same numbers)
        return y

    def write_std_transposed(self, x: np.ndarray, out: torch.Tensor) -> None:
        """Write x (N, D) float64 standardised and transposed into out (D, N) on the CPU, in out's dtype: the same
        numbers as data_to_std (one subtraction and one division each, rounded once more to a float32 out).
        Through torch, whose elementwise passes are threaded."""
        src = _as_tensor(x)
        center = torch.from_numpy(self.center)[:, None]
        scale = torch.from_numpy(self.scale)[:, None]
        if out.dtype == torch.float64:
            torch.sub(src.T, center, out=out).div_(scale)
        else:
            out.copy_(torch.sub(src.T, center).div_(scale))

    def means_to_data(self, means: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """means (..., D) in standardised units -> data units (a tensor or a NumPy array)."""
        return means * _t(self.scale, means) + _t(self.center, means)

    def means_to_std(self, means: torch.Tensor) -> torch.Tensor:
        return (means - _t(self.center, means)) / _t(self.scale, means)

    def cov_to_data(self, cov: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """covariances (..., D, D) in standardised units -> data units (a tensor or a NumPy array)."""
        s = _t(self.scale, cov)
        return cov * (s[..., :, None] * s[..., None, :])  # one product per entry: stays exactly symmetric

    def cov_to_std(self, cov: torch.Tensor) -> torch.Tensor:
        s = _t(self.scale, cov)
        return cov / (s.unsqueeze(-1) * s.unsqueeze(-2))

    def reg_to_std(self, floor: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        """The reg_covar floor (D,) in data units (see reg_floor) as a per-axis diagonal term (D,) in standardised
        units."""
        return _t(np.asarray(floor, dtype=np.float64), like) / _t(self.scale, like) ** 2


def reg_floor(reg_covar: float, units: str, std: np.ndarray, isotropic: bool) -> np.ndarray:
    """What reg_covar adds to each column's variance, in data units (D,).

    units "data": reg_covar itself (scikit-learn's meaning). "relative": reg_covar times the column's variance
    std**2 (D,), so the floor scales with the data; for isotropic covariance types the geometric mean of the columns'
    variances, so that the floor stays the same on every axis (a spherical covariance stays spherical). A constant
    column (std 0) counts as variance 1, as in the standardisation.
    """
    std = np.asarray(std, dtype=np.float64)
    if units == "data":
        return np.full(std.shape, float(reg_covar))
    var = np.where(std > 0, std, 1.0) ** 2
    if isotropic:
        # the geometric mean: the arithmetic one is the widest column's, and with columns 1000 times apart it was
        # half the narrow column's variance (EVE's fit fell from -1.16 to -1.35 per point against a floor in data
        # units); the geometric mean stays far below every column's variance for any ratio up to 1e6
        var = np.full_like(var, np.exp(np.log(var).mean()))
    return float(reg_covar) * var


def column_peaks(x: np.ndarray) -> np.ndarray:
    """The largest magnitude of each column (D,) of x (N, D); NaN where a column holds a NaN (and inf where it
    holds an infinity), so one check of these D numbers tells whether all of x is finite."""
    low, high = torch.aminmax(_as_tensor(x), dim=0)  # NaN propagates (torch's min and max do)
    return np.maximum(np.abs(low.numpy()), np.abs(high.numpy()))


def column_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (D,) of x (N, D) over the whole double range; not finite exactly where
    a column holds a NaN or an infinity.

    First computed as they are. Where that can have overflowed or lost bits (plain_moments_hold), they are
    computed again from the columns' largest magnitudes: where each lies in PLAIN_RANGE the sums of squares can
    neither overflow nor lose bits; otherwise each column is first divided by a power of two near its largest
    magnitude (exact), so 1e307 does not overflow in the squares and 1e-320 keeps its bits.
    """
    plain = _plain_moments(x)
    if plain_moments_hold(*plain):  # the usual case: one pass less than finding the peaks first
        return plain
    peak = column_peaks(x)
    lo, hi = PLAIN_RANGE
    if np.all((peak == 0) | ((peak >= lo) & (peak <= hi))):
        return plain
    exponent = np.frexp(np.where(peak > 0, peak, 1.0))[1]
    mean, std = _plain_moments(np.ldexp(x, -exponent))
    return np.ldexp(mean, exponent), np.ldexp(std, exponent)


def weighted_moments(x: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and (population) standard deviations (D,) of x (N, D) float64 under frequency weights (N,) >= 0
    with a positive sum: those of the rows repeated w times for whole weights. Points of weight 0 count for nothing
    (their deviations are multiplied by 0, never formed as 0 * inf: the data is checked finite first)."""
    t, w = _as_tensor(x), torch.from_numpy(np.ascontiguousarray(weights, dtype=np.float64))
    total = w.sum()
    mean = (w @ t) / total
    var = (w @ (t - mean).square_()) / total
    return mean.numpy(), torch.sqrt(var).numpy()


def plain_moments_hold(mean: np.ndarray, std: np.ndarray) -> bool:
    """Whether moments (D,) computed as they are (_plain_moments) are exact to rounding: nothing overflowed (an
    overflow leaves an infinity or a NaN) and no column's squared deviations fell below the normal range. A column
    whose standard deviation is at least PLAIN_RANGE[0] keeps its squares' bits (those below 1e-154 that vanish
    weigh less than 1e-90 of its variance); one at exactly 0 with a mean of at least PLAIN_RANGE[0] is constant
    (any other value would differ from it by at least its spacing there, 1e-116 or more, whose square is normal)."""
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        return False
    lo = PLAIN_RANGE[0]
    return bool(np.all((std >= lo) | ((std == 0) & (np.abs(mean) >= lo))))


# Magnitudes whose squares, summed over up to 1e100 points, stay normal float64 numbers.
PLAIN_RANGE = (1e-100, 1e100)


def _plain_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and (population) standard deviations (D,) of x (N, D) float64, in two passes with one
    temporary copy. Through torch: its column sums are vectorised across the columns and threaded, where NumPy's
    sums along axis 0 are not (measured: docs/performance.md, 'The E-step's layout': column moments)."""
    t = _as_tensor(x)
    mean = t.mean(0)
    dev = (t - mean).square_()
    return mean.numpy(), torch.sqrt(dev.sum(0) / x.shape[0]).numpy()


def _as_tensor(x: np.ndarray) -> torch.Tensor:
    """x as a tensor on its memory (a copy only when it has negative strides, which torch cannot view)."""
    return torch.from_numpy(x if all(step >= 0 for step in x.strides) else np.ascontiguousarray(x))


def _t(a: np.ndarray, like: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """a as an operand for `like`: itself for a NumPy array (the maps work on both), else a tensor."""
    if isinstance(like, np.ndarray):
        return a
    return torch.as_tensor(a, dtype=like.dtype, device=like.device)
