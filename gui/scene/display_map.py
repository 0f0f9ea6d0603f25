"""Data units <-> the plot's display units, per axis: display = (value - offset) / unit (NumPy only, no Qt).

pyqtgraph and Qt draw well only near unit scale: a ViewBox will not show a span under ~1e-12 of its values (and
its degenerate-range rules are in absolute units), and QPainterPath coordinates near 1e145 overflow in the raster
engine (stray straight lines through ellipses and contours). Every item on a plot is therefore handed display
coordinates, and every position read back from the plot (a click, a dragged handle) is mapped back to data units,
through one DisplayMap. The axes show true values (AxisItem's scale is the unit; the offset is in the axis
label: "x0 − 1e+08").

Data whose view spans between IDENTITY_SPAN's bounds and lies near 0 gets the identity map: it is drawn in its
own numbers, exactly as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

IDENTITY_SPAN = (1e-3, 1e5)  # an axis whose span lies in this range is drawn in its own units
# an axis whose middle is more than this many spans from 0 is drawn about an offset: its ticks would need more
# digits than a tick label shows (pyqtgraph's "%g": six) to tell the values apart
OFFSET_RATIO = 1e4


@dataclass(frozen=True)
class DisplayMap:
    """display = (value - offset) / unit for each of the two axes; offset (2,), unit (2,) (a power of ten)."""

    offset: tuple[float, float] = (0.0, 0.0)
    unit: tuple[float, float] = (1.0, 1.0)

    @property
    def identity(self) -> bool:
        return self.offset == (0.0, 0.0) and self.unit == (1.0, 1.0)

    def to_display(self, xy: np.ndarray) -> np.ndarray:
        """Points (..., 2) in data units -> display units (the same array when the map is the identity)."""
        xy = np.asarray(xy, dtype=np.float64)
        if self.identity:
            return xy
        return (xy - np.asarray(self.offset)) / np.asarray(self.unit)

    def to_data(self, xy: np.ndarray) -> np.ndarray:
        """Points (..., 2) in display units -> data units."""
        xy = np.asarray(xy, dtype=np.float64)
        if self.identity:
            return xy
        return xy * np.asarray(self.unit) + np.asarray(self.offset)

    def covariance_to_display(self, cov: np.ndarray) -> np.ndarray:
        """Covariances (..., 2, 2) in data units -> display units (S_ij / (unit_i unit_j))."""
        cov = np.asarray(cov, dtype=np.float64)
        return cov if self.identity else cov / np.outer(self.unit, self.unit)

    def covariance_to_data(self, cov: np.ndarray) -> np.ndarray:
        """Covariances (..., 2, 2) in display units -> data units."""
        cov = np.asarray(cov, dtype=np.float64)
        return cov if self.identity else cov * np.outer(self.unit, self.unit)

    def range_to_display(self, axis: int, lo: float, hi: float) -> tuple[float, float]:
        """An interval of axis 0 (x) or 1 (y) in data units -> display units."""
        o, u = self.offset[axis], self.unit[axis]
        return (lo - o) / u, (hi - o) / u

    def range_to_data(self, axis: int, lo: float, hi: float) -> tuple[float, float]:
        """An interval of axis 0 (x) or 1 (y) in display units -> data units."""
        o, u = self.offset[axis], self.unit[axis]
        return lo * u + o, hi * u + o

    def offset_note(self, axis: int) -> str:
        """What the axis title adds to its name: " − 1e+08" (the offset subtracted: "x0 − 1e+08"), or "" when there
        is none."""
        o = self.offset[axis]
        if o == 0.0:
            return ""
        return f" − {offset_text(o)}" if o > 0 else f" + {offset_text(-o)}"


IDENTITY = DisplayMap()


def map_for(bounds: tuple[float, float, float, float], flat: tuple[bool, bool] = (False, False)) -> DisplayMap:
    """The map for a view whose data-unit bounds are (xmin, xmax, ymin, ymax): each axis's span about 1-10
    display units, about a round offset when the values are far from 0 for their span. flat: the axes whose
    data is one repeated value (their bounds are a made-up sliver): scaled by the value's size, no offset."""
    x = _axis(bounds[0], bounds[1], flat[0])
    y = _axis(bounds[2], bounds[3], flat[1])
    return DisplayMap((x[0], y[0]), (x[1], y[1]))


def _axis(lo: float, hi: float, flat: bool = False) -> tuple[float, float]:
    """(offset, unit) of one axis spanning [lo, hi] in data units (flat: one value, in that sliver)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0
    span = hi - lo if math.isfinite(hi - lo) else math.inf
    mid = lo / 2 + hi / 2  # halves first: no overflow near the largest floats
    if flat or not span > 0 or not math.isfinite(span):
        # one value (a point drawn by hand): its own size is the scale, so that the next points drawn near it
        # keep the map (and the view its range)
        span = abs(mid) if mid != 0 else 1.0
        return 0.0, 1.0 if IDENTITY_SPAN[0] <= span <= IDENTITY_SPAN[1] else 10.0 ** math.floor(math.log10(span))
    power = math.floor(math.log10(span))
    unit = 1.0 if IDENTITY_SPAN[0] <= span <= IDENTITY_SPAN[1] else 10.0**power
    offset = 0.0
    if abs(mid) > OFFSET_RATIO * span:
        # a round offset: the float nearest a decimal whose digits stop above the span's leading digit
        decimals = min(max(math.floor(math.log10(abs(mid))) - power - 1, 0), 16)
        offset = float(f"{mid:.{decimals}e}")
    return offset, unit


def offset_text(offset: float) -> str:
    """A round offset as its shortest decimal (100000000, 1.00001e+145)."""
    text = repr(float(offset))
    return text[:-2] if text.endswith(".0") else text
