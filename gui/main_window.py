"""The main window: plot, controls, log-likelihood chart, parameter table, menus and status bar.

It owns every widget and plot item (GUI thread only). Work that can take longer than ~50 ms runs
elsewhere: the fit and its frames in the FitThread, loading/generating/scanning data and writing large
exports in the TaskRunner's pool. Results come back as queued signals.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QDockWidget,
    QLabel,
    QLineEdit,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from . import dialogs
from .compare import CompareView
from .controls import ControlPanel
from .frames import (
    SCATTER_LIMIT,
    SIGMAS,
    DataScene,
    Frame,
    build_scene,
)
from .gallery import GalleryPanel
from .generate_dialog import GenerateDialog
from .param_table import ParamTable
from .plot_view import PlotView, add_light_grid
from .selection_view import SelectionView
from .tasks import TaskRunner
from .timeline import Timeline
from .window_debugging import DebuggingActions
from .window_files import FileActions
from .worker import FitJob, FitThread, RunGate

DEMO_N = 1000
PLOT_MIN_HEIGHT = 200  # pixels: at any window size the plot stays a plot
LOWER_MIN_HEIGHT = 140  # pixels: the chart and tabs below it scroll only when the window is smaller still
MAX_RECENT = 8
DATA_FILTER = "Data (*.csv *.tsv *.txt *.dat *.npy *.npz);;All files (*)"


class ShortcutsFirst(QObject):
    """On a text field, the window's shortcuts win over the field's own key bindings (Qt's line edit takes
    Ctrl+E, 'end of line', on X11: Export parameters did nothing while a field had focus)."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            pressed = QKeySequence(event.keyCombination())
            for action in self.window.findChildren(QAction):
                if action.isEnabled() and action.shortcut() == pressed:
                    event.ignore()  # not overridden: the shortcut goes to the window's action
                    return True
        return False


