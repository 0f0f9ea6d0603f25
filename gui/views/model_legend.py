"""The selection chart's legend, beside it: every registered covariance model, grouped by family (spherical,
diagonal, ellipsoidal, in mclust's order), each a check box (fit it or not) whose icon is its line on the chart and
its shape's glyph, with its one-line meaning. A model the chart draws that the registry does not hold (a fit made
elsewhere) gets a row too, its box disabled. The best models by the chosen criterion are in bold."""

from __future__ import annotations

import pyqtgraph as pg
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QScrollArea, QWidget

from .model_style import FAMILIES, FAMILY_COLOURS, OTHER, family, glyph_pixmap, line_style, meaning

SAMPLE_WIDTH = 30  # pixels of the line sample in a legend icon
ICON_HEIGHT = 16


def legend_icon(model: str, glyph: bool = True) -> QIcon:
    """The model's line sample (colour, dash, marker as on the chart), beside its glyph unless glyph is False."""
    colour, dash, marker = line_style(model)
    shape = glyph_pixmap(model, ICON_HEIGHT) if glyph else QPixmap()
    pixmap = QPixmap(SAMPLE_WIDTH + (4 + shape.width() if glyph else 0), ICON_HEIGHT)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(colour, 2)
    pen.setStyle(dash)
    painter.setPen(pen)
    middle = ICON_HEIGHT / 2
    painter.drawLine(QPointF(1, middle), QPointF(SAMPLE_WIDTH - 1, middle))
    painter.translate(SAMPLE_WIDTH / 2, middle)
    drawSymbol(painter, marker, 8, pg.mkPen(colour, width=1), pg.mkBrush(colour))  # cosmetic: 1 pixel at any scale
    painter.resetTransform()
    if glyph:
        painter.drawPixmap(SAMPLE_WIDTH + 4, 0, shape)
    painter.end()
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Mode.Disabled)  # a line not fitted here: still its own colours, as it is drawn
    return icon


def registry_order(item: tuple[str, str]) -> tuple[int, int, str]:
    """Families in order, mclust's order inside each (the registry's names for the sklearn four sort by model)."""
    import engine

    name, model = item
    fam = family(model)
    place = engine.MCLUST_MODELS.index(model) if model in engine.MCLUST_MODELS else len(engine.MCLUST_MODELS)
    return ((*FAMILIES, OTHER).index(fam), place, name)


