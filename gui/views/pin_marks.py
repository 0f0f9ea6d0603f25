"""Pinned parameters on screen (issue 25): a pin glyph at each pinned component's mean on the plot (a pinned mean's
pin can be dragged: it moves the fixed value), and the same pin as an icon in the parameter table's pinned cells.

PinMarks only draws; gui.controllers.pin_control decides what is pinned and what a drop does.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPixmap, QPolygonF, QTransform

from ..scene.frames import ellipse_rings
from .palette import component_color
from .param_table import COLUMNS

PIN_PX = 34  # the glyph's size on the plot: its head clear of the mean's cross (seen in a screenshot at 26)
PIN_COLOUR = QColor("#c0392b")  # a red pin on every component colour (the component's colour is its outline)
PIN_Z = 45  # above the means (20) and the hover (30-40), under the edit handles (50)
KIND_WORDS = {"means": "mean", "covariances": "covariance", "weights": "weight"}
# the table's cells of each kind: the 2-D table (a column a number), the D-dimensional one (vectors)
CELLS_2D = {"weights": (1,), "means": (2, 3), "covariances": (4, 5, 6)}
CELLS_D = {"weights": (1,), "means": (2,), "covariances": (3,)}


def pin_path() -> QPainterPath:
    """A push pin whose point is at (0, 0) and whose head leans up and right (y grows downwards on screen), in a
    box of size about 1 (pyqtgraph scales a symbol by its size)."""
    path = QPainterPath()
    path.addEllipse(QPointF(0.62, -0.62), 0.2, 0.2)  # the head
    collar = QPolygonF([QPointF(0.22, -0.52), QPointF(0.52, -0.22), QPointF(0.58, -0.28), QPointF(0.28, -0.58)])
    path.addPolygon(collar)
    path.closeSubpath()
    needle = QPolygonF([QPointF(0.0, 0.0), QPointF(0.33, -0.41), QPointF(0.41, -0.33)])
    path.addPolygon(needle)
    path.closeSubpath()
    return path


def pin_icon(px: int = 14) -> QIcon:
    """The pin as a table cell's icon (px square)."""
    pixmap = QPixmap(px, px)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    scale = px / 1.0
    painter.setTransform(QTransform().translate(0.1 * px, 0.9 * px).scale(scale, scale))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(PIN_COLOUR)
    painter.drawPath(pin_path())
    painter.end()
    return QIcon(pixmap)


def pin_words(kinds: list[str]) -> str:
    """'mean, weight': what of a component is pinned, in the table's words."""
    return ", ".join(KIND_WORDS[kind] for kind in ("means", "covariances", "weights") if kind in kinds)


class PinMarks(QObject):
    """The plot's pins: one per component with something pinned, at its mean in the view. A pinned mean's pin is
    movable: while it is dragged only it and its component's ellipse are redrawn (never the density); dropped,
    mean_dropped says where (component, the view's point in data units (2,))."""

    mean_dropped = Signal(int, object)

    def __init__(self, plot) -> None:
        super().__init__(plot)
        self.plot = plot
        self.items: dict[int, pg.TargetItem] = {}
        self.dragging: int | None = None  # the component whose pin is being dragged (frames do not move it)
        self._cov: dict[int, np.ndarray] = {}  # each shown pin's view covariance (2, 2), for the drag's ellipse

    def clear(self) -> None:
        for item in self.items.values():
            self.plot.removeItem(item)
        self.items, self._cov, self.dragging = {}, {}, None

    def show(self, frame, pinned: dict[int, list[str]]) -> None:
        """Pins for pinned {component: [kinds]} at frame's means in the view (none: no pins)."""
        if self.dragging is not None:
            return  # the frame under a drag: the dragged pin stays under the mouse
        self.clear()
        if frame is None or frame.view_means is None:
            return
        for k, kinds in sorted(pinned.items()):
            if k >= len(frame.view_means) or not kinds:
                continue
            self.items[k] = self._item(k, kinds, frame.view_means[k])
            if frame.view_covariances is not None:
                self._cov[k] = frame.view_covariances[k]

    def _item(self, k: int, kinds: list[str], view_mean: np.ndarray) -> pg.TargetItem:
        movable = "means" in kinds
        item = pg.TargetItem(
            pos=tuple(self.plot.display.to_display(view_mean)),
            size=PIN_PX,
            symbol=pin_path(),
            movable=movable,
            pen=pg.mkPen(component_color(k).darker(160), width=1.5),
            brush=pg.mkBrush(PIN_COLOUR),
            hoverBrush=pg.mkBrush(PIN_COLOUR.lighter(130)),
            label=f"pinned: {pin_words(kinds)}",
            labelOpts={"color": PIN_COLOUR.darker(120), "offset": (14, -22), "anchor": (0, 1)},
        )
        tip = f"component {k}: pinned {pin_words(kinds)} (right-click to change)"
        item.setToolTip(tip + ("; drag to move the pinned mean" if movable else ""))
        item.setZValue(PIN_Z)
        if movable:
            item.sigPositionChanged.connect(lambda it, k=k: self._moved(k, it))
            item.sigPositionChangeFinished.connect(lambda it, k=k: self._dropped(k, it))
        self.plot.addItem(item)
        return item

    def _point(self, item: pg.TargetItem) -> np.ndarray:
        """The pin's point in the view, in data units (2,)."""
        return self.plot.display.to_data(np.array([item.pos().x(), item.pos().y()]))

    def _moved(self, k: int, item: pg.TargetItem) -> None:
        """While dragged: only component k's ellipse follows the pin (its rings about the new mean)."""
        self.dragging = k
        if k not in self._cov or k >= len(self.plot.ellipses):
            return
        display = self.plot.display
        mean = display.to_display(self._point(item))
        rings = ellipse_rings(mean, display.covariance_to_display(self._cov[k]))
        rings = self.plot.visible_rings(rings)
        self.plot.ellipses[k].setData(rings[:, 0], rings[:, 1])

    def _dropped(self, k: int, item: pg.TargetItem) -> None:
        self.dragging = None
        self.mean_dropped.emit(k, self._point(item))


def mark_table(table, pinned: dict[int, list[str]]) -> None:
    """The pin icon in each pinned cell of the parameter table (and on its component's cell), none elsewhere. The
    table's signals are blocked meanwhile: an icon is no edit (an editable table reads itemChanged as a typed start)."""
    icon, none = pin_icon(), QIcon()
    cells = CELLS_2D if table.columnCount() == len(COLUMNS) else CELLS_D
    blocked = table.blockSignals(True)
    try:
        for row in range(table.rowCount()):
            kinds = pinned.get(row, [])
            marked = {c for kind in kinds for c in cells[kind]} | ({0} if kinds else set())
            for col in range(table.columnCount()):
                item = table.item(row, col)
                if item is not None and (col in marked or not item.icon().isNull()):
                    item.setIcon(icon if col in marked else none)
            if table.item(row, 0) is not None:
                table.item(row, 0).setToolTip(f"component {row}: pinned {pin_words(kinds)}" if kinds else "")
    finally:
        table.blockSignals(blocked)
