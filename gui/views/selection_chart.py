"""The selection chart, as mclust's plot.mclustBIC draws it: one line per covariance model with K on x and the
criterion on y (ours: lower is better), readable with mclust's fourteen: colour by family, dash by volume, marker
by shape and orientation (model_style.py); the best few models by the chosen criterion thick and labelled "EEE,3"
at their best K, the rest thin; spurious fits crossed, the best fit starred; every point loads its fit."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QFont

from .model_style import line_style, model_name
from .plot_style import add_light_grid

CRITERIA = ("BIC", "ICL", "AIC")
HIGHLIGHTED = 3  # models drawn thick and labelled
THICK, THIN = 3.0, 1.2  # line widths (pixels)
BIG, SMALL = 9, 5  # marker sizes (pixels)
# where each label sits by its point (best first): above right, below right, above left, so that two models whose
# best fits lie close are still both read
LABEL_ANCHORS = ((-0.15, 1.1), (-0.15, -0.1), (1.15, 1.1))
FADED = 150  # alpha (of 255) of a thin line: the best ones stand out, the rest stay readable


def criterion_value(entry, criterion: str) -> float | None:
    """The entry's BIC, AIC or ICL (None when the fit failed, or ICL when the engine does not give it: entries
    gain an `icl` with issue 24, read with a default so that older entries still draw)."""
    value = {"BIC": entry.bic, "AIC": entry.aic}.get(criterion, getattr(entry, "icl", None))
    return None if value is None or not math.isfinite(value) else value


def entry_model(entry) -> str:
    """The mclust name of the entry's model (its own `model` when it has one)."""
    return model_name(entry.covariance_type, getattr(entry, "model", None))


def best_models(entries: list, criterion: str, n: int = HIGHLIGHTED) -> list:
    """The best non-spurious entry of each of the n covariance types whose best is lowest, best first."""
    best: dict[str, object] = {}
    for e in entries:
        value = criterion_value(e, criterion)
        if e.spurious or value is None:
            continue
        if e.covariance_type not in best or value < criterion_value(best[e.covariance_type], criterion):
            best[e.covariance_type] = e
    return sorted(best.values(), key=lambda e: criterion_value(e, criterion))[:n]