class ModelLegend(QScrollArea):
    """The legend and the choice of models to fit: `boxes` maps each registry name to its check box. Compact (a
    narrow tab: set_compact), each row is the mclust name and the line sample only, the rest in its tooltip."""

    def __init__(self, registered: dict[str, str], parent=None) -> None:
        """registered: registry name -> mclust name, for every model the window can fit."""
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.grid = QGridLayout(inner := QWidget())
        self.grid.setContentsMargins(2, 2, 2, 2)
        self.grid.setVerticalSpacing(1)
        self.setWidget(inner)
        self.boxes: dict[str, QCheckBox] = {}
        self.meanings: dict[str, QLabel] = {}
        self.models: dict[str, str] = {}  # registry (or drawn) name -> mclust name
        self.registered = dict(registered)  # the models this engine fits (registry name -> mclust name)
        self.tips: dict[str, str] = {}  # each row's tooltip (its meaning)
        self.headers: dict[str, QLabel] = {}  # by family
        # the letters' key, where the meanings do not fit beside the names (each name's tooltip has its meaning)
        self.key = QLabel("volume, shape, orientation:\nE equal, V varying,\nI spherical / axis-aligned")
        self.key.setStyleSheet("color: #555")
        self.setToolTip(self.key.text().replace("\n", " "))  # the key, where it is not shown (compact)
        self.compact = False
        self.icons: dict[str, tuple[QIcon, QIcon]] = {}  # each row's icon: with its glyph, and compact
        self.normal_width = 0  # pixels the legend needs when not compact (names and glyphs, no meanings)
        for name, model in registered.items():
            self._row(name, model, fittable=True)
        self._lay_out()

    def _row(self, name: str, model: str, fittable: bool) -> None:
        """One model's check box and meaning (laid out by _lay_out)."""
        self.models[name] = model
        box = QCheckBox()
        self.icons[name] = (legend_icon(model), legend_icon(model, glyph=False))
        self.boxes[name] = box
        self._show_row(name)
        box.setChecked(fittable)
        box.setEnabled(fittable)
        tip = meaning(model) if name == model else meaning(model).replace(":", f" ({name}):", 1)
        tip += "" if fittable else " (fitted elsewhere: not in this engine's registry)"
        box.setToolTip(tip)
        self.tips[name] = tip
        explained = QLabel(meaning(model).split(": ", 1)[-1])
        explained.setStyleSheet("color: #555")
        explained.setToolTip(tip)
        self.meanings[name] = explained

    def _show_row(self, name: str) -> None:
        """The row's box as the mode says: 'EEE (tied)' with line and glyph, or compact 'EEE' with the line."""
        model, box = self.models[name], self.boxes[name]
        box.setText(model if name == model or self.compact else f"{model} ({name})")
        icon = self.icons[name][self.compact]
        box.setIcon(icon)
        box.setIconSize(icon.availableSizes()[0])

    def set_compact(self, compact: bool) -> None:
        """Compact rows (a narrow tab: the chart keeps its room) or full ones."""
        if compact != self.compact:
            self.compact = compact
            for name in self.boxes:
                self._show_row(name)
            self._fit_meanings()

    def _lay_out(self) -> None:
        """The rows by family, each family under its header, in mclust's order."""
        for r in range(self.grid.rowCount()):
            self.grid.setRowStretch(r, 0)
        for widget in (self.key, *self.boxes.values(), *self.meanings.values(), *self.headers.values()):
            self.grid.removeWidget(widget)  # added again below, at its new row
        self.grid.addWidget(self.key, 0, 0, 1, 2)
        row, last = 1, None
        for name, model in sorted(self.models.items(), key=registry_order):
            if family(model) != last:
                last = family(model)
                if last not in self.headers:
                    self.headers[last] = QLabel(f"<b>{last}</b>")
                    self.headers[last].setStyleSheet(f"color: {FAMILY_COLOURS[last]}")
                self.grid.addWidget(self.headers[last], row, 0, 1, 2)
                row += 1
            self.grid.addWidget(self.boxes[name], row, 0)
            self.grid.addWidget(self.meanings[name], row, 1)
            row += 1
        self.grid.setRowStretch(row, 1)
        self._fit_meanings()

    def show_drawn(self, name: str, model: str) -> None:
        """A row, in its family, for a model on the chart that the registry does not hold (once)."""
        if name not in self.boxes:
            self._row(name, model, fittable=False)
            self._lay_out()

    def _widths(self) -> tuple[int, int]:
        """Pixels the legend needs without and with the meanings column (margins and a scroll bar included)."""
        names = max((b.sizeHint().width() for b in (*self.boxes.values(), *self.headers.values())), default=0)
        meanings = max((m.sizeHint().width() for m in self.meanings.values()), default=0)
        # the spacing counts with the meanings hidden too: the key and the headers span both columns (without it a
        # sideways scroll bar hid the last pixels of the widest name)
        extra = sum(self.grid.getContentsMargins()[::2]) + self.grid.horizontalSpacing()
        extra += self.verticalScrollBar().sizeHint().width() + 4
        return names + extra, names + meanings + extra

    def _fit_meanings(self) -> None:
        """The meanings beside the names where they fit, else only as tooltips: the names never scroll away."""
        narrow, wide = self._widths()
        if not self.compact:
            self.normal_width = narrow
        self.setMinimumWidth(narrow)
        show = self.width() >= wide and not self.compact
        for label in self.meanings.values():
            label.setVisible(show)
        self.key.setVisible(not show and not self.compact)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_meanings()

    def sizeHint(self):
        hint = super().sizeHint()
        hint.setWidth(self._widths()[0])  # the names: the chart comes first, the meanings where room is left
        return hint

    def set_best(self, names: set[str]) -> None:
        """Bold the names of the highlighted (best) models."""
        for name, box in self.boxes.items():
            if box.font().bold() != (name in names):  # a font set lays the legend out again: only on a change
                font = box.font()
                font.setBold(name in names)
                box.setFont(font)
