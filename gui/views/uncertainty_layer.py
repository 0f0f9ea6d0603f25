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
    """The overlay's items on a PlotView: a scatter and a shaded path (its band) a component. It
    draws what it is given (show) and nothing else; clear() and set_visible() hide it."""

    def __init__(self, plot) -> None:
        self.plot = plot
        # one scatter a component, each with one brush: a brush per point makes pyqtgraph render a symbol per point
        self.clouds: list[pg.ScatterPlotItem] = []
        self.bands: list[QGraphicsPathItem] = []
        self.visible = True
        self.shown: ViewUncertainty | None = None
        self._display = None  # the display map it was drawn in

    def show(self, vu: ViewUncertainty) -> None:
        """Draw vu (view units) in the plot's display units (once: the same vu again only shows it)."""
        if vu is self.shown and self.plot.display is self._display:
            return
        self.shown, self._display = vu, self.plot.display
        display = self.plot.display
        k, b = vu.clouds.shape[:2]
        while len(self.clouds) < k:
            cloud = pg.ScatterPlotItem(size=CLOUD_SIZE, pen=None)
            cloud.setZValue(8)  # over the points, under the ellipses (10) and the means (20)
            self.plot.addItem(cloud)
            self.clouds.append(cloud)
        for j, cloud in enumerate(self.clouds):
            if j < k:
                cloud.setData(pos=display.to_display(vu.clouds[j]), brush=cloud_brush(j, CLOUD_ALPHA))
            else:
                cloud.setData([], [])
        while len(self.bands) < k:
            item = QGraphicsPathItem()
            item.setZValue(7)
            item.setPen(pg.mkPen(None))
            self.plot.addItem(item)
            self.bands.append(item)
        for j, item in enumerate(self.bands):
            if j < k:
                item.setPath(band_path(display.to_display(vu.lower[j]), display.to_display(vu.upper[j])))
                item.setBrush(cloud_brush(j, BAND_ALPHA))
            else:
                item.setPath(QPainterPath())
        self._apply()

    def clear(self) -> None:
        self.shown = None
        for cloud in self.clouds:
            cloud.setData([], [])
        for item in self.bands:
            item.setPath(QPainterPath())

    def set_visible(self, on: bool) -> None:
        self.visible = on
        self._apply()

    def _apply(self) -> None:
        for item in (*self.clouds, *self.bands):
            item.setVisible(self.visible)


def cloud_brush(k: int, alpha: int):
    """Component k's colour, see-through (alpha of 255), as a brush."""
    colour = component_color(k)
    colour.setAlpha(alpha)
    return pg.mkBrush(colour)
