"""Run control: the engine's loading, and Run / Step / Pause / Stop / Reset of the current fit, run in the
background one fit after another; its frames go into the window's state."""

from __future__ import annotations

import gc
import time
from collections import deque

from PySide6.QtCore import QObject, QTimer, Signal

from ..background import Background
from ..scene.big_data import MACHINE, ClusterLink
from ..scene.frames import Frame, reframe
from ..scene.worker import FitJob, RunGate, load_engine, run_fit
from ..state import FAILED, IDLE, PAUSED, RUNNING, STOPPING, WindowState
from ..views.controls import ControlPanel

NO_DATA_HINT = "no data: draw points or open a file"
LOADING_HINT = "the engine (torch, pyro) is still loading"


class RunControl(QObject):
    """Starts, steps, pauses and stops fits; turns the fit thread's reports into state changes."""

    engine_loaded = Signal()
    fit_ended = Signal(str)  # the current fit ended: its status ("converged", "cancelled", ...; "error": it failed)
    buttons_changed = Signal(bool, str, bool, bool)  # can fit, why not, a fit is active, it is paused

    def __init__(self, state: WindowState, controls: ControlPanel, messages, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state, self.controls, self.messages = state, controls, messages
        self.engine_info: dict | None = None
        self.redraw_ms: deque[float] = deque(maxlen=1000)  # GUI-thread cost of each live frame (bench_gui_stall)
        self._job_ids = 0
        # one thread: the engine loads there first, and each fit starts once the one before it has ended
        self.fits = Background(self, threads=1)
        self.cluster = ClusterLink()  # the Dask client of fits on a cluster, used on the fits' thread only
        self._progress = ""  # the last progress note of a pass (withdrawn when the fit ends)
        controls.settings_changed.connect(lambda: self.stop_for_change("settings changed"))
        self._setting_error = ""  # the status note of the last setting refused (checked_config)
        for edited in (controls.settings_changed, controls.memory_limit.textEdited):  # the user corrects a setting
            edited.connect(lambda *_: self.messages.withdraw(self._setting_error))
        controls.where_box.currentIndexChanged.connect(self._release_cluster)
        state.scene_changed.connect(self.update_buttons)
        state.scene_changed.connect(lambda: controls.set_streamed(state.stream is not None))  # no prior then

    @property
    def ready(self) -> bool:
        return self.engine_info is not None

    def _release_cluster(self) -> None:
        """Another place to fit: the cluster's client (and a LocalCluster's processes) goes, after the current
        fit, on the fits' thread (the one thread that uses it)."""
        self.fits.run(self.cluster.close, lambda _result: None, lambda _message, _internal: None)

    def load_engine(self) -> None:
        self.fits.run(load_engine, self._engine_ready, self._engine_failed)

    def _engine_ready(self, info: dict) -> None:
        freeze_long_lived()
        self.engine_info = info
        self.controls.set_devices(info.get("devices", ["cpu"]))
        self.controls.engine_label.setText(f"engine ready: torch {info['torch']}, pyro {info['pyro']}")
        self.update_buttons()
        self.engine_loaded.emit()

    def _engine_failed(self, details: str, _internal: bool = True) -> None:
        self.controls.engine_label.setText("the engine could not be loaded (see the message)")
        self.messages.error("The engine could not be loaded", details.strip().splitlines()[-1], details)

    def update_buttons(self) -> None:
        can_fit = self.ready and self.state.has_points
        why = "" if can_fit else (NO_DATA_HINT if self.ready else LOADING_HINT)
        active = self.state.job_active
        self.buttons_changed.emit(can_fit, why, active, active and self.state.job.gate.paused)

    # ------------------------------------------------------------------ the user's commands
    def run(self) -> None:
        """Run (F5): resume a paused fit, else start a new one."""
        if self.state.job_active and self.state.job.gate.paused:
            self.state.job.gate.resume()
            self.state.set_fit_state(RUNNING)
        else:
            self.start_fit(paused=False)
        self.update_buttons()

    def step(self) -> None:
        """Step (F6): one more iteration of the current fit, or start a fit and take its first step."""
        if self.state.job_active:
            self.state.job.gate.step()
            self.state.set_fit_state(PAUSED)
        else:
            self.start_fit(paused=True, steps=1)
        self.update_buttons()

    def pause_resume(self) -> None:
        if not self.state.job_active:
            return
        gate = self.state.job.gate
        if gate.paused:
            gate.resume()
            self.state.set_fit_state(RUNNING)
        else:
            gate.pause()
            self.state.set_fit_state(PAUSED)
        self.update_buttons()

    def stop(self) -> None:
        """Stop (Esc): the worker ends the fit after the iteration it is computing (paused: where it is)."""
        if self.state.job_active:
            self.state.job.gate.cancel()
            self.state.set_fit_state(STOPPING)

    def reset(self) -> None:
        """Show the initialisation (iteration 0), paused: Step or Run from there."""
        self.start_fit(paused=True)
        self.update_buttons()

    def start_fit(self, paused: bool = False, steps: int = 0) -> bool:
        """Start a fit of the current data with the panel's settings (stopping any fit first)."""
        import engine

        config = self.checked_config()
        if config is None:
            return False
        where = self.checked_where()
        if where is None:
            return False
        self.cancel()
        self._job_ids += 1
        gate = RunGate(engine.CancelToken(), paused=paused)
        for _ in range(steps):
            gate.step()
        job = FitJob(self._job_ids, self.state.scene, config, gate, stream=self.state.stream, where=where)
        job.cluster = self.cluster
        self.state.forget_fit()
        self.state.set_job(job, True)
        job_id = job.job_id
        self.fits.run(
            lambda emit: run_fit(job, emit),
            lambda _result: self._fit_finished(job_id),
            lambda message, internal: self._fit_failed(job_id, message, internal),
            on_item=lambda frame: self._frame_ready(job_id, frame),
            cancel=gate.cancel,
        )
        self.state.set_fit_state(PAUSED if paused else RUNNING)
        self.update_buttons()
        return True

    def cancel(self) -> None:
        """Stop the current fit, silently (another takes its place)."""
        if self.state.job_active:
            self.state.job.gate.cancel()

    def stop_for_change(self, why: str) -> None:
        """Data or settings changed during a run: stop it cleanly first (it would be stale)."""
        if self.state.job_active:
            self.cancel()
            self.messages.note(f"{why}: the running fit was stopped", 5000)

    def checked_config(self):
        """The panel's FitConfig when the engine and the data are ready and the settings are valid; else None
        (a wrong setting is shown, by name)."""
        import engine

        if not self.ready or self.state.scene is None:
            return None
        if not self.state.has_points:
            self.messages.note(NO_DATA_HINT)
            return None
        try:
            config = self.controls.config()
            self.controls.limit_bytes()  # checked at each run too, not only when a file opens: a typo stops here
            if self.state.stream is not None:  # read by chunks: a pass per iteration, whatever N
                from engine import check_streamable

                check_streamable(config)
                return config
            n, d = self.state.scene.points.shape
            engine.check_fit_memory(n, d, config.n_components, config.restarts, factor=config.memory_factor)
            return config
        except engine.UserError as exc:
            self.messages.error("Check the settings", str(exc))
            self._setting_error = self.messages.last_error  # withdrawn from the status bar at the next edit
            return None

    def checked_where(self) -> str | None:
        """Where the fit runs: big_data.MACHINE, or for data read by chunks the panel's Dask cluster ('local' or
        a scheduler's address); None (the mistake shown) for a malformed address. Data in memory is fitted here
        (a note says so when a cluster is chosen)."""
        import engine

        if self.state.stream is None:  # (the address is not needed, nor checked)
            if self.controls.where_box.currentIndex() != 0:
                self.messages.note(
                    "this data is in memory: it is fitted on this machine (a cluster fits data read by chunks, "
                    "bigger than the memory limit)",
                    8000,
                )
            return MACHINE
        try:
            return self.controls.where()
        except engine.UserError as exc:
            self.messages.error("Check the settings", str(exc))
            self._setting_error = self.messages.last_error  # withdrawn from the status bar at the next edit
            return None

    # ------------------------------------------------------------------ the fit thread's reports
    def _current(self, job_id: int) -> bool:
        return self.state.job is not None and job_id == self.state.job.job_id

    def _frame_ready(self, job_id: int, frame: Frame | str) -> None:
        if not self._current(job_id):
            return  # a frame of a fit that was replaced
        if isinstance(frame, str):  # the progress of a long pass, or a cluster starting (it can take tens of seconds,
            self._progress = frame  # docs/performance.md, 'The window'): shown until the next note or the fit's end
            # (it is withdrawn then), never timed out while it holds
            self.messages.note(frame, 0)
            return
        if frame.view is not self.state.scene.view:  # built just before the view changed: never draw the old view
            if not frame.snapshot.done:
                self.state.job.drawn.set()  # dropped: the next frame comes in the new view
                return
            frame = reframe(self.state.scene, frame)  # the last one: drawn again here, once
        t0 = time.perf_counter()
        following = self.state.following
        self.state.set_latest(frame)
        if following:
            self.state.set_frame(frame)
        self.redraw_ms.append((time.perf_counter() - t0) * 1e3)
        job = self.state.job
        # acknowledge once the event loop has painted it (a 0 ms timer runs after the pending paint events),
        # telling the worker how long drawing took: it spaces frames by at least twice that
        QTimer.singleShot(0, lambda: _painted(job, t0))

    def _fit_finished(self, job_id: int) -> None:
        if not self._current(job_id):
            return
        self.messages.withdraw(self._progress)  # "pass: 58%" must not outlive the fit
        self.state.set_job(self.state.job, False)
        self.update_buttons()
        frame = self.state.frame
        status = frame.snapshot.status if frame is not None else "error"
        if status == "running" and self.state.job.gate.token.cancelled:  # stopped inside a pass (data by chunks)
            status = "cancelled"
        if self.state.fit_state in (RUNNING, STOPPING, PAUSED):
            self.state.set_fit_state(status.replace("_", " ") if frame is not None else IDLE)
        self.fit_ended.emit(status)

    def _fit_failed(self, job_id: int, message: str, internal: bool) -> None:
        """The fit stopped on an error: a user's mistake (its message) or an internal one (a traceback)."""
        if self._current(job_id):
            self.state.set_fit_state(FAILED)
            self.state.set_frame(None)
            if internal:
                self.messages.error("The fit failed (an internal error)", message.strip().splitlines()[-1], message)
            else:
                self.messages.error("The fit stopped", message)
        self._fit_finished(job_id)

    def shutdown(self, msecs: int = 30_000) -> bool:
        """Stop the fit; close the cluster's client after it, on the fits' thread; wait (at most msecs) for both.
        True when they ended."""
        self.cancel()
        return self.fits.shutdown(msecs, last=self.cluster.close)  # a LocalCluster's processes end with it


_FROZEN = False


def freeze_long_lived() -> None:
    """torch, pyro, Qt and pyqtgraph make ~220k long-lived objects; a full garbage collection walks them all holding
    the GIL, a stall of the event loop mid-fit: once per process, when the engine has loaded, collect and freeze them
    out of collection (a second window, or a test's, must not freeze the first one's garbage for good)."""
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.collect()
        gc.freeze()


def _painted(job: FitJob, t0: float) -> None:
    job.gui_cost = time.perf_counter() - t0
    job.drawn.set()
