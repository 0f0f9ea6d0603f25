"""The views that follow the window's state: plot, parameter table, log-likelihood chart, timeline, status
labels. They subscribe to WindowState's signals and redraw; they change nothing but their widgets (and the
fit state a frame implies)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QSizePolicy

from ..scene.frames import Frame, fit_state_text, own_iterations
from ..scene.missing import missing_cells
from ..state import NO_DATA, NO_FIT, PAUSED, REPLAY, WindowState
from .param_table import ParamTable
from .plot_view import PlotView
from .timeline import Timeline

_BREAK_AFTER = re.compile(r"([_/\\.\-])")


def breakable(text: str) -> str:
    """The text with a zero-width space after each '_', '/', '\\', '.' and '-': a word-wrapped label may break a
    long file path or column name there, instead of asking its panel for the whole word's width."""
    return _BREAK_AFTER.sub("\\1\u200b", text)


@dataclass
class StatusLabels:
    """The status bar's permanent labels."""

    state: QLabel
    iteration: QLabel
    log_likelihood: QLabel
    speed: QLabel


@dataclass
class Chart:
    """The log-likelihood chart: its plot, the curve and the marker at the shown iteration."""

    plot: pg.PlotWidget
    curve: pg.PlotDataItem
    marker: pg.InfiniteLine

    def clear(self) -> None:
        self.curve.setData([], [])
        self.marker.hide()
        # no old fit's range on an empty chart; the next fit's first frame turns auto-range back on
        self.plot.setRange(xRange=(0, 10), yRange=(0, 1), padding=0)


