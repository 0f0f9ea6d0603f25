"""Replay and the start: the timeline slider replays any kept iteration (of the fit or of a chosen restart);
"Continue from here" and a start set by hand (dragged or typed) become the next fit's initialisation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..background import Background
from ..scene.frames import Frame, build_frame, own_iterations
from ..scene.restart_paths import is_latest, snapshot_at, trajectory_of
from ..scene.worker import start_states
from ..state import WindowState
from ..views.controls import ControlPanel
from ..views.param_table import ParamTable
from ..views.plot_view import PlotView
from ..views.timeline import Timeline


class ReplayControl:
    """The timeline's replay, going live again, and the hand-set start."""

    def __init__(
        self,
        state: WindowState,
        timeline: Timeline,
        plot: PlotView,
        table: ParamTable,
        controls: ControlPanel,
        run_control,
        tasks: Background,
        messages,
    ) -> None:
        self.state, self.timeline, self.plot, self.table = state, timeline, plot, table
        self.controls, self.run_control, self.tasks, self.messages = controls, run_control, tasks, messages
        self._token = 0  # counts replay requests: a frame built for an older one is dropped
        timeline.moved.connect(self.moved)
        timeline.live.connect(self.go_live)
        timeline.continue_here.connect(self.continue_from_here)
        timeline.edit_start.toggled.connect(self._toggle_edit)
        plot.start_edited.connect(self.set_start)
        table.params_typed.connect(self.set_start)
        table.typing_error.connect(self._typing_error)
        state.scene_changed.connect(self._forget)
        state.job_changed.connect(self._forget)

    def _forget(self) -> None:
        self._token += 1

    def moved(self, index: int) -> None:
        """The user moved the slider: replay that kept iteration (the end of the slider is live)."""
        latest = self.state.latest
        if latest is None or not latest.entries:
            return
        entries = latest.entries
        index = min(index, len(entries) - 1)
        self.state.replaying = index < len(entries) - 1
        if not self.state.replaying and self.state.view_restart is None:
            self.state.set_frame(latest)
            self.timeline.show_position(latest.snapshot.iteration, None, live=True, own=own_iterations(latest))
            return
        self.show_entry(entries[index])

    def show_entry(self, entry) -> None:
        """Build the frame of a kept iteration in the background: of view_restart (a restart picked in the gallery,
        its components in the answer's order), else of the fit's own restart (its answer once it ended, the one
        shown now while it runs). Either way one restart's own parameters and path at every iteration, not each
        iteration's best restart (which in a batch of restarts changes from iteration to iteration)."""
        state = self.state
        latest, scene, restart, perm = state.latest, state.scene, state.view_restart, state.restart_perm
        own = latest.snapshot.restart if restart is None else restart
        self._token += 1
        token = self._token

        def work() -> Frame:
            snap = snapshot_at(latest.snapshot, entry, own, perm)
            if restart is None:  # the fit's log-likelihood trace, every iteration of it
                history = latest.history[latest.history[:, 0] <= entry.iteration]
            else:
                history = np.array(
                    [
                        (e.iteration, e.restart_mean_log_likelihood[restart])
                        for e in latest.entries
                        if e.iteration <= entry.iteration
                    ]
                )
            frame = build_frame(
                scene, snap, history, latest.entries, trajectory_of(latest.entries, entry.iteration, own, perm)
            )
            if snap.iteration == 0:  # a start's health counts the points it owns, as when it was live
                frame = replace(frame, states=start_states(scene, snap, frame.states))
            return replace(frame, replay=not is_latest(latest.snapshot, entry, snap.restart))

        def done(frame: Frame) -> None:
            if token == self._token and state.scene is scene:
                state.set_frame(frame)
                self.timeline.show_position(entry.iteration, restart, live=False)

        self.tasks.run(work, done, self.messages.failed("Could not replay that iteration"))

    def go_live(self) -> None:
        """Back to the fit itself (its shown restart, latest iteration)."""
        self.state.set_restart(None)
        self.state.replaying = False
        latest = self.state.latest
        if latest is not None:
            self.timeline.set_entries([e.iteration for e in latest.entries], follow=True)
            self.state.set_frame(latest)
            self.timeline.show_position(latest.snapshot.iteration, None, live=True, own=own_iterations(latest))

    def continue_from_here(self) -> None:
        """A new fit from the shown parameters (any iteration, any restart), with the panel's settings."""
        import engine

        if self.state.frame is None:
            return
        snap = self.state.frame.snapshot
        init = engine.InitParams.from_arrays(snap.weights, snap.means, snap.covariances)
        of_restart = f" of restart {snap.restart}" if self.state.view_restart is not None else ""
        where = f"iteration {snap.iteration}{of_restart}"
        self.controls.set_imported(init, f"the fit at {where}", keep_pins=True)  # its pinned values are the pins'
        self.messages.note(f"initialisation: the fit at {where}; change any setting, then Run", 10000)
        self.run_control.reset()

    def _toggle_edit(self, on: bool) -> None:
        self.plot.set_edit_mode(on)
        self.table.set_editable(on)

    def set_start(self, weights, means, covariances) -> None:
        """Parameters set by hand (dragged on the plot or typed in the table) become the initialisation,
        checked by the engine; the fit is reset to show them (Run or Step from there)."""
        import engine

        try:
            w, m, c = engine.check_mixture(weights, means, covariances, where="the start you set")
        except engine.UserError as exc:
            self._typing_error(str(exc))
            return
        self.controls.set_imported(engine.InitParams.from_arrays(w, m, c), "set by hand", keep_pins=True)
        self.messages.note("initialisation set by hand: Run (F5) or Step (F6) from it")
        self.run_control.reset()

    def _typing_error(self, message: str) -> None:
        self.messages.error("That start is not a valid mixture", message)
        if self.state.frame is not None:
            self.state.set_frame(self.state.frame)  # put the drawing back
