"""Algorithms side by side: every registered algorithm (exact EM, the forum recipe, ...) from the same
initialisation, at the same time, each in its own fit thread; small plots of each fit and the log-likelihood
of all of them against wall-clock time and against iteration."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from ..background import Background
from ..scene.display_map import IDENTITY
from ..scene.frames import Frame
from ..scene.worker import FitJob, RunGate, run_fit
from .elided_axis import ElidedAxis
from .focus import take_turns
from .palette import component_color, series_color
from .plot_style import add_light_grid, no_si_prefix
from .point_cloud import PointCloudItem

REDRAW_MS = 100  # the side-by-side view redraws at most 10 times a second


def algorithms() -> list[str]:
    """The registered algorithms, in registry order."""
    import engine

    return list(engine.ALGORITHMS)


def reference_algorithm() -> str | None:
    """The exact algorithm the others are measured against (None if none is registered)."""
    import engine

    return next((a.name for a in engine.ALGORITHMS.values() if a.exact), None)


def initial_params(points: np.ndarray, config):
    """The parameters a config starts from (its iteration 0), as engine InitParams: the shared start."""
    import engine

    first = next(iter(engine.fit(points, replace(config, max_iter=0))))
    return engine.InitParams.from_arrays(first.weights, first.means, first.covariances)


NO_SHARED_TYPE = "the registered algorithms fit no covariance type in common: they cannot be compared"


def shared_covariance_type() -> str | None:
    """The first covariance type every registered algorithm fits (the forum recipe fits full ones only)."""
    import engine

    for name in engine.COVARIANCE_TYPES:
        if all(name in a.supported_covariance_types() for a in engine.ALGORITHMS.values()):
            return name
    return None


def comparison_configs(config, init) -> dict[str, object]:
    """Every algorithm's config: the panel's settings, the shared start, the covariance type all of them fit,
    one restart, each algorithm's own tol and optimiser defaults, and the panel's max
    iterations when it is set (else each algorithm's own)."""
    import engine

    shared = shared_covariance_type()
    if shared is None:
        raise engine.UserError(NO_SHARED_TYPE)
    base = replace(
        config,
        covariance_type=shared,
        restarts=1,
        init=None,
        init_params=init,
        select_by=None,
        tol=None,
        lr=None,
        betas=None,
        standardize=None,
    )
    return {a: replace(base, algorithm=a) for a in algorithms()}


def explain(frames: dict[str, Frame]) -> str:
    """Where each algorithm ended, and, from the recorded paths, why the slow ones are where they are: how far
    their means moved per step at most, and how far they had to travel to exact EM's answer."""
    import engine

    done = [a for a in algorithms() if a in frames]
    if not done:
        return ""
    snaps = {a: frames[a].snapshot for a in done}
    parts = [
        f"{a}: {s.mean_log_likelihood:.5f} after {engine.counted(s.iteration, 'iteration')} ({s.elapsed:.1f} s)"
        for a, s in snaps.items()
    ]
    text = "Mean log-likelihood per point — " + "; ".join(parts) + "."
    reference = reference_algorithm()
    if reference not in frames:
        return text
    target = frames[reference].snapshot
    for a in done:
        if a == reference:
            continue
        f = frames.get(a)
        if f is None or f.trajectory is None or len(f.trajectory) < 2:
            continue
        path = f.trajectory  # (T, K, 2) means over the kept iterations
        iterations = np.array([e.iteration for e in f.entries], dtype=float)
        per_step = np.linalg.norm(np.diff(path, axis=0), axis=-1) / np.maximum(np.diff(iterations), 1)[:, None]
        perm = engine.match_components(target.means, target.covariances, f.snapshot.means, f.snapshot.covariances)
        start = path[0][perm]
        need = np.linalg.norm(target.means - start, axis=-1)  # each (matched) mean's distance to em's answer
        left = np.linalg.norm(target.means - f.snapshot.means[perm], axis=-1)
        fastest = float(per_step.max())
        k = int(np.argmax(need))
        gain = f.snapshot.mean_log_likelihood - target.mean_log_likelihood
        if gain >= 0:  # not behind: a mean "still away" would say it is on its way to an answer it beat
            far = int(np.argmax(left))
            text += (
                f" {a} ended at least as high as {reference} ({gain:+.5f} per point): its component {far}'s mean is "
                f"{left[far]:.2f} from {reference}'s, another optimum of the same model, not one still on its way."
            )
            continue
        text += (
            f" {a}: its means moved at most {fastest:.4f} per iteration; to reach {reference}'s answer, component "
            f"{k}'s mean had to travel {need[k]:.2f} from its start (at least {need[k] / fastest:.0f} "
            f"iterations at that speed) and is still {left[k]:.2f} away."
        )
    return text


def text_box(label: QLabel, fewest: int, most: int) -> QScrollArea:
    """A word-wrapped label in a box of its own, `fewest` to `most` lines high, that scrolls a longer text: the
    text never runs over the widgets beside it (a wrapped label's height is not known to a splitter's layout)."""
    box = QScrollArea()
    box.setWidget(label)
    box.setWidgetResizable(True)
    box.setFrameShape(QScrollArea.Shape.NoFrame)
    box.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    line = label.fontMetrics().lineSpacing()
    box.setMinimumHeight(fewest * line + 4)
    box.setMaximumHeight(most * line + 4)
    return box


class _FitPanel(QWidget):
    """One algorithm's small plot: data in grey, each component's 1/2/3-sigma ellipses, the means."""

    def __init__(self, algorithm: str, view: CompareView) -> None:
        super().__init__()
        self.algorithm = algorithm
        self.view = view
        self.title = QLabel(f"<b>{algorithm}</b>")
        self.title.setWordWrap(True)
        self.title.setMinimumWidth(100)
        self.plot = pg.PlotWidget(background="w", axisItems={s: ElidedAxis(s) for s in ("bottom", "left")})
        add_light_grid(self.plot)
        self.plot.setMinimumSize(110, 110)
        self.points = PointCloudItem()
        self.plot.addItem(self.points)
        self.ellipses = pg.PlotCurveItem(connect="finite")
        self.plot.addItem(self.ellipses)
        self.curves: list[pg.PlotCurveItem] = []
        self.means = pg.ScatterPlotItem(symbol="+", size=14)
        self.plot.addItem(self.means)
        self.display = IDENTITY  # the scene's display units (gui.scene.display_map): every item is drawn in them
        self._drawn = np.empty((0, 2))  # the scene's shown points in display units
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)

    def show_scene(self, scene) -> None:
        self.display = scene.display
        names = scene.view.labels if scene.view is not None else ("x", "density")
        for i, side in enumerate(("bottom", "left")):  # ticks in data units; an offset, if any, named
            axis = self.plot.getAxis(side)
            axis.setScale(self.display.unit[i])
            no_si_prefix(axis)
            if self.display.offset[i] != 0.0:  # a long name ends in '…' before the offset, which stays
                axis.set_title(names[i], self.display.offset_note(i))
            else:
                axis.showLabel(False)
        self._drawn = self.display.to_display(scene.shown_points)
        self.points.set_points(self._drawn, None)
        x0, x1, y0, y1 = scene.bounds
        (x0, x1), (y0, y1) = self.display.range_to_display(0, x0, x1), self.display.range_to_display(1, y0, y1)
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        for c in self.curves:
            c.setData([], [])
        self.means.setData([], [])

    def show_frame(self, algorithm: str, frame: Frame) -> None:
        snap = frame.snapshot
        k = len(snap.weights)
        while len(self.curves) < k:
            curve = pg.PlotCurveItem(connect="finite")
            self.plot.addItem(curve)
            self.curves.append(curve)
        for j, curve in enumerate(self.curves):
            if j < k:
                # in the scene's view (1-D: the component's density curve), drawn in display units
                rings = self.display.to_display(frame.ellipses[j])
                curve.setPen(pg.mkPen(component_color(j), width=2))
                curve.setData(rings[:, 0], rings[:, 1])
            else:
                curve.setData([], [])
        self.means.setData(
            pos=self.display.to_display(frame.view_means if frame.view_means is not None else snap.means),
            brush=[component_color(j) for j in range(k)],
            pen=[pg.mkPen(component_color(j).darker(160), width=2) for j in range(k)],
        )
        self.title.setText(
            f"<b>{algorithm}</b>: {snap.mean_log_likelihood:.5f} at iteration {snap.iteration} "
            f"({snap.status.replace('_', ' ')}, {snap.elapsed:.1f} s)"
        )


