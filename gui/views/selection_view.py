"""Model selection, seen: the criterion (BIC, ICL or AIC) against K for each covariance model, as mclust plots
it, computed in the background with progress; the legend beside the chart lists every model with its glyph and
meaning and chooses which to fit; a table lists every fit; spurious fits are marked and never best; click a point
(or double-click a row) to load that fit into the main view."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..background import Background
from .compare import text_box
from .model_choices import PRIOR_ITEMS, STREAMED_PRIOR, PriorChoice, combo
from .model_legend import ModelLegend
from .selection_chart import CRITERIA, SelectionChart, best_models, criterion_value, entry_model
from .selection_table import SelectionTable

CHART_MIN_HEIGHT = 150  # pixels: below this the tab scrolls rather than squeeze the chart to a strip
CHART_MIN_WIDTH = 220  # pixels: the legend beside it scrolls before the chart gets narrower
REDRAW_MS = 50  # entries that arrive together (a batched grid) are drawn once
SPURIOUS_SAID = 3  # spurious fits whose reasons the summary gives (more: their names, the reasons in the table)
SELECTION_INITS = ("kmeans++", "hc")  # each cell's first restart; the others start from kmeans++ (engine/batches.py)


def registered_models() -> dict[str, str]:
    """Each registered covariance type's mclust name (its own name when it has none), by registry name."""
    import engine

    return {name: t.model or name for name, t in engine.COVARIANCE_TYPES.items()}


