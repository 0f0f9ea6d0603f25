"""Model selection, seen: the criterion (BIC, ICL or AIC) against K for each covariance model, as mclust plots
it, computed in the background with progress; the legend beside the chart lists every model with its glyph and
meaning and chooses which to fit; a table lists every fit; spurious fits are marked and never best; click a point
(or double-click a row) to load that fit into the main view."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

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
from ..scene.big_data import release_grid
from .compare import text_box
from .focus import take_turns
from .model_choices import PRIOR_ITEMS, STREAMED_PRIOR, PriorChoice, combo
from .model_legend import ModelLegend
from .selection_chart import CRITERIA, SelectionChart, best_models, criterion_value, entry_model
from .selection_table import SelectionTable

CHART_MIN_HEIGHT = 150  # pixels: below this the tab scrolls rather than squeeze the chart to a strip
CHART_MIN_WIDTH = 220  # pixels: the legend beside it scrolls before the chart gets narrower
LEGEND_SHARE = 0.3  # of the tab's width at most for the full legend (names and glyphs); narrower, it is compact
# a run's entries are drawn once they pause REDRAW_MS (a batched grid's come together, at its end, while the sweep
# still computes each one's ICL: drawn once, after), or once the first one not drawn has waited REDRAW_WAIT_MS
# (fits that come one by one, seconds apart, are each drawn as they come)
REDRAW_MS = 100
REDRAW_WAIT_MS = 1000
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
        self._clock = time.monotonic  # seconds
        self._waiting: tuple[float, float] | None = None  # when the first and the last entry not drawn came
        self._redraw_timer = QTimer(self, interval=REDRAW_MS // 4)  # runs while entries wait to be drawn
        self._redraw_timer.timeout.connect(self._redraw_if_due)
        # a redraw is drawn in pieces, one each turn of the event loop (drawn whole, a fourteen-model redraw held
        # the loop longest at the end of a run, while the sweep's last fits still took their share of the CPU)
        self._steps: Iterator[None] | None = None
        self._step_timer = QTimer(self, interval=0)
        self._step_timer.timeout.connect(self._step)
        self._after_draw: list[Callable[[], None]] = []  # called once the drawing in progress is done
        self._ending = False  # a run has ended: its last redraw is being drawn (then `done`)
        self.stop_button.clicked.connect(self.stop)
        self.criterion.currentTextChanged.connect(lambda _t: self._redraw())
        self.views.currentChanged.connect(lambda _i: self._show_table())
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

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_legend()

    def _fit_legend(self) -> None:
        """The full legend where it takes at most LEGEND_SHARE of the tab's width, else the compact one (names and
        line samples: the chart keeps its room in a small window); on a change the legend gets its new width."""
        compact = self.legend.normal_width > LEGEND_SHARE * self.width()
        if compact != self.legend.compact:
            self.legend.set_compact(compact)
            total, legend = sum(self.splitter.sizes()), self.legend.sizeHint().width()
            self.splitter.setSizes([total - legend, legend])

    @property
    def running(self) -> bool:
        """A run is going on, or its last entries are still being drawn."""
        return self._cancel is not None

    @property
    def drawing(self) -> bool:
        """A redraw is in progress (its pieces come in the next turns of the event loop; flush() ends it now)."""
        return self._steps is not None

    def start(self, points, base, weights=None) -> None:
        """Fit the grid K x covariance types with the panel's other settings (restarts from this tab). points:
        the data (N, D), or for data read by chunks a function (report, cells) -> engine.inference.grid.Streamed,
        called in the background (report(text) shows a pass's progress); weights (N,): the points' frequency
        weights (data in memory), or None."""
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
        self._ending, self._after_draw = False, []  # a run that ended before this one is drawn over now
        self._total = len(ks) * len(types)
        self.show_entries([])  # at once: the lines made next are not cleared by a redraw to come
        self.chart.prepare({t: self.legend.models[t] for t in types})  # now, not while the sweep holds the CPU
        self.progress.setText(f"0 / {self._total} fits")
        take_turns(self.stop_button, self.run_button)
        run_id, cancel = self._run_id, self._cancel

        def sweep(emit) -> None:
            data = points(emit, self._total * base.restarts) if callable(points) else points
            try:
                for entry in engine.select_models(data, ks, types, base, cancel, weights=weights):
                    emit(entry)
            finally:
                release_grid(data)  # data read by chunks: its kept chunks' file, closed on the thread that made it

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
        self._ended()
        self._left_out = []
        self.show_entries([])  # at once: nothing of the old data's selection stays over the new data
        self.progress.setText("")

    def _entry(self, run_id: int, entry) -> None:
        if run_id != self._run_id:
            return
        if isinstance(entry, str):  # a pass's progress (data read by chunks: the whole grid a pass an iteration)
            self.progress.setText(f"0 / {self._total} fits: {entry}")
            return
        self.entries.append(entry)
        self.progress.setText(f"{len(self.entries)} / {self._total} fits")
        now = self._clock()
        self._waiting = (now if self._waiting is None else self._waiting[0], now)
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def _redraw_if_due(self) -> None:
        """Draw the waiting entries if they paused REDRAW_MS or the first has waited REDRAW_WAIT_MS."""
        if self._waiting is not None:
            now, (first, last) = self._clock(), self._waiting
            if now - last >= REDRAW_MS / 1e3 or now - first >= REDRAW_WAIT_MS / 1e3:
                self._redraw()

    def _finished(self, run_id: int) -> None:
        """The run's last redraw (the table too, hidden or not); the run ends, and `done` fires, once it is drawn:
        what is shown then is the whole run."""
        if run_id == self._run_id:
            if self._cancel is not None and self._cancel.cancelled:  # Stop: what came is kept, and said to be partial
                self.progress.setText(f"stopped: {len(self.entries)} / {self._total} fits")
            self._ending = True
            self._after_draw.append(lambda: self._ended(run_id))
            self._redraw()

    def _ended(self, run_id: int | None = None) -> None:
        """The run is over (run_id: it ended and is drawn: `done`; None: dropped, new data)."""
        if run_id is not None and run_id != self._run_id:
            return
        self._cancel = None
        self._ending = False
        self._after_draw = []
        take_turns(self.run_button, self.stop_button)
        if run_id is not None:
            self.done.emit()

    def value(self, entry) -> float | None:
        """The entry's value of the chosen criterion (None when it has none)."""
        return criterion_value(entry, self.criterion.currentText())

    def show_entries(self, entries: list) -> None:
        """Show these entries at once (a run's, or any made elsewhere: names the registry does not hold draw too)."""
        self.entries = list(entries)
        self._redraw()
        self.flush()

    def _redraw(self) -> None:
        """Draw the entries by the chosen criterion, a piece each turn of the event loop from now (a redraw in
        progress is dropped: this one draws what it had not)."""
        self._redraw_timer.stop()
        self._waiting = None
        self._drop_steps()
        self._steps = self._redraw_steps()
        self._step_timer.start()

    def _drop_steps(self) -> None:
        """The redraw in progress is dropped (a new one draws what it had not): the chart paints and the table
        sorts again."""
        if self._steps is not None:
            self._steps = None
            self.chart.setUpdatesEnabled(True)
            if not self.table.isSortingEnabled():
                self.table.setSortingEnabled(True)

    def flush(self) -> None:
        """Draw what is left of the redraw in progress, now."""
        while self._steps is not None:
            self._step()

    def _step(self) -> None:
        """One piece of the redraw; after its last, what waited for it."""
        try:
            next(self._steps)
        except StopIteration:
            self._steps = None
            self._step_timer.stop()
            after, self._after_draw = self._after_draw, []
            for then in after:
                then()

    def _redraw_steps(self) -> Iterator[None]:
        """The chart's lines (a few a piece), the legend and the summary, then the table's rows (a few dozen a
        piece) when the table is shown or the run is over (hidden mid-run: filled when shown)."""
        name = self.criterion.currentText()
        if not self.entries:
            self.chart.clear_lines()
        self.chart.setUpdatesEnabled(False)  # painted once, when its lines are all set (not after each piece)
        yield from self.chart.draw_steps(self.entries, name)
        self.chart.setUpdatesEnabled(True)
        for ct in self.chart.curves:
            if ct not in self.types:
                self.legend.show_drawn(ct, self.chart.curves[ct].model)
        self.legend.set_best(set(self.chart.highlighted))
        self._best = self.chart.best
        self.best.setText(self._summary(self._best, name))
        self._table_stale = True
        if self.views.currentWidget() is self.table or not self.running or self._ending:
            yield from self._table_steps()

    def _table_steps(self) -> Iterator[None]:
        """The table's rows, when they are out of date (its rows and column widths are a large part of a redraw:
        a hidden table is left to fill when it is shown)."""
        if self._table_stale:
            yield
            yield from self.table.fill_steps(self.entries, self._best)
            self._table_stale = False

    def _show_table(self) -> None:
        """The table is shown (or hidden): fill it if it is out of date, unless a redraw in progress will."""
        if self.views.currentWidget() is self.table and self._table_stale and self._steps is None:
            self._steps = self._table_steps()
            self._step_timer.start()

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
