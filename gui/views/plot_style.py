"""How plots look: the pens of ellipses and contours, the density image's colours, a light grid, axes without SI
prefixes, and the density image as PNG for the SVG export."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetricsF

from .palette import component_color

CONTOUR_PEN = pg.mkPen("#303030", width=1, alpha=0.6)

MIXTURE_PEN = pg.mkPen("#202020", width=2.5)


def ellipse_pen(k: int, state: str):
    """Solid for a healthy component; dashed when it is collapsing or has few points; dotted when re-seeded."""
    if state in ("collapsing", "few points", "empty"):
        return pg.mkPen(component_color(k), width=3, style=Qt.PenStyle.DashLine)
    if state == "re-seeded":
        return pg.mkPen(component_color(k), width=2.5, style=Qt.PenStyle.DotLine)
    return pg.mkPen(component_color(k), width=2)


def no_si_prefix(axis: pg.AxisItem) -> None:
    """Never an SI prefix ("(x0.001)") on the axis. enableAutoSIPrefix(False) alone is not enough in pyqtgraph
    0.14: it computes the prefix once more as it is called (for a visible label, from the range and scale of
    that moment) and then keeps it; with no range enabled for prefixes that computation gives none."""
    axis.setSIPrefixEnableRanges(((0.0, -1.0),))  # an empty range: no value ever gets a prefix
    axis.enableAutoSIPrefix(False)


def room_for_edge_ticks(plot: pg.PlotWidget) -> None:
    """Room above the view for half a tick label: a value on the view's top edge ('0.25' over a 1-D density, the
    last value of a range) is centred on it and was cut in half by the widget's edge."""
    left, top, right, bottom = plot.plotItem.layout.getContentsMargins()
    half = math.ceil(QFontMetricsF(plot.font()).height() / 2)
    plot.plotItem.layout.setContentsMargins(left, max(top, half), right, bottom)


def add_light_grid(plot: pg.PlotWidget) -> None:
    """A light one-level grid as its own item: the axes' own grid (showGrid) and a three-level GridItem
    cost far more a repaint, and a live fit repaints often."""
    grid = pg.GridItem(pen=pg.mkPen(225, 228, 235), textPen=None)
    grid.setTickSpacing(x=[None], y=[None])
    grid.setZValue(-30)
    plot.addItem(grid)


def png_base64(rgba: np.ndarray) -> str:
    """PNG bytes (base64) of an RGBA uint8 image (H, W, 4)."""
    import base64

    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage

    rgba = np.ascontiguousarray(rgba)
    image = QImage(rgba.data, rgba.shape[1], rgba.shape[0], rgba.shape[1] * 4, QImage.Format.Format_RGBA8888)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return base64.b64encode(bytes(data)).decode("ascii")


def density_lut() -> np.ndarray:
    """White to blue-grey: the density image stays behind the coloured sample."""
    t = np.linspace(0.0, 1.0, 256)[:, None]
    white, deep = np.array([255, 255, 255]), np.array([70, 90, 130])
    rgb = (white * (1 - t) + deep * t).astype(np.uint8)
    return np.hstack([rgb, np.full((256, 1), 255, dtype=np.uint8)])