class SelectionView(QWidget):
    """The 'Model selection' tab."""

    load_fit = Signal(object)  # an engine SelectionEntry whose fit the main view shows
    done = Signal()  # a selection run ended (emitted in the GUI thread)
    failed = Signal(str, bool)  # a run stopped on an error: its message (a traceback when internal)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list = []
        self._best = None  # the best entry by the chosen criterion (None: none usable)
        self._table_stale = False  # the table's rows are not the entries' (filled when it is shown)
        self._run_id = 0
        self._cancel = None
        self._total = 0
        self.k_from, self.k_to = QSpinBox(), QSpinBox()
        for spin, value in ((self.k_from, 1), (self.k_to, 8)):
            spin.setRange(1, 50)
            spin.setValue(value)
        self.legend = ModelLegend(registered_models())
        self.types = self.legend.boxes  # registry name -> its check box: fit it or not
        self.restarts = QSpinBox()
        self.restarts.setRange(1, 1000)
        self.restarts.setValue(5)
        self.init = combo(SELECTION_INITS)
        self.init.setToolTip(
            "How each fit starts: kmeans++, or hc (mclust's model-based hierarchical start, as Mclust() starts; "
            "the other restarts from kmeans++)"
        )
        self.prior = PriorChoice()
        self.prior.setMinimumContentsLength(len(PRIOR_ITEMS[1]))  # the tab has room: "mclust's default" whole
        self._left_out: list[str] = []  # the models a run with the prior left out (said in the summary)
        self.criterion = QComboBox()
        self.criterion.addItems(list(CRITERIA))
        self.criterion.setToolTip(
            "The criterion drawn, ranked and starred (lower is better): BIC, ICL (BIC plus twice the entropy of "
            "the classification: it prefers well separated clusters) or AIC"
        )
        self.run_button = QPushButton("Run selection")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.progress = QLabel("")
        self.best = QLabel("")
        self.best.setWordWrap(True)
        self.chart = SelectionChart()
        self.chart.setMinimumSize(CHART_MIN_WIDTH, CHART_MIN_HEIGHT)
        self.table = SelectionTable()
        self._lay_out()
        self.background = Background(self, threads=1)  # one sweep at a time
        self._redraw_timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)
        self.stop_button.clicked.connect(self.stop)
        self.criterion.currentTextChanged.connect(lambda _t: self._redraw())
        self.views.currentChanged.connect(lambda _i: self._fill_table())
        self.prior.currentIndexChanged.connect(self._show_prior_models)
        self.chart.clicked.connect(self.load_fit)
        self.table.chosen.connect(self.load_fit)

    @property
    def curves(self) -> dict:
        """The chart's lines, by covariance type (registry name)."""
        return self.chart.curves

    def _lay_out(self) -> None:
        """The settings in rows above the chart (or the table) and its legend, the best fit's text below."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for widgets in (
            (QLabel("K from"), self.k_from, QLabel("to"), self.k_to, QLabel("restarts"), self.restarts),
            (QLabel("start"), self.init, QLabel("prior"), self.prior),
            (QLabel("criterion"), self.criterion, self.run_button, self.stop_button, self.progress),
        ):
            row = QHBoxLayout()
            for w in widgets:
                row.addWidget(w)
            row.addStretch(1)
            layout.addLayout(row)
        self.views = QTabWidget()
        self.views.setTabPosition(QTabWidget.TabPosition.South)
        self.views.addTab(self.chart, "Chart")
        self.views.addTab(self.table, "Table")
        self.splitter = split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.views)
        split.addWidget(self.legend)
        split.setStretchFactor(0, 3)  # the chart first; the legend shows its meanings once it has their width
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout.addWidget(split, 1)
        layout.addWidget(text_box(self.best, 2, 4))

    @property
    def running(self) -> bool:
        return self._cancel is not None

    def start(self, points, base) -> None:
        """Fit the grid K x covariance types with the panel's other settings (restarts from this tab). points:
        the data (N, D), or for data read by chunks a function (report, cells) -> engine.inference.grid.Streamed,
        called in the background (report(text) shows a pass's progress)."""
        from dataclasses import replace

        import engine

        self.stop()
        ks = list(range(self.k_from.value(), max(self.k_from.value(), self.k_to.value()) + 1))
        types, self._left_out = self.grid_types()
        base = replace(
            base,
            restarts=self.restarts.value(),
            init_params=None,
            init=self.init.currentText(),
            prior=self.prior.prior(),
        )
        self._run_id += 1
        self._cancel = engine.CancelToken()
        self._total = len(ks) * len(types)
        self.entries = []
        self._redraw()
        self.chart.prepare({t: self.legend.models[t] for t in types})  # now, not while the sweep holds the CPU
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

    def grid_types(self) -> tuple[list[str], list[str]]:
        """The covariance types to fit (registry names: the ticked ones, the first if none is; none when every
        ticked one is left out) and the ticked models left out (mclust's names: with the prior, those mclust fits
        no prior for)."""
        import engine

        ticked = [t for t, box in self.types.items() if box.isChecked() and t in self.legend.registered]
        allowed = list(self.legend.registered)
        if self.prior.prior() is not None:
            allowed = [t for t in allowed if self.legend.models[t] in engine.PRIOR_MODELS]
        left_out = [self.legend.models[t] for t in ticked if t not in allowed]
        return [t for t in ticked if t in allowed] or ([] if ticked else allowed[:1]), left_out

    def _show_prior_models(self) -> None:
        """With the prior, the four models mclust fits no prior for are greyed (their ticks kept for later)."""
        import engine

        with_prior = self.prior.prior() is not None
        for name in self.legend.registered:
            model = self.legend.models[name]
            refused = with_prior and model not in engine.PRIOR_MODELS
            self.types[name].setEnabled(not refused)
            why = f" (mclust fits no prior for {model}: left out while the prior is chosen)" if refused else ""
            self.types[name].setToolTip(self.legend.tips[name] + why)

    def set_streamed(self, streamed: bool) -> None:
        """The data is read by chunks (or no longer): no prior then (it needs the data's covariance matrix)."""
        self.prior.refuse(STREAMED_PRIOR if streamed else "")

    def clear(self) -> None:
        """New data: the selection shown goes, and a run still going is stopped and never drawn (its entries
        may already be on their way here)."""
        self.stop()
        self._run_id += 1
        self._cancel = None
        self.stop_button.setEnabled(False)
        self.run_button.setEnabled(True)
        self.entries = []
        self._left_out = []
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
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def _finished(self, run_id: int) -> None:
        if run_id == self._run_id:
            self._cancel = None
            self.stop_button.setEnabled(False)
            self.run_button.setEnabled(True)
            self._redraw()  # at once: what is shown when `done` fires is the whole run
            self.done.emit()

    def value(self, entry) -> float | None:
        """The entry's value of the chosen criterion (None when it has none)."""
        return criterion_value(entry, self.criterion.currentText())

    def show_entries(self, entries: list) -> None:
        """Show these entries (a run's, or any made elsewhere: names the registry does not hold draw too)."""
        self.entries = list(entries)
        self._redraw()

    def _redraw(self) -> None:
        self._redraw_timer.stop()
        name = self.criterion.currentText()
        if not self.entries:
            self.chart.clear_lines()
        best = self.chart.draw(self.entries, name)
        for ct in self.chart.curves:
            if ct not in self.types:
                self.legend.show_drawn(ct, self.chart.curves[ct].model)
        self.legend.set_best(set(self.chart.highlighted))
        self._best = best
        self._table_stale = True
        if self.views.currentWidget() is self.table or not self.running:  # hidden mid-run: filled when shown
            self._fill_table()
        self.best.setText(self._summary(best, name))

    def _fill_table(self) -> None:
        """The table's rows, when they are out of date (a hidden table is left to fill when it is shown: its rows
        and column widths are a large part of a redraw)."""
        if self._table_stale:
            self._table_stale = False
            self.table.show_entries(self.entries, self._best)

    def _summary(self, best, name: str) -> str:
        """The best fit by the chosen criterion, the best by each other, the spurious fits."""
        if not self.entries:
            return ""
        text = ""
        if self._left_out:
            text = (
                f"With mclust's default prior: {', '.join(self._left_out)} left out (mclust fits no prior for them). "
            )
        if best is None:
            text += f"No usable fit has a value of {name}. "
        else:
            text += f"Best by {name}: {_named(best)} ({name} {self.value(best):.3f}; lower is better). "
            others = [(c, best_models(self.entries, c, 1)) for c in CRITERIA if c != name]
            text += " ".join(f"By {c}: {_named(top[0])}." for c, top in others if top) + " "
        failed = [e for e in self.entries if e.spurious]
        if 0 < len(failed) <= SPURIOUS_SAID:
            text += "Spurious (never best): " + "; ".join(f"{_named(e)}: {e.reason}" for e in failed) + "."
        elif failed:  # each one's reason is its row's note: the line stays readable with a grid's dozens
            text += f"{len(failed)} spurious fits (never best; the table's note says why): "
            text += ", ".join(_named(e) for e in failed) + "."
        return text + "  Click a point (or double-click a row) to load that fit."


def _named(entry) -> str:
    """'EEE,3 (tied)': the model and K as mclust names a fit, the registry's name where it differs."""
    model = entry_model(entry)
    return f"{model},{entry.k}" + ("" if model == entry.covariance_type else f" ({entry.covariance_type})")