class CompareView(QWidget):
    """The 'Compare algorithms' tab. The window hands it the data scene and the panel's config."""

    error = Signal(str)
    finished = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.background = Background(self, threads=max(len(algorithms()), 1))  # every algorithm at once
        self.jobs: dict[str, FitJob] = {}
        self.last: dict[str, Frame] = {}
        self.timeline: dict[str, list[tuple[float, float]]] = {}
        self._ids = 0
        self._dirty: set[str] = set()
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self._draw)
        names = ", ".join(algorithms())
        self.run_button = QPushButton("Run all")
        self.run_button.setToolTip(f"Run {names} at the same time from the same start")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        shared = shared_covariance_type()
        self.note = QLabel(
            f"{names} from one start (the panel's initialisation), {shared} covariances, each algorithm's defaults."
            if shared is not None
            else NO_SHARED_TYPE
        )
        self.note.setWordWrap(True)
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.panels = {a: _FitPanel(a, self) for a in algorithms()}
        self._build_charts()
        self._lay_out()
        self.stop_button.clicked.connect(self.stop)

    def _build_charts(self) -> None:
        """The log-likelihood of every algorithm against seconds and against iterations (log scale)."""
        self.by_time = pg.PlotWidget(background="w")
        self.by_iter = pg.PlotWidget(background="w")
        for chart, label in ((self.by_time, "seconds"), (self.by_iter, "iteration")):
            chart.setMinimumHeight(130)
            add_light_grid(chart)
            chart.setLabel("bottom", label)
            chart.setLabel("left", "mean log-likelihood")
            chart.addLegend(offset=(-10, 10))
        self.by_iter.setLogMode(x=True, y=False)
        self.by_iter.getAxis("bottom").setStyle(maxTextLevel=0)  # label the decades only
        self.time_curves = {
            a: self.by_time.plot([], [], name=a, pen=pg.mkPen(series_color(i), width=2))
            for i, a in enumerate(self.panels)
        }
        self.iter_curves = {
            a: self.by_iter.plot([], [], name=a, pen=pg.mkPen(series_color(i), width=2))
            for i, a in enumerate(self.panels)
        }

    def _lay_out(self) -> None:
        """The buttons and note above the panels side by side, the two charts below them, the verdict last."""
        top = QHBoxLayout()
        top.addWidget(self.run_button)
        top.addWidget(self.stop_button)
        top.addWidget(text_box(self.note, 2, 3), 1)
        grid = QGridLayout()
        for col, a in enumerate(self.panels):
            grid.addWidget(self.panels[a], 0, col)
        columns = max(len(self.panels), 2)
        grid.addWidget(self.by_time, 1, 0, 1, columns // 2)
        grid.addWidget(self.by_iter, 1, columns // 2, 1, columns - columns // 2)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(grid, 1)
        layout.addWidget(text_box(self.verdict, 3, 5))

    @property
    def running(self) -> bool:
        return bool(self.jobs)

    def show_view(self, scene) -> None:
        """The same data in another view: the panels redraw their last frames in it (the fits go on)."""
        from ..scene.frames import reframe

        self.scene = scene
        for job in self.jobs.values():
            job.scene = scene
        for algorithm, panel in self.panels.items():
            panel.show_scene(scene)
            if algorithm in self.last:
                self.last[algorithm] = reframe(scene, self.last[algorithm])
                panel.show_frame(algorithm, self.last[algorithm])

    def show_scene(self, scene) -> None:
        """New data (or none): the old data's comparison goes whole (its fits stopped and forgotten, so that a frame
        of theirs still on its way is dropped; their last frames, curves and verdict), the panels show the points."""
        self.stop()
        self.jobs.clear()
        self.last.clear()
        self.timeline.clear()
        self._dirty.clear()
        self._redraw.stop()
        self.verdict.setText("")
        take_turns(self.run_button, self.stop_button)
        self.scene = scene
        for algorithm, panel in self.panels.items():
            panel.show_scene(scene)
            panel.title.setText(f"<b>{algorithm}</b>")  # the old fit's log-likelihood and state go with it
        for curves in (self.time_curves, self.iter_curves):
            for c in curves.values():
                c.setData([], [])

    def start(self, scene, configs: dict) -> None:
        """Run the configs (one per algorithm) at once, each in its own background thread."""
        self.stop()
        self.show_scene(scene)
        self.last.clear()
        self.verdict.setText("")
        import engine

        for algorithm, config in configs.items():
            self._ids += 1
            job = FitJob(self._ids, scene, config, RunGate(engine.CancelToken()), light=True)
            self.jobs[algorithm] = job
            self.timeline[algorithm] = []
            self.background.run(
                lambda emit, job=job: run_fit(job, emit),
                lambda _result, a=algorithm, i=job.job_id: self._finished(a, i),
                lambda message, internal, a=algorithm, i=job.job_id: self._failed(a, i, message),
                on_item=lambda frame, a=algorithm, i=job.job_id: self._frame(a, i, frame),
                cancel=job.gate.cancel,
            )
        self.stop_button.setEnabled(True)

    def stop(self) -> None:
        for job in self.jobs.values():
            job.gate.cancel()

    def shutdown(self, msecs: int = 30_000) -> bool:
        self.stop()
        return self.background.shutdown(msecs)

    def _failed(self, algorithm: str, job_id: int, message: str) -> None:
        self.error.emit(f"{algorithm}: {message.strip().splitlines()[-1]}")
        self._finished(algorithm, job_id)

    def _frame(self, algorithm: str, job_id: int, frame: Frame) -> None:
        """Keep the frame; the redraw timer draws the latest of each algorithm REDRAW_MS apart. Several fits
        redrawn at 30 frames a second each would keep the GUI thread (and through the GIL, the fits) busy."""
        job = self.jobs.get(algorithm)
        if job is None or job.job_id != job_id:
            return
        snap = frame.snapshot
        self.last[algorithm] = frame
        self.timeline[algorithm].append((snap.elapsed, snap.mean_log_likelihood))
        self._dirty.add(algorithm)
        if not self._redraw.isActive():
            self._redraw.start()
        job.drawn.set()

    def _draw(self) -> None:
        for algorithm in self._dirty:
            frame = self.last[algorithm]
            t = np.array(self.timeline[algorithm])
            self.time_curves[algorithm].setData(t[:, 0], t[:, 1])
            h = frame.history
            self.iter_curves[algorithm].setData(np.maximum(h[:, 0], 1.0), h[:, 1])  # log axis: iteration 0 at 1
            self.panels[algorithm].show_frame(algorithm, frame)
        self._dirty.clear()

    def _finished(self, algorithm: str, job_id: int) -> None:
        job = self.jobs.get(algorithm)
        if job is not None and job.job_id == job_id:
            del self.jobs[algorithm]
            if not self.jobs:
                self._redraw.stop()
                self._draw()
                self.verdict.setText(explain(self.last))
                take_turns(self.run_button, self.stop_button)
                self.finished.emit()
