"""The points of a plot: `PointCloudItem`, cheaper to paint than a wide-pen drawPoints and much cheaper to update
than pyqtgraph's ScatterPlotItem (measured: docs/performance.md, 'The window')."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from pyqtgraph.Qt.internals import PrimitiveArray
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap

from ..scene.weights import HOLLOW_PX, LARGEST_PX
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
        self._sides: np.ndarray | None = None  # (S,) each dot's side in pixels (weighted data; 0: hollow), or None
        self._order: np.ndarray | None = None  # the order sized dots are painted in
        # Repaints caused by other items (ellipses, contours) blit a cached pixmap instead of redrawing
        # every point; the cache is redrawn only when the points, their colours or the view change.
        self.setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_points(self, xy: np.ndarray, labels: np.ndarray | None, sides: np.ndarray | None = None) -> None:
        """xy (S, 2); labels (S,) component of each point, or None for one neutral colour; sides (S,): each dot's
        side in pixels (gui.scene.weights.point_sides; 0: a hollow marker), or None: every dot POINT_PX."""
        key = (id(xy), len(xy), None if labels is None else labels.tobytes(), None if sides is None else id(sides))
        if key == self._key:
            return  # same points, same colours: keep the cached drawing
        self._key = key
        self.prepareGeometryChange()
        if (sides is None) != (self._sides is None):
            self._atlas = None  # another kind of atlas (one size, or the largest size and hollow markers)
        self._sides = None if sides is None or len(sides) != len(xy) else np.asarray(sides, dtype=np.float64)
        # the largest dots first: a small one is never hidden under a large neighbour
        self._order = None if self._sides is None else np.argsort(-self._sides, kind="stable")
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

    @property
    def sides(self) -> np.ndarray | None:
        """Each dot's side in pixels (S,) (0: hollow), or None: every dot POINT_PX wide."""
        return self._sides

    def boundingRect(self) -> QRectF:
        if self._sides is None or self._rect.isNull():
            return self._rect
        margin = LARGEST_PX / 2  # pixels: a large dot at the edge is drawn whole
        dx, dy = margin * (self.pixelWidth() or 0.0), margin * (self.pixelHeight() or 0.0)
        return self._rect.adjusted(-dx, -dy, dx, dy)

    def viewTransformChanged(self) -> None:
        """A zoom changes the data-unit size of the pixel margin around sized dots."""
        if self._sides is not None:
            self.prepareGeometryChange()

    def _atlas_for(self, dpr: float) -> QPixmap:
        """One POINT_PX square per colour, side by side, at the device's pixel ratio; for sized dots one
        LARGEST_PX square per colour (scaled down per dot) over a HOLLOW_PX outline (drawn as it is)."""
        if self._atlas is None or dpr != self._atlas_dpr:
            size = int(round((POINT_PX if self._sides is None else LARGEST_PX) * dpr))
            rows = 1 if self._sides is None else 2
            atlas = QPixmap(size * max(len(self._colours), 1), size * rows)
            atlas.fill(Qt.GlobalColor.transparent)
            painter = QPainter(atlas)
            hollow = int(round(HOLLOW_PX * dpr))
            for k, colour in enumerate(self._colours):
                painter.fillRect(k * size, 0, size, size, colour)
                if rows == 2:
                    painter.setPen(colour.darker(130))
                    painter.drawRect(k * size, size, hollow - 1, hollow - 1)
            painter.end()
            atlas.setDevicePixelRatio(dpr)
            self._atlas, self._atlas_dpr = atlas, dpr
        return self._atlas

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not len(self._xy):
            return
        dpr = widget.devicePixelRatioF() if widget is not None else 1.0
        atlas = self._atlas_for(dpr)
        size = int(round((POINT_PX if self._sides is None else LARGEST_PX) * dpr))
        centres = fn.transformCoordinates(painter.transform(), self._xy.T)  # device pixels (2, S)
        painter.resetTransform()
        self._fragments.resize(len(self._xy))
        frags = self._fragments.ndarray()
        frags[:, 0:2] = np.clip(centres.T, -(2.0**30), 2.0**30)  # target centre (Qt crashes on huge values)
        frags[:, 2] = self._colour_index * size  # source rect in the atlas: x, y, w, h
        frags[:, 3] = 0
        frags[:, 4:6] = size
        frags[:, 6:10] = [1 / dpr, 1 / dpr, 0.0, 1.0]  # scale x, scale y, rotation, opacity
        if self._sides is not None:
            _size_fragments(frags, self._sides, size, dpr)
            frags[:] = frags[self._order]
        painter.drawPixmapFragments(*self._fragments.drawargs(), atlas)


def _size_fragments(frags: np.ndarray, sides: np.ndarray, size: int, dpr: float) -> None:
    """Sized dots (S, 10 fragments): a dot of side > 0 is its colour's large square scaled to that side (pixels);
    a dot of side 0 its colour's hollow outline below it, unscaled."""
    hollow = sides <= 0
    frags[:, 3] = np.where(hollow, size, 0)
    frags[:, 4] = frags[:, 5] = np.where(hollow, int(round(HOLLOW_PX * dpr)), size)
    scale = np.where(hollow, 1 / dpr, sides / size)
    frags[:, 6] = frags[:, 7] = scale
