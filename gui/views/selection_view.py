"""Model selection, seen: BIC and AIC against K for each covariance type, computed in the background with
progress; spurious fits are marked and never best; click a point to load that fit into the main view."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from ..background import Background
from .compare import text_box
from .palette import component_color
from .plot_style import add_light_grid


def type_colours() -> dict[str, str]:
    """Each registered covariance type's colour (in registry order)."""
    import engine

    return {t: component_color(i).name() for i, t in enumerate(engine.COVARIANCE_TYPES)}


CHART_MIN_HEIGHT = 150  # pixels: below this the tab scrolls rather than squeeze the chart to a strip
SWATCH_PIXELS = 12


def _swatch(colour: str) -> QIcon:
    """A square of the covariance type's colour: the check box is the chart's legend."""
    pixmap = QPixmap(SWATCH_PIXELS, SWATCH_PIXELS)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class SelectionView(QWidget):
    """The 'Model selection' tab."""

    load_fit = Signal(object)  # an engine SelectionEntry whose fit the main view shows
    done = Signal()  # a selection run ended (emitted in the GUI thread)
    failed = Signal(str, bool)  # a run stopped on an error: its message (a traceback when internal)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list = []
        self._run_id = 0
        self._cancel = None
        self._total = 0
        self.k_from, self.k_to = QSpinBox(), QSpinBox()
        for spin, value in ((self.k_from, 1), (self.k_to, 8)):
            spin.setRange(1, 50)
            spin.setValue(value)
        # the check boxes are the legend (a colour swatch each): a legend inside the chart hid its points
        self.types = {t: QCheckBox(t) for t in type_colours()}
        for t, box in self.types.items():
            box.setChecked(True)
            box.setIcon(_swatch(type_colours()[t]))
            box.setToolTip(f"fit {t} covariances (the {type_colours()[t]} curve)")
        self.restarts = QSpinBox()
        self.restarts.setRange(1, 1000)
        self.restarts.setValue(5)
        self.criterion = QComboBox()
        self.criterion.addItems(["BIC", "AIC"])
        self.run_button = QPushButton("Run selection")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.progress = QLabel("")
        self.best = QLabel("")
        self.best.setWordWrap(True)
        self._build_chart()
        self._lay_out()
        self.background = Background(self, threads=1)  # one sweep at a time
        self.stop_button.clicked.connect(self.stop)
        self.criterion.currentTextChanged.connect(lambda _t: self._redraw())

    def _build_chart(self) -> None:
        """The criterion against K, a curve per covariance type; spurious fits crossed, the best starred (all
        clickable)."""
        self.chart = pg.PlotWidget(background="w")
        self.chart.setMinimumHeight(CHART_MIN_HEIGHT)
        add_light_grid(self.chart)
        self.chart.setLabel("bottom", "K (components)")
        self.chart.setLabel("left", "BIC")  # short enough for a small chart; "lower is better" is said in the text
        self.curves = {
            t: pg.PlotDataItem(
                [], [], name=t, pen=pg.mkPen(c, width=2), symbol="o", symbolSize=9, symbolBrush=c, symbolPen=None
            )
            for t, c in type_colours().items()
        }
        for curve in self.curves.values():
            self.chart.addItem(curve)
            curve.sigPointsClicked.connect(self._clicked)
        self.spurious = pg.ScatterPlotItem(symbol="x", size=14, pen=pg.mkPen("k", width=2), brush=None)
        self.spurious.sigClicked.connect(self._clicked)
        self.chart.addItem(self.spurious)
        self.best_marker = pg.ScatterPlotItem(symbol="star", size=22, pen=pg.mkPen("k"), brush=pg.mkBrush("#ffd700"))
        self.best_marker.sigClicked.connect(self._clicked)  # it lies on top of the best fit's point: it loads it
        self.chart.addItem(self.best_marker)

    def _lay_out(self) -> None:
        """The settings in rows above the chart, the best fit's text below it."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for widgets in (
            (QLabel("K from"), self.k_from, QLabel("to"), self.k_to, QLabel("restarts"), self.restarts, self.criterion),
            tuple(self.types.values()),
            (self.run_button, self.stop_button, self.progress),
        ):
            row = QHBoxLayout()
            for w in widgets:
                row.addWidget(w)
            row.addStretch(1)
            layout.addLayout(row)
        layout.addWidget(self.chart, 1)
        layout.addWidget(text_box(self.best, 2, 4))

    @property
    def running(self) -> bool:
        return self._cancel is not None

    def start(self, points, base) -> None:
        """Fit the grid K x covariance types with the panel's other settings (restarts from this tab). points:
        the data (N, D), or for data read by chunks a function (report, cells) -> engine.inference.grid.Streamed,
        called in the background (report(text) shows a pass's progress)."""
        import engine

        self.stop()
        ks = list(range(self.k_from.value(), max(self.k_from.value(), self.k_to.value()) + 1))
        types = [t for t, box in self.types.items() if box.isChecked()] or list(self.types)[:1]
        from dataclasses import replace

        base = replace(
            base, restarts=self.restarts.value(), init_params=None, init=None if base.init == "params" else base.init
        )
        self._run_id += 1
        self._cancel = engine.CancelToken()
        self._total = len(ks) * len(types)
        self.entries = []
        self._redraw()
        self.progress.setText(f"0 / {self._total} fits")
        self.stop_button.setEnabled(True)
        self.run_button.setEnabled(False)
        run_id, cancel = self._run_id, self._cancel

        def sweep(emit) -> None:
            data = points(emit, self._total * base.restarts) if callable(points) else points
            for entry in engine.select_models(data, ks, types, base, cancel):
                emit(entry)

        def failed(message: str, internal: bool) -> None:
            if run_id == self._run_id:
                self.failed.emit(message, internal)
            self._finished(run_id)

        self.background.run(
            sweep,
            lambda _result: self._finished(run_id),
            failed,
            on_item=lambda entry: self._entry(run_id, entry),
            cancel=cancel.cancel,
        )

    def stop(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    def shutdown(self, msecs: int = 30_000) -> bool:
        self.stop()
        return self.background.shutdown(msecs)

    def clear(self) -> None:
        self.stop()
        self.entries = []
        self._redraw()
        self.progress.setText("")

    def _entry(self, run_id: int, entry) -> None:
        if run_id != self._run_id:
            return
        if isinstance(entry, str):  # a pass's progress (data read by chunks: the whole grid a pass an iteration)
            self.progress.setText(f"0 / {self._total} fits: {entry}")
            return
        self.entries.append(entry)
        self.progress.setText(f"{len(self.entries)} / {self._total} fits")
        self._redraw()

    def _finished(self, run_id: int) -> None:
        if run_id == self._run_id:
            self._cancel = None
            self.stop_button.setEnabled(False)
            self.run_button.setEnabled(True)
            self.done.emit()

    def value(self, entry) -> float | None:
        return entry.bic if self.criterion.currentText() == "BIC" else entry.aic

    def _redraw(self) -> None:
        import engine

        name = self.criterion.currentText()
        self.chart.setLabel("left", name)
        for t, curve in self.curves.items():
            pts = [(e.k, self.value(e)) for e in self.entries if e.covariance_type == t and self.value(e) is not None]
            curve.setData(
                [p[0] for p in pts],
                [p[1] for p in pts],
                data=[e for e in self.entries if e.covariance_type == t and self.value(e) is not None],
            )
        bad = [e for e in self.entries if e.spurious and self.value(e) is not None]
        self.spurious.setData([e.k for e in bad], [self.value(e) for e in bad], data=bad)
        ok = [e for e in self.entries if not e.spurious and self.value(e) is not None]
        best = min(ok, key=self.value) if ok else None
        self.best_marker.setData(
            [best.k] if best else [], [self.value(best)] if best else [], data=[best] if best else []
        )
        failed = [e for e in self.entries if e.spurious]
        text = ""
        if best is not None:
            by_bic = engine.best_entry(self.entries)
            text = (
                f"Best by {name}: K={best.k}, {best.covariance_type} ({name} {self.value(best):.3f}; lower is "
                "better). "
                f"By BIC: K={by_bic.k}, {by_bic.covariance_type}. "
            )
        if failed:
            text += "Spurious (never best): " + "; ".join(f"K={e.k} {e.covariance_type}: {e.reason}" for e in failed)
        self.best.setText(text + ("  Click a point to load that fit." if self.entries else ""))

    def _clicked(self, item, points, *args) -> None:
        if len(points) and points[0].data() is not None and points[0].data().snapshot is not None:
            self.load_fit.emit(points[0].data())
