"""The points of a plot: `PointCloudItem`, cheaper to paint than a wide-pen drawPoints and much cheaper to update
than pyqtgraph's ScatterPlotItem (measured: docs/performance.md, 'The window')."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from pyqtgraph.Qt.internals import PrimitiveArray
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap

from .palette import UNFITTED, component_color

POINT_PX = 3  # point size in pixels


class PointCloudItem(pg.GraphicsObject):
    """Points as square dots coloured by group, blitted from a tiny atlas with drawPixmapFragments.

    Setting the points is NumPy and painting them one blit per point: QPainter.drawPoints with a wide pen
    paints several times slower, and ScatterPlotItem.setData runs Python per point (bench/bench_gui_stall.py).
    """

    def __init__(self) -> None:
        super().__init__()
        self._xy = np.empty((0, 2))
        self._colour_index = np.empty(0, dtype=np.int64)
        self._colours: list[QColor] = []
        self._atlas: QPixmap | None = None
        self._atlas_dpr = 0.0
        self._fragments = PrimitiveArray(QPainter.PixmapFragment, 10)
        self._rect = QRectF()
        self._key: tuple | None = None
        # Repaints caused by other items (ellipses, contours) blit a cached pixmap instead of redrawing
        # every point; the cache is redrawn only when the points, their colours or the view change.
        self.setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_points(self, xy: np.ndarray, labels: np.ndarray | None) -> None:
        """xy (S, 2); labels (S,) component of each point, or None for one neutral colour."""
        key = (id(xy), len(xy), None if labels is None else labels.tobytes())
        if key == self._key:
            return  # same points, same colours: keep the cached drawing
        self._key = key
        self.prepareGeometryChange()
        self._xy = np.asarray(xy, dtype=np.float64)
        if labels is None or len(labels) != len(xy):
            self._colour_index = np.zeros(len(xy), dtype=np.int64)
            colours = [UNFITTED]
        else:
            self._colour_index = np.asarray(labels, dtype=np.int64)
            colours = [component_color(k) for k in range(int(labels.max(initial=0)) + 1)]
        if [c.rgba() for c in colours] != [c.rgba() for c in self._colours]:
            self._colours = colours
            self._atlas = None
        if len(xy):
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            self._rect = QRectF(lo[0], lo[1], max(hi[0] - lo[0], 1e-12), max(hi[1] - lo[1], 1e-12))
        else:
            self._rect = QRectF()
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def _atlas_for(self, dpr: float) -> QPixmap:
        """One POINT_PX square per colour, side by side, at the device's pixel ratio."""
        if self._atlas is None or dpr != self._atlas_dpr:
            size = int(round(POINT_PX * dpr))
            atlas = QPixmap(size * max(len(self._colours), 1), size)
            atlas.fill(Qt.GlobalColor.transparent)
            painter = QPainter(atlas)
            for k, colour in enumerate(self._colours):
                painter.fillRect(k * size, 0, size, size, colour)
            painter.end()
            atlas.setDevicePixelRatio(dpr)
            self._atlas, self._atlas_dpr = atlas, dpr
        return self._atlas

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not len(self._xy):
            return
        dpr = widget.devicePixelRatioF() if widget is not None else 1.0
        atlas = self._atlas_for(dpr)
        size = int(round(POINT_PX * dpr))
        centres = fn.transformCoordinates(painter.transform(), self._xy.T)  # device pixels (2, S)
        painter.resetTransform()
        self._fragments.resize(len(self._xy))
        frags = self._fragments.ndarray()
        frags[:, 0:2] = np.clip(centres.T, -(2.0**30), 2.0**30)  # target centre (Qt crashes on huge values)
        frags[:, 2] = self._colour_index * size  # source rect in the atlas: x, y, w, h
        frags[:, 3] = 0
        frags[:, 4:6] = size
        frags[:, 6:10] = [1 / dpr, 1 / dpr, 0.0, 1.0]  # scale x, scale y, rotation, opacity
        painter.drawPixmapFragments(*self._fragments.drawargs(), atlas)