class SelectionChart(pg.PlotWidget):
    """The criterion against K: `curves` maps each covariance type drawn (its registry name) to its line."""

    clicked = Signal(object)  # the entry of a clicked point

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        add_light_grid(self)
        self.setLabel("bottom", "K (components)")
        self.getAxis("bottom").setTickSpacing(1, 1)  # K is a whole number: no ticks at 1.5
        self.setLabel("left", "BIC")  # short enough for a small chart; "lower is better" is said in the text
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.labels: list[pg.TextItem] = []
        self.highlighted: list[str] = []  # the covariance types drawn thick, best first
        # what each line and the labels show now: a redraw during a run leaves unchanged ones alone (restyling a
        # pyqtgraph line rebuilds its items: the busiest part of a redraw with fourteen lines)
        self._shown: dict[str, tuple] = {}
        self._labelled: tuple = ([], [])
        self.spurious = pg.ScatterPlotItem(symbol="x", size=14, pen=pg.mkPen("k", width=2), brush=None)
        self.best_marker = pg.ScatterPlotItem(symbol="star", size=22, pen=pg.mkPen("k"), brush=pg.mkBrush("#ffd700"))
        for item in (self.spurious, self.best_marker):  # the star lies over the best fit's point: it loads it
            item.setZValue(3)
            self.addItem(item)
            item.sigClicked.connect(self._clicked)

    def _curve(self, name: str, model: str) -> pg.PlotDataItem:
        """The covariance type's line (made on its first point)."""
        if name not in self.curves:
            curve = pg.PlotDataItem([], [], name=name)
            curve.model = model
            curve.sigPointsClicked.connect(self._clicked)
            self.addItem(curve)
            self.curves[name] = curve
        return self.curves[name]

    def prepare(self, models: dict[str, str]) -> None:
        """Empty, thin lines for the covariance types a run will fit (registry name -> mclust name): made when the
        run starts, its first entries only fill them."""
        for name, model in models.items():
            curve = self._curve(name, model)
            if name not in self._shown:
                self._style(curve, False)
                self._shown[name] = (False, ([], []))

    def _style(self, curve: pg.PlotDataItem, thick: bool) -> None:
        colour, dash, marker = line_style(curve.model)
        if not thick:
            colour = QColor(colour)
            colour.setAlpha(FADED)
        pen = pg.mkPen(colour, width=THICK if thick else THIN, style=dash)
        curve.setPen(pen)
        curve.setSymbol(marker)
        curve.setSymbolSize(BIG if thick else SMALL)
        curve.setSymbolBrush(colour)
        curve.setSymbolPen(None)
        curve.setZValue(2 if thick else 1)

    def draw(self, entries: list, criterion: str) -> object | None:
        """Draw the entries by the criterion; returns the best entry (None when no fit is usable)."""
        if self.getAxis("left").labelText != criterion:  # setting it lays the axis out again
            self.setLabel("left", criterion)
        ranked = best_models(entries, criterion)
        self.highlighted = [e.covariance_type for e in ranked]
        for e in entries:
            self._curve(e.covariance_type, entry_model(e))
        for name, curve in self.curves.items():
            mine = [e for e in entries if e.covariance_type == name and criterion_value(e, criterion) is not None]
            mine.sort(key=lambda e: e.k)
            thick, values = name in self.highlighted, [criterion_value(e, criterion) for e in mine]
            before_thick, before = self._shown.get(name, (None, ([], [])))
            if not _same(before, (mine, values)):
                curve.setData([e.k for e in mine], values, data=mine)
            if before_thick != thick:
                self._style(curve, thick)
            self._shown[name] = (thick, (mine, values))
        bad = [e for e in entries if e.spurious and criterion_value(e, criterion) is not None]
        self.spurious.setData([e.k for e in bad], [criterion_value(e, criterion) for e in bad], data=bad)
        best = ranked[0] if ranked else None
        self.best_marker.setData(
            [best.k] if best else [], [criterion_value(best, criterion)] if best else [], data=[best] if best else []
        )
        self._label(ranked, criterion)
        return best

    def _label(self, ranked: list, criterion: str) -> None:
        """'EEE,3' beside each highlighted model's best point, as mclust's summary names a model."""
        labelled = (ranked, [criterion_value(e, criterion) for e in ranked])
        if _same(self._labelled, labelled):
            return
        self._labelled = labelled
        for label in self.labels:
            self.removeItem(label)
        self.labels = []
        font = QFont()
        font.setBold(True)
        for e, anchor in zip(ranked, LABEL_ANCHORS, strict=False):
            colour, _dash, _marker = line_style(entry_model(e))
            label = pg.TextItem(f"{entry_model(e)},{e.k}", color=colour, anchor=anchor)
            label.setFont(font)
            label.setPos(e.k, criterion_value(e, criterion))
            label.setZValue(4)
            self.addItem(label)
            self.labels.append(label)

    def clear_lines(self) -> None:
        """No lines (a new run, or new data)."""
        for curve in self.curves.values():
            self.removeItem(curve)
        self.curves = {}
        self._shown = {}
        self._label([], "")  # the labels go with their lines (new data must show nothing of the old)

    def _clicked(self, item, points, *args) -> None:
        if len(points) and points[0].data() is not None and points[0].data().snapshot is not None:
            self.clicked.emit(points[0].data())


def _same(shown: tuple[list, list], now: tuple[list, list]) -> bool:
    """Whether (entries, values) are the very entries (the same objects: a click loads them) with equal values."""
    (a, va), (b, vb) = shown, now
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True)) and va == vb