class MainWindow(DebuggingActions, FileActions, QMainWindow):
    """GMM Studio's window. `settings` is where geometry, model settings and recent files persist."""

    data_shown = Signal()  # a new data set is on the plot
    fit_ended = Signal(str)  # the current fit ended: its status ("converged", "cancelled", "error", ...)
    engine_loaded = Signal()

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("GMM Studio")
        self.settings = settings if settings is not None else QSettings()
        self.engine_info: dict | None = None
        self.dataset = None  # engine.Dataset on the plot
        self.scene: DataScene | None = None
        self.frame: Frame | None = None
        self.job: FitJob | None = None
        self.job_active = False
        self.latest: Frame | None = None  # the newest frame of the current fit
        self.view_restart: int | None = None  # a restart chosen in the gallery (None: the fit's own)
        self._restart_perm = None
        self.replaying = False
        self._replay_token = 0
        self.last_error = ""
        self.data_origin: tuple = ("inline",)
        self._session_check: dict | None = None
        self.session_verdict = ""
        self.redraw_ms: deque[float] = deque(maxlen=1000)
        self._job_ids = 0
        self._data_token = 0
        self._boxes: list = []  # open non-modal message boxes (kept alive)
        self._build()
        self._restore_settings()
        self.fit_thread = FitThread(self)
        w = self.fit_thread.worker
        w.engine_ready.connect(self._engine_ready)
        w.engine_failed.connect(self._engine_failed)  # a bound method: queued to this (the GUI) thread
        w.frame_ready.connect(self._frame_ready)
        w.failed.connect(self._fit_failed)
        w.crashed.connect(self._fit_crashed)
        w.finished.connect(self._fit_finished)
        self.tasks = TaskRunner(self)
        self._closed = False
        QApplication.instance().aboutToQuit.connect(self.shutdown)
        self.fit_thread.load_engine()
        self.show_demo_data()
        self._update_buttons()

    # ================================================================== layout
    def _build(self) -> None:
        self.plot = PlotView()
        self.ll_plot = pg.PlotWidget(background="w")
        self.ll_plot.setLabel("bottom", "iteration")
        self.ll_plot.setLabel("left", "mean log-likelihood")
        add_light_grid(self.ll_plot)
        self.ll_curve = self.ll_plot.plot([], [], pen=pg.mkPen("#1f4e79", width=2))
        self.ll_marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
        self.ll_plot.addItem(self.ll_marker)
        self.table = ParamTable()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Parameters")
        self.gallery_panel = GalleryPanel()
        self.tabs.addTab(self.gallery_panel, "Restarts")
        self.gallery_panel.show_restart.connect(self.show_restart)
        self.gallery_panel.make_current.connect(self.make_restart_current)
        self.gallery_panel.export_requested.connect(self.export_gallery_dialog)
        self.compare = CompareView()
        self.tabs.addTab(self.compare, "Compare algorithms")
        self.compare.run_button.clicked.connect(self.run_comparison)
        self.compare.error.connect(lambda msg: self._error("The comparison stopped", msg))
        self.selection = SelectionView()
        self.tabs.addTab(self.selection, "Model selection")
        self.selection.run_button.clicked.connect(self.run_selection)
        self.selection.load_fit.connect(self.load_snapshot)
        self.selection.worker.failed.connect(self._selection_failed)
        self.bottom = bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.ll_plot)
        bottom.addWidget(self.tabs)
        bottom.setSizes([400, 600])
        self.timeline = Timeline()
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.plot, 1)
        top_layout.addWidget(self.timeline)
        # The lower panel scrolls inside its share: its tabs' minimum sizes never squeeze the plot, and
        # switching tabs never moves the splitter (the plot keeps the share the user gave it).
        bottom.setMinimumHeight(LOWER_MIN_HEIGHT)  # below its tabs' own minimum: they shrink before it scrolls
        self.lower = QScrollArea()
        self.lower.setWidget(bottom)
        self.lower.setWidgetResizable(True)
        self.lower.setFrameShape(QScrollArea.Shape.NoFrame)
        self.plot.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.lower)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([620, 250])
        self.timeline.moved.connect(self._timeline_moved)
        self.timeline.live.connect(self.go_live)
        self.timeline.continue_here.connect(self.continue_from_here)
        self.timeline.trajectories_toggled.connect(self._toggle_paths)
        self.timeline.edit_start.toggled.connect(self._toggle_edit)
        self.plot.start_edited.connect(self.set_start)
        self.table.params_typed.connect(self.set_start)
        self.table.typing_error.connect(self._typing_error)
        self.setCentralWidget(self.splitter)
        self.controls = ControlPanel()
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        dock = QDockWidget("Controls", self)
        dock.setObjectName("controls")
        dock.setWidget(scroll)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self._build_status()
        self._build_menus()
        self._shortcuts_first = ShortcutsFirst(self)
        for field in self.findChildren(QLineEdit) + self.findChildren(QAbstractSpinBox):
            field.installEventFilter(self._shortcuts_first)
        c = self.controls
        c.generate_button.clicked.connect(self.generate_dialog)
        c.open_button.clicked.connect(self.open_dialog)
        c.draw_button.toggled.connect(self.plot.set_draw_mode)
        c.clear_button.clicked.connect(self.clear_points)
        c.run_button.clicked.connect(self.run)
        c.step_button.clicked.connect(self.step)
        c.pause_button.clicked.connect(self.pause_resume)
        c.stop_button.clicked.connect(self.stop)
        c.reset_button.clicked.connect(self.reset)
        c.settings_changed.connect(self._settings_changed)
        self.plot.view_box.points_drawn.connect(self.add_points)
        self.setAcceptDrops(True)
        self.resize(1280, 860)

    def _build_status(self) -> None:
        self.state_label = QLabel("idle")
        self.iter_label = QLabel("iteration –")
        self.ll_label = QLabel("log-likelihood –")
        self.speed_label = QLabel("– it/s")
        for w in (self.state_label, self.iter_label, self.ll_label, self.speed_label):
            w.setMinimumWidth(120)
            self.statusBar().addPermanentWidget(w)

    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        f = bar.addMenu("&File")
        self._action(f, "&Open data…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = f.addMenu("Open &recent")
        self._action(f, "&Generate data…", self.generate_dialog, "Ctrl+G")
        f.addSeparator()
        self._action(f, "&Import parameters as initialisation…", self.import_params_dialog, "Ctrl+I")
        self._action(f, "&Export parameters…", self.export_params_dialog, "Ctrl+E")
        self._action(f, "Export &labels and responsibilities…", self.export_labels_dialog)
        self._action(f, "Export &plot (PNG, SVG)…", self.export_plot_dialog)
        self._action(f, "Export restart &gallery…", self.export_gallery_dialog)
        f.addSeparator()
        self._action(f, "&Save session…", self.save_session_dialog, QKeySequence.StandardKey.Save)
        self._action(f, "Open sessio&n…", self.open_session_dialog, "Ctrl+Shift+O")
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        r = bar.addMenu("F&it")
        self.run_action = self._action(r, "&Run", self.run, "F5")
        self.step_action = self._action(r, "&Step one iteration", self.step, "F6")
        self.pause_action = self._action(r, "&Pause / resume", self.pause_resume, "Space")
        self.stop_action = self._action(r, "S&top", self.stop, "Esc")
        self.reset_action = self._action(r, "Reset to the &initialisation", self.reset, "Ctrl+R")
        self._build_view_menu(bar.addMenu("&View"))
        h = bar.addMenu("&Help")
        self._action(h, "&Keyboard shortcuts", lambda: self._keep(dialogs.show_shortcuts(self, self.shortcuts())), "F1")
        self._action(h, "&About GMM Studio", lambda: self._keep(dialogs.show_about(self, self.engine_info)))

    def _build_view_menu(self, menu) -> None:
        """Checkable overlays: each sigma's ellipses, the density contours, the means' paths."""
        self.sigma_actions = {
            sigma: self._check_action(menu, f"{sigma:g}-sigma ellipses", key, self._overlays_changed)
            for sigma, key in zip(SIGMAS, ("Ctrl+1", "Ctrl+2", "Ctrl+3"), strict=True)
        }
        self.contours_action = self._check_action(menu, "Density &contours", "Ctrl+4", self._overlays_changed)
        self.paths_action = self._check_action(menu, "Means' &paths", "Ctrl+5", self.timeline.show_paths.setChecked)
        self.timeline.show_paths.toggled.connect(self.paths_action.setChecked)

    def _check_action(self, menu, text: str, shortcut: str, on_toggled) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(True)
        action.setChecked(True)
        action.toggled.connect(on_toggled)
        menu.addAction(action)
        return action

    def _overlays_changed(self, _on: bool = True) -> None:
        self.plot.set_overlays(
            sigmas={s for s, a in self.sigma_actions.items() if a.isChecked()},
            contours=self.contours_action.isChecked(),
        )

    def shortcuts(self) -> list[tuple[str, str]]:
        """(key, what it does) for every menu action that has a shortcut, in menu order."""
        out = []
        for menu_action in self.menuBar().actions():
            for action in menu_action.menu().actions():
                if not action.shortcut().isEmpty():
                    key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                    out.append((key, action.text().replace("&", "").rstrip("…")))
        return out
        self._rebuild_recent()

    # ================================================================== engine and buttons
    def _engine_ready(self, info: dict) -> None:
        # torch, pyro, Qt and pyqtgraph make ~220k long-lived objects; a full garbage collection walked them
        # all (~100 ms) holding the GIL: a 130 ms stall of the event loop mid-fit. Freeze them out of collection.
        gc.collect()
        gc.freeze()
        self.engine_info = info
        self.controls.set_devices(info.get("devices", ["cpu"]))
        self.controls.engine_label.setText(f"engine ready: torch {info['torch']}, pyro {info['pyro']}")
        self._update_buttons()
        self.engine_loaded.emit()

    def _engine_failed(self, details: str) -> None:
        self.controls.engine_label.setText("the engine could not be loaded (see the message)")
        self._error("The engine could not be loaded", details.strip().splitlines()[-1], details)

    @property
    def ready(self) -> bool:
        return self.engine_info is not None

    NO_DATA = "no data: draw points or open a file"

    def _update_buttons(self) -> None:
        c = self.controls
        has_data = self.scene is not None and len(self.scene.points) > 0
        can_fit = self.ready and has_data
        why = "" if can_fit else (self.NO_DATA if self.ready else "the engine (torch, pyro) is still loading")
        for w in (c.run_button, c.step_button, c.reset_button, self.run_action, self.step_action, self.reset_action):
            w.setEnabled(can_fit)
            w.setToolTip(why)
        for w in (c.pause_button, c.stop_button, self.pause_action, self.stop_action):
            w.setEnabled(self.job_active)
        paused = self.job_active and self.job.gate.paused
        c.pause_button.setText("Resume (Space)" if paused else "Pause (Space)")

    # ================================================================== running
    def run(self) -> None:
        """Run (F5): resume a paused fit, else start a new one."""
        if self.job_active and self.job.gate.paused:
            self.job.gate.resume()
            self._set_state("running")
        else:
            self.start_fit(paused=False)
        self._update_buttons()

    def step(self) -> None:
        """Step (F6): one more iteration of the current fit, or start a fit and take its first step."""
        if self.job_active:
            self.job.gate.step()
            self._set_state("paused")
        else:
            self.start_fit(paused=True, steps=1)
        self._update_buttons()

    def pause_resume(self) -> None:
        if not self.job_active:
            return
        if self.job.gate.paused:
            self.job.gate.resume()
            self._set_state("running")
        else:
            self.job.gate.pause()
            self._set_state("paused")
            self.speed_label.setText("paused")
        self._update_buttons()

    def stop(self) -> None:
        """Stop (Esc): the worker ends the fit after the current iteration."""
        if self.job_active:
            self.job.gate.cancel()
            self._set_state("stopping")

    def reset(self) -> None:
        """Show the initialisation (iteration 0), paused: Step or Run from there."""
        self.start_fit(paused=True)
        self._update_buttons()

    def start_fit(self, paused: bool = False, steps: int = 0) -> bool:
        """Start a fit of the current data with the panel's settings (stopping any fit first)."""
        import engine

        config = self._checked_config()
        if config is None:
            return False
        if self.job_active:
            self.job.gate.cancel()
        self._job_ids += 1
        gate = RunGate(engine.CancelToken(), paused=paused)
        for _ in range(steps):
            gate.step()
        self.job = FitJob(self._job_ids, self.scene, config, gate)
        self.job_active = True
        self._reset_view()
        self.ll_curve.setData([], [])
        self.fit_thread.submit(self.job)
        self._set_state("paused" if paused else "running")
        self._update_buttons()
        return True

    def _reset_view(self) -> None:
        """A new fit or new data: live view, no chosen restart, empty timeline and gallery."""
        self.latest = None
        self.view_restart = None
        self._restart_perm = None
        self.replaying = False
        self._replay_token += 1
        self.timeline.clear()
        self.gallery_panel.clear()
        self.tabs.setTabText(self.tabs.indexOf(self.gallery_panel), "Restarts")

    def _checked_config(self):
        """The panel's FitConfig when the engine and the data are ready and the settings are valid; else None
        (a wrong setting is shown, by name)."""
        import engine

        if not self.ready or self.scene is None:
            return None
        if len(self.scene.points) == 0:
            self.statusBar().showMessage(self.NO_DATA, 8000)
            return None
        try:
            config = self.controls.config()
            n, d = self.scene.points.shape
            engine.check_fit_memory(n, d, config.n_components, config.restarts)
            return config
        except engine.UserError as exc:
            self._error("Check the settings", str(exc))
            return None

    def stop_for_change(self, why: str) -> None:
        """Data or settings changed during a run: stop it cleanly first (it would be stale)."""
        if self.job_active:
            self.job.gate.cancel()
            self.statusBar().showMessage(f"{why}: the running fit was stopped", 5000)

    def _settings_changed(self) -> None:
        self.stop_for_change("settings changed")

    def _frame_ready(self, job_id: int, frame: Frame) -> None:
        if self.job is None or job_id != self.job.job_id:
            return  # a frame of a fit that was replaced
        t0 = time.perf_counter()
        self.latest = frame
        following = self.following
        if following:
            self.show_frame(frame)
        self.timeline.set_entries([e.iteration for e in frame.entries], follow=following)
        if following:
            self.timeline.show_position(frame.snapshot.iteration, None, live=True)
        self.redraw_ms.append((time.perf_counter() - t0) * 1e3)
        job = self.job
        # acknowledge once the event loop has painted it (a 0 ms timer runs after the pending paint events),
        # telling the worker how long drawing took: it spaces frames by at least twice that
        QTimer.singleShot(0, lambda: self._frame_painted(job, t0))
        if frame.snapshot.done and frame.snapshot.config.restarts > 1:
            self._compute_gallery(frame)

    @staticmethod
    def _frame_painted(job: FitJob, t0: float) -> None:
        job.gui_cost = time.perf_counter() - t0
        job.drawn.set()

    @property
    def following(self) -> bool:
        """True when the plot follows the fit live (not replaying an iteration, not showing another restart)."""
        return not self.replaying and self.view_restart is None

    def show_frame(self, frame: Frame) -> None:
        """Draw a frame: plot items, parameter table, log-likelihood chart, status bar."""
        self.frame = frame
        snap = frame.snapshot
        self.plot.show_frame(frame)
        self.table.set_params(snap.weights, snap.means, snap.covariances, frame.states)
        if len(frame.history):
            self.ll_curve.setData(frame.history[:, 0], frame.history[:, 1])
        if not self.ll_marker.isVisible():
            self.ll_marker.show()
            self.ll_plot.enableAutoRange()
        self.ll_marker.setValue(snap.iteration)
        self.iter_label.setText(f"iteration {snap.iteration}")
        self.ll_label.setText(f"log-lik {snap.log_likelihood:.6g} ({snap.mean_log_likelihood:.6g}/pt)")
        if frame.running_seconds is None or frame.replay:
            self.speed_label.setText("– it/s")
        elif self.job is not None and self.job.gate.paused and not snap.done:
            self.speed_label.setText("paused")
        else:  # iterations over the time the fit ran, its paused time left out
            seconds = frame.running_seconds
            self.speed_label.setText(f"{snap.iteration / seconds:.1f} it/s" if seconds > 0 else "– it/s")
        if snap.warnings:
            self.statusBar().showMessage("; ".join(snap.warnings), 8000)
        if frame.replay:
            self._set_state("replay")
        elif snap.done:
            self._set_state(snap.status.replace("_", " "))
        elif self.job is not None and self.job.gate.paused:
            self._set_state("paused")

    def _fit_finished(self, job_id: int) -> None:
        if self.job is None or job_id != self.job.job_id:
            return
        self.job_active = False
        self._update_buttons()
        status = self.frame.snapshot.status if self.frame is not None else "error"
        if self.state_label.text() in ("running", "stopping", "paused"):
            self._set_state(status.replace("_", " ") if self.frame is not None else "idle")
        self._check_session(status)
        self.fit_ended.emit(status)

    def _fit_failed(self, job_id: int, message: str) -> None:
        if self.job is not None and job_id == self.job.job_id:
            self._set_state("failed")
            self.frame = None
            self._error("The fit stopped", message)

    def _fit_crashed(self, job_id: int, details: str) -> None:
        if self.job is not None and job_id == self.job.job_id:
            self._set_state("failed")
            self.frame = None
            self._error("The fit failed (an internal error)", details.strip().splitlines()[-1], details)

    def _set_state(self, text: str) -> None:
        self.state_label.setText(text)

    # ================================================================== data
    def show_demo_data(self) -> None:
        """The forum preset (N=1000, seed 0): the data the Pyro forum recipe was written for."""
        import engine

        p = engine.FORUM_PRESET
        points, _ = engine.sample_mixture(p["weights"], p["means"], p["covariances"], DEMO_N, seed=0)
        self.set_dataset(
            engine.Dataset(points, ("x", "y"), (0, 1), f"demo: forum preset, N={DEMO_N}, seed 0"),
            ("generated", p, DEMO_N, 0),
        )

    def set_dataset(self, dataset, origin: tuple = ("inline",), keep_range: bool = False) -> None:
        """Show a new data set (engine.Dataset); a running fit is stopped first. origin: ("file",),
        ("generated", mixture, n, seed) or ("inline",): how a session finds the data again. keep_range: the
        view stays put (points drawn by hand).

        Nothing of the previous data's fit survives: paths, start circles, status, chart and iteration go back
        to "no fit yet", and a start imported or set for the old data goes back to the panel's initialisation.
        """
        self.stop_for_change("the data changed")
        self._forget_start()
        self.dataset = dataset
        self.data_origin = origin
        self._data_token += 1
        token = self._data_token
        n = len(dataset.points)
        self.controls.data_label.setText(f"{dataset.source}\nN = {n:,}, columns: {', '.join(dataset.columns)}")
        if n <= SCATTER_LIMIT:  # O(N) NumPy on at most 50k points: a few ms
            self._show_scene(token, build_scene(dataset.points), keep_range)
        else:
            self.statusBar().showMessage(f"preparing {n:,} points…")
            self.tasks.run(
                lambda: build_scene(dataset.points),
                lambda scene: self._show_scene(token, scene),
                lambda msg, internal: self._error("Could not show the data", msg),
            )

    def _forget_start(self) -> None:
        """A start imported, set by hand or continued from belongs to the data it was made on: drop it."""
        if self.controls.forget_imported():
            self.statusBar().showMessage(
                "new data: the start made for the previous data was dropped; the fit "
                f"starts from the panel's initialisation ({self.controls.init.currentText()})",
                10000,
            )

    def _show_scene(self, token: int, scene: DataScene, keep_range: bool = False) -> None:
        if token != self._data_token:
            return  # superseded by newer data
        self.scene = scene
        self.frame = None
        self.job = None  # the old fit's frames and end are ignored from now on
        self.job_active = False
        self._reset_view()
        self.plot.show_scene(scene, tuple(self.dataset.columns), keep_range)
        self.compare.show_scene(scene)
        self.selection.clear()
        self.table.clear_params()
        self.ll_curve.setData([], [])
        self.ll_marker.hide()
        # no old fit's range on an empty chart; the next fit's first frame turns auto-range back on
        self.ll_plot.setRange(xRange=(0, 10), yRange=(0, 1), padding=0)
        for label, text in (
            (self.iter_label, "iteration –"),
            (self.ll_label, "log-likelihood –"),
            (self.speed_label, "– it/s"),
        ):
            label.setText(text)
        self._set_state("no fit yet" if len(scene.points) else "no data")
        if scene.sampled:
            self.statusBar().showMessage(
                f"{len(scene.points):,} points: the density image shows all, {len(scene.shown):,} sampled are drawn",
                8000,
            )
        self._update_buttons()
        self.data_shown.emit()

    def add_points(self, new: np.ndarray) -> None:
        """Points drawn by hand are added to the data (as in the classic interactive EM demos)."""
        import engine

        old = self.dataset.points if self.dataset is not None else np.empty((0, 2))
        source = self.dataset.source if self.dataset is not None else ""
        if not source.endswith("(edited by hand)") and source != "drawn by hand":
            source = f"{source} (edited by hand)".strip()
        columns = self.dataset.columns if self.dataset is not None else ("x", "y")
        self.set_dataset(engine.Dataset(np.vstack([old, new]), columns, (0, 1), source), keep_range=True)

    def clear_points(self) -> None:
        import engine

        self.set_dataset(engine.Dataset(np.empty((0, 2)), ("x", "y"), (0, 1), "drawn by hand"), keep_range=True)
        self.controls.draw_button.setChecked(True)

    def generate_dialog(self) -> None:
        dialog = GenerateDialog(self)
        dialog.accepted.connect(lambda: self.generate(*dialog.mixture(), dialog.n.value(), dialog.seed.value()))
        dialog.open()
        self._keep(dialog)

    def generate(self, weights, means, covariances, n: int, seed: int) -> None:
        """Sample n points from the mixture (in the background: 1e6 points take ~0.3 s)."""
        import engine

        source = f"generated: K={len(weights)}, N={n:,}, seed {seed}"

        def work():
            points, _ = engine.sample_mixture(weights, means, covariances, n, seed)
            return engine.Dataset(points, ("x", "y"), (0, 1), source)

        mixture = {"weights": weights, "means": means, "covariances": covariances}
        self.tasks.run(
            work,
            lambda ds: self.set_dataset(ds, ("generated", mixture, n, seed)),
            lambda msg, internal: self._error("Could not generate", msg),
        )

    def open_dialog(self) -> None:
        """Open data: the dialog starts in the last folder data came from, else the working directory."""
        self.ask_path(self.open_path, "Open data", DATA_FILTER, self.last_folder(), save=False)

    def last_folder(self) -> str:
        folder = self.settings.value("last_folder")
        return str(folder) if folder and Path(str(folder)).is_dir() else str(Path.cwd())

    def open_path(self, path: str, columns: list | None = None, ask_columns: bool = True) -> None:
        """Load a data file in the background; a file with more than two columns asks which two
        (unless columns are given, or ask_columns is False: then the loader's own choice is taken)."""
        import engine

        path = str(path)
        self.statusBar().showMessage(f"loading {path}…")

        def work():
            if columns is not None:
                return None, engine.load(path, columns)
            names = engine.column_names(path)
            return names, engine.load(path)

        def done(result) -> None:
            names, dataset = result
            self._remember(path)
            if names is not None and len(names) > 2 and ask_columns:
                self._pick_columns(path, names, dataset)
            else:
                self.set_dataset(dataset, ("file",))
                self.statusBar().showMessage(f"loaded {path}", 5000)

        self.tasks.run(work, done, lambda msg, internal: self._error("Could not open the data", msg))

    def _pick_columns(self, path: str, names: list[str], dataset) -> None:
        picker = dialogs.ColumnPicker(self, path, names, tuple(dataset.column_indices))
        self.column_picker = picker
        self.statusBar().showMessage(f"{path}: choose the two columns to plot and fit")

        def chosen() -> None:
            if picker.columns() == tuple(dataset.column_indices):
                self.set_dataset(dataset, ("file",))
                self.statusBar().showMessage(f"loaded {path}", 5000)
            else:
                self.open_path(path, list(picker.columns()))

        def cancelled() -> None:
            self.statusBar().showMessage(f"opening {path} was cancelled: the data on screen stays", 5000)

        picker.accepted.connect(chosen)
        picker.rejected.connect(cancelled)
        picker.open()

    # ---------------------------------------------------------------- drag and drop, recent files
    def dragEnterEvent(self, event) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_path(files[0])

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember(self, path: str) -> None:
        path = str(Path(path).resolve())
        recent = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self.settings.setValue("last_folder", str(Path(path).parent))
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            self.recent_menu.addAction(path, lambda p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    # ================================================================== errors, settings, closing
    def _error(self, title: str, message: str, details: str = "") -> None:
        message, details = dialogs.plain_message(message, details)
        self.last_error = message
        self.statusBar().showMessage(message, 10000)
        self._keep(dialogs.show_error(self, title, message, details))

    def _keep(self, widget) -> None:
        self._boxes = [b for b in self._boxes if b.isVisible()] + [widget]

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        splitter = self.settings.value("window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self.controls.restore(self.settings)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.controls.save(self.settings)
        self.settings.sync()

    def closeEvent(self, event) -> None:
        """Save settings, stop the fit and end its thread before the window goes."""
        self.save_settings()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Cancel the fit and end the threads (also when the application quits without closing us)."""
        if self._closed:
            return
        self._closed = True
        self.fit_thread.shutdown(self.job if self.job_active else None)
        self.compare.shutdown()
        self.selection.shutdown()
        self.tasks.wait(10_000)