class FitView:
    """Draws the state: a new scene clears every trace of the old fit; a frame is drawn everywhere."""

    def __init__(
        self,
        state: WindowState,
        plot: PlotView,
        table: ParamTable,
        chart: Chart,
        labels: StatusLabels,
        timeline: Timeline,
        messages,
        data_label: QLabel,
    ) -> None:
        self.state, self.plot, self.table, self.chart, self.labels = state, plot, table, chart, labels
        self.timeline, self.messages, self.data_label = timeline, messages, data_label
        # its width is the panel's, never its longest word's (a word longer than the panel is cut, whole in the
        # tooltip): the Controls panel does not scroll sideways, so a wider label cut its buttons instead
        data_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._job = None
        state.data_changed.connect(self.show_data)
        state.scene_changed.connect(self.show_scene)
        state.frame_changed.connect(self.show_frame)
        state.latest_changed.connect(self.show_latest)
        state.job_changed.connect(self.show_job)
        state.fit_state_changed.connect(self.show_fit_state)

    def show_fit_state(self, text: str) -> None:
        self.labels.state.setText(text)
        if text == PAUSED:  # the state label says "paused"; the speed label says only that there is no speed
            self.labels.speed.setText("– it/s")

    def show_data(self) -> None:
        ds, stream = self.state.dataset, self.state.stream
        n = len(ds.points) if stream is None else stream.n_samples
        how = "" if stream is None else "\nread by chunks: bigger than the memory limit"
        if self.state.weights is not None:
            how += f"\n{self.state.weights.describe()}"
        cells, rows = missing_cells(ds.points)
        if cells:  # (NaN cells: the data was loaded with its missing values, which the fits take by EM)
            from engine import counted

            how += f"\nmissing: {counted(cells, 'cell')} in {counted(rows, 'row')} (fitted by EM, missing at random)"
        names = ", ".join(ds.columns)
        self.data_label.setText(f"{breakable(ds.source)}\nN = {n:,}, columns: {breakable(names)}{how}")
        self.data_label.setToolTip(f"{ds.source}\nN = {n:,}, columns: {names}{how}")

    def show_scene(self) -> None:
        """New data on screen, no fit: no paths, start circles, table, chart, iteration or speed."""
        scene = self.state.scene
        names = tuple(self.state.dataset.columns)
        self.plot.show_scene(scene, names, self.state.keep_range)
        self.table.set_column_names(names)
        self.table.clear_params()
        self.timeline.clear()
        self.chart.clear()
        for label, text in (
            (self.labels.iteration, "iteration –"),
            (self.labels.log_likelihood, "log-likelihood –"),
            (self.labels.speed, "– it/s"),
        ):
            label.setText(text)
        self.state.set_fit_state(NO_FIT if len(scene.points) else NO_DATA)
        if scene.sampled and scene.stream is None:  # (data read by chunks has its own note: big_data.describe)
            self.messages.note(
                f"{len(scene.points):,} points: the density image shows all, {len(scene.shown):,} sampled are drawn"
            )

    def show_job(self) -> None:
        """A new fit starts from an empty chart and timeline."""
        if self.state.job is not self._job:
            self._job = self.state.job
            self.chart.clear()
            self.timeline.clear()

    def show_latest(self) -> None:
        """The fit's newest frame: the timeline grows, and follows it unless an earlier one is on screen."""
        latest = self.state.latest
        if latest is None:
            return
        following = self.state.following
        self.timeline.set_entries([e.iteration for e in latest.entries], follow=following)
        if following:
            self.timeline.show_position(shown_iteration(latest), None, live=True, own=own_iterations(latest))

    def show_frame(self) -> None:
        """Draw the frame on screen: plot items, parameter table, log-likelihood chart, status labels."""
        frame: Frame | None = self.state.frame
        if frame is None:
            return
        snap = frame.snapshot
        self.plot.show_frame(frame)
        self.table.set_params(snap.weights, snap.means, snap.covariances, frame.states)
        if len(frame.history):  # a history of one entry (iteration 0: the start) is a dot, no line to draw
            dot = {"symbol": "o", "symbolSize": 7, "symbolBrush": "#1f4e79"} if len(frame.history) == 1 else {}
            self.chart.curve.setData(frame.history[:, 0], frame.history[:, 1], **({"symbol": None} | dot))
        if not self.chart.marker.isVisible():
            self.chart.marker.show()
            self.chart.plot.enableAutoRange()
        iteration = shown_iteration(frame)
        self.chart.marker.setValue(iteration)
        self.labels.iteration.setText(f"iteration {iteration}")
        self.labels.log_likelihood.setText(f"log-lik {snap.log_likelihood:.6g} ({snap.mean_log_likelihood:.6g}/pt)")
        job = self.state.job
        paused = job is not None and job.gate.paused
        if frame.running_seconds is None or frame.replay:
            self.labels.speed.setText("– it/s")
        elif paused and not snap.done:
            self.labels.speed.setText("– it/s")
        else:  # iterations over the time the fit ran, its paused time left out
            self.labels.speed.setText(_speed(snap, frame.running_seconds, self.state.stream is not None))
        if snap.warnings:  # a collapse's direction named by the columns' names, as the command line names it
            import engine

            columns = self.state.dataset.columns if self.state.dataset is not None else ()
            self.messages.note("; ".join(engine.named_warnings(snap, tuple(columns))))
        if frame.replay:
            self.state.set_fit_state(REPLAY)
        elif snap.done:
            self.state.set_fit_state(fit_state_text(snap))
        elif paused:
            self.state.set_fit_state(PAUSED)


def shown_iteration(frame: Frame) -> int:
    """The iteration a frame shows, counted as its curve counts: a fit run here by the batch's iterations (its
    log-likelihood history and its timeline do); a fit shown without its history (one loaded from model
    selection, whose curve is its own restart's run) by that restart's own iterations, not by the batch's, which
    ran on for the grid's slowest fit."""
    snap = frame.snapshot
    return snap.iteration if frame.entries else snap.restart_iterations


def _speed(snap, seconds: float, passes: bool) -> str:
    """Iterations a second; for data read by chunks also the points a second its passes read (a pass per
    iteration, and one more for the start's log-likelihood)."""
    if seconds <= 0:
        return "– it/s"
    rate = snap.iteration / seconds
    text = f"{rate:.1f} it/s" if rate >= 1 else f"{rate:.2f} it/s"
    if passes:
        text += f", {snap.n_samples * (snap.iteration + 1) / seconds / 1e6:.3g} M points/s"
    return text
