"""The selection chart, as mclust's plot.mclustBIC draws it: one line per covariance model with K on x and the
criterion on y (ours: lower is better), readable with mclust's fourteen: colour by family, dash by volume, marker
by shape and orientation (model_style.py); the best few models by the chosen criterion thick and labelled "EEE,3"
at their best K, the rest thin; spurious fits crossed, the best fit starred; every point loads its fit."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QFont

from .model_style import line_style, model_name
from .plot_style import add_light_grid, room_for_edge_ticks

CRITERIA = ("BIC", "ICL", "AIC")
HIGHLIGHTED = 3  # models drawn thick and labelled
THICK, THIN = 3.0, 1.2  # line widths (pixels)
BIG, SMALL = 9, 5  # marker sizes (pixels)
# where each label sits by its point (best first): above right, below right, above left, so that two models whose
# best fits lie close are still both read
LABEL_ANCHORS = ((-0.15, 1.1), (-0.15, -0.1), (1.15, 1.1))
LINES_A_STEP = 4  # lines set in one piece of a redraw: a piece stays well inside a turn of the event loop
FADED = 150  # alpha (of 255) of a thin line: the best ones stand out, the rest stay readable
EMPTY_RANGE = (0.0, 1.0)  # both axes of a chart with no points (pyqtgraph's own for an empty plot)


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
        room_for_edge_ticks(self)
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
        self.best = None  # the best entry drawn (None: no fit is usable)
        self.spurious = pg.ScatterPlotItem(symbol="x", size=14, pen=pg.mkPen("k", width=2), brush=None)
        self.best_marker = pg.ScatterPlotItem(symbol="star", size=22, pen=pg.mkPen("k"), brush=pg.mkBrush("#ffd700"))
        for item in (self.spurious, self.best_marker):  # the star lies over the best fit's point: it loads it
            item.setZValue(3)
            self.addItem(item)
            item.sigClicked.connect(self._clicked)

    def _curve(self, name: str, model: str) -> pg.PlotDataItem:
        """The covariance type's line (made on its first point)."""
        if name not in self.curves:
            # no dynamic range limit: K and a criterion's values are never near 1e6 pixels apart, and its check set
            # every line's points again on each change of the view's range (each redraw, fourteen times over)
            curve = pg.PlotDataItem([], [], name=name, dynamicRangeLimit=None)
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
                self._set_line(curve, False, ([], []))

    def _set_line(self, curve: pg.PlotDataItem, thick: bool, shown: tuple[list, list]) -> None:
        """The line's points (entries, values: sorted by K) and style, set at once (each style setter of a
        pyqtgraph line sets its points again)."""
        colour, dash, marker = line_style(curve.model)
        if not thick:
            colour = QColor(colour)
            colour.setAlpha(FADED)
        mine, values = shown
        curve.setData(
            [e.k for e in mine],
            values,
            data=mine,
            pen=pg.mkPen(colour, width=THICK if thick else THIN, style=dash),
            symbol=marker,
            symbolSize=BIG if thick else SMALL,
            symbolBrush=colour,
            symbolPen=None,
        )
        curve.setZValue(2 if thick else 1)
        self._shown[curve.name()] = (thick, shown)

    def draw_steps(self, entries: list, criterion: str) -> Iterator[None]:
        """Draw the entries by the criterion in pieces, yielding between them (a caller may run each in its own
        turn of the event loop): the lines that changed, LINES_A_STEP at a time, then the markers and labels.
        `best` is the best entry (None when no fit is usable) once the last piece is drawn."""
        if self.getAxis("left").labelText != criterion:  # setting it lays the axis out again
            self.setLabel("left", criterion)
        ranked = best_models(entries, criterion)
        self.highlighted = [e.covariance_type for e in ranked]
        lines = _lines(entries, criterion)  # one pass over the entries, not one per line
        for e in entries:
            self._curve(e.covariance_type, entry_model(e))
        changed = []
        for name, curve in self.curves.items():
            thick, now = name in self.highlighted, lines.get(name, ([], []))
            before_thick, before = self._shown.get(name, (None, ([], [])))
            if before_thick != thick or not _same(before, now):
                changed.append((curve, thick, now))
        for i in range(0, len(changed), LINES_A_STEP):
            yield
            for curve, thick, now in changed[i : i + LINES_A_STEP]:
                self._set_line(curve, thick, now)
        yield
        bad = [e for e in entries if e.spurious and criterion_value(e, criterion) is not None]
        self.spurious.setData([e.k for e in bad], [criterion_value(e, criterion) for e in bad], data=bad)
        best = ranked[0] if ranked else None
        self.best_marker.setData(
            [best.k] if best else [], [criterion_value(best, criterion)] if best else [], data=[best] if best else []
        )
        self._label(ranked, criterion)
        self.best = best

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
        """No lines (a new run, or new data), and the axes of an empty chart: the old data's K and criterion ranges
        go too (they stayed over new data), and the next run's points range them again."""
        for curve in self.curves.values():
            self.removeItem(curve)
        self.curves = {}
        self._shown = {}
        self._label([], "")  # the labels go with their lines (new data must show nothing of the old)
        for item in (self.spurious, self.best_marker):
            item.setData([], [])
        self.best = None
        self.setRange(xRange=EMPTY_RANGE, yRange=EMPTY_RANGE, padding=0)
        self.enableAutoRange()  # (with no points it keeps the range just set)

    def _clicked(self, item, points, *args) -> None:
        if len(points) and points[0].data() is not None and points[0].data().snapshot is not None:
            self.clicked.emit(points[0].data())


def _lines(entries: list, criterion: str) -> dict[str, tuple[list, list]]:
    """Each covariance type's entries that have a value of the criterion, sorted by K, and those values."""
    lines: dict[str, list] = {}
    for e in entries:
        if criterion_value(e, criterion) is not None:
            lines.setdefault(e.covariance_type, []).append(e)
    for mine in lines.values():
        mine.sort(key=lambda e: e.k)
    return {name: (mine, [criterion_value(e, criterion) for e in mine]) for name, mine in lines.items()}


def _same(shown: tuple[list, list], now: tuple[list, list]) -> bool:
    """Whether (entries, values) are the very entries (the same objects: a click loads them) with equal values."""
    (a, va), (b, vb) = shown, now
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True)) and va == vb
