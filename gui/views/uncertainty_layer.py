"""The bootstrap's overlay on the main plot (issue 25): each component's replicate means as a small
semi-transparent cloud in its colour, and the band around its ellipse (gui.scene.uncertainty) shaded in it."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainterPath
from PySide6.QtWidgets import QGraphicsPathItem

from ..scene.uncertainty import ViewUncertainty
from .palette import component_color

CLOUD_ALPHA = 90  # of 255: a cloud of 200 points stays see-through, its dense middle darker
BAND_ALPHA = 70
CLOUD_SIZE = 4


def band_path(lower: np.ndarray, upper: np.ndarray) -> QPainterPath:
    """The region between two closed rings (n, 2) each (display units): two subpaths, filled odd-even (the
    annulus). Rays no replicate crossed (NaN) are left out of their ring."""
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.OddEvenFill)
    for ring in (upper, lower):
        ring = ring[np.isfinite(ring).all(axis=1)]
        if len(ring) < 3:
            continue
        path.moveTo(QPointF(*ring[0]))
        for x, y in ring[1:]:
            path.lineTo(QPointF(x, y))
        path.closeSubpath()
    return path


class UncertaintyLayer:
    """The overlay's items on a PlotView: one scatter for every cloud, one shaded path a component's band. It
    draws what it is given (show) and nothing else; clear() and set_visible() hide it."""

    def __init__(self, plot) -> None:
        self.plot = plot
        self.clouds = pg.ScatterPlotItem(size=CLOUD_SIZE, pen=None)
        self.clouds.setZValue(8)  # over the points, under the ellipses (10) and the means (20)
        plot.addItem(self.clouds)
        self.bands: list[QGraphicsPathItem] = []
        self.visible = True
        self.shown: ViewUncertainty | None = None

    def show(self, vu: ViewUncertainty) -> None:
        """Draw vu (view units) in the plot's display units."""
        self.shown = vu
        display = self.plot.display
        k, b = vu.clouds.shape[:2]
        self.clouds.setData(
            pos=display.to_display(vu.clouds.reshape(k * b, 2)),
            brush=[pg.mkBrush(_alpha(j, CLOUD_ALPHA)) for j in range(k) for _ in range(b)],
        )
        while len(self.bands) < k:
            item = QGraphicsPathItem()
            item.setZValue(7)
            item.setPen(pg.mkPen(None))
            self.plot.addItem(item)
            self.bands.append(item)
        for j, item in enumerate(self.bands):
            if j < k:
                item.setPath(band_path(display.to_display(vu.lower[j]), display.to_display(vu.upper[j])))
                item.setBrush(pg.mkBrush(_alpha(j, BAND_ALPHA)))
            else:
                item.setPath(QPainterPath())
        self._apply()

    def clear(self) -> None:
        self.shown = None
        self.clouds.setData([], [])
        for item in self.bands:
            item.setPath(QPainterPath())

    def set_visible(self, on: bool) -> None:
        self.visible = on
        self._apply()

    def _apply(self) -> None:
        self.clouds.setVisible(self.visible)
        for item in self.bands:
            item.setVisible(self.visible)


def _alpha(k: int, alpha: int):
    colour = component_color(k)
    colour.setAlpha(alpha)
    return colour
