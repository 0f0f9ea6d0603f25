"""Fit > Uncertainty…: the bootstrap of the fit on screen (issue 25), run in the background, drawn over the plot and
written into the parameter table as standard errors.

One owner: this controller starts the one bootstrap at a time on its own Background (a child of the window, so that
closing the window cancels and awaits it) and ends it. New data, a new fit (or a fit continued) and closing the
window cancel it and drop its result: the overlay belongs to the fit it bootstrapped and is drawn only while that
fit's end is the frame on screen (an earlier iteration replayed, or another restart shown, hides it).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal

from ..background import Background
from ..scene.uncertainty import Uncertainty, in_view
from ..state import WindowState
from ..views.uncertainty_dialog import UncertaintyDialog
from ..views.uncertainty_layer import UncertaintyLayer


class UncertaintyControl(QObject):
    """Starts, cancels and shows the bootstrap of the current fit."""

    changed = Signal()  # a bootstrap started, ended or was dropped

    def __init__(self, state: WindowState, plot, pairs, table, messages, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state, self.pairs, self.table, self.messages = state, pairs, table, messages
        self.layer = UncertaintyLayer(plot)
        self.background = Background(self, threads=1)
        self.result: Uncertainty | None = None
        self.running = False
        self._token = None  # the running bootstrap's engine.CancelToken
        self._run_id = 0  # a result whose id is not the newest is dropped
        self._view_key, self._view = None, None  # the result in the shown view (_in_view)
        state.data_changed.connect(self.drop)
        state.scene_changed.connect(self.drop)
        state.job_changed.connect(self._job_changed)
        state.frame_changed.connect(self.redraw)
        state.view_changed.connect(self.redraw)

    def dialog(self) -> None:
        """Ask B and the type (not blocking the event loop), then start."""
        if self._fit() is None:
            return
        missing = self.state.job is not None and self.state.job.scene.ticks is not None  # data with missing values
        dialog = UncertaintyDialog(self.parent() if isinstance(self.parent(), QObject) else None, missing)
        dialog.accepted.connect(lambda: self.start(*dialog.choice()))
        self.messages.keep(dialog)
        dialog.open()

    def _fit(self):
        """The fit to bootstrap, (job, snapshot), or None with the reason told: a finished fit of data in memory."""
        state = self.state
        job, latest = state.job, state.latest
        if job is None or latest is None or state.job_active or not latest.snapshot.done:
            self.messages.note("Uncertainty: run a fit to its end first (then it bootstraps that fit)")
            return None
        if state.stream is not None:
            self.messages.error(
                "Uncertainty", "the bootstrap needs the data in memory: this file is read by chunks (use the command "
                "line's fit --bootstrap on a sample, or raise the memory limit)"
            )  # fmt: skip
            return None
        return job, latest.snapshot

    def start(
        self, replicates: int, kind: str, seed: int | None = None, saved: dict | None = None, replayed=None
    ) -> bool:
        """Bootstrap the finished fit: `replicates` replicates of type `kind`, seeded by seed (None: the fit's
        seed), with its settings, data and frequency weights (its scene's, when the data has them); data with missing
        values: each replicate is missing-values EM (parametric: simulated points missing the data's cells). saved: a
        session's bootstrap (engine.session_bootstrap) that this one replays: at its end replayed(differences) is
        told how its standard errors differ from the saved ones ([]: they are the same), and says so itself.
        False when there is no fit to bootstrap."""
        import engine

        fit = self._fit()
        if fit is None:
            return False
        job, snap = fit
        self.drop()
        self._run_id += 1
        run_id, token = self._run_id, engine.CancelToken()
        self._token, self.running = token, True
        points, config = job.scene.points, job.config
        fitted = (snap.weights, snap.means, snap.covariances)
        weights = job.scene.weights  # (N,) or None: the fit's own frequency weights
        seed = config.seed if seed is None else seed
        t0 = time.perf_counter()

        def work():
            return engine.bootstrap(points, fitted, config, replicates, kind, seed, weights, token)

        self.background.run(
            work,
            lambda boot: self._done(run_id, Uncertainty(boot, snap, job), time.perf_counter() - t0, saved, replayed),
            lambda message, internal: self._failed(run_id, message, internal),
            cancel=token.cancel,
        )
        running = f"bootstrap: {replicates} {kind} replicates running… (Fit > Cancel the uncertainty stops it)"
        self.messages.note(running, 0)
        self.changed.emit()
        return True

    def cancel(self) -> None:
        """Stop the running bootstrap (its result, when it comes, is dropped)."""
        if self._token is not None:
            self._token.cancel()
        self._run_id += 1
        if self.running:
            self.running = False
            self.messages.note("bootstrap cancelled", 5000)
        self._token = None

    def drop(self) -> None:
        """Cancel any running bootstrap and forget the shown one: no clouds over other data or another fit."""
        was_running = self.running
        self.cancel()
        if self.result is not None:
            self.result = None
            self.layer.clear()
            self.pairs.set_clouds(None)
            self.table.set_errors(None)
            self.changed.emit()
        elif was_running:
            self.changed.emit()

    @property
    def active(self) -> bool:
        """Whether a bootstrap runs or is shown (what Fit > Cancel the uncertainty acts on)."""
        return self.running or self.result is not None

    def _job_changed(self) -> None:
        result_job = self.result.job if self.result is not None else None
        if self.state.job is not result_job or self.state.job_active:
            if self.result is not None or self.running:
                self.drop()

    def _done(self, run_id: int, result: Uncertainty, seconds: float, saved: dict | None, replayed) -> None:
        if run_id != self._run_id:
            return  # cancelled, or superseded: dropped
        self.running, self._token, self.result = False, None, result
        boot = result.boot
        used = boot.weights.shape[0]
        if saved is not None and replayed is not None:
            import engine

            replayed(engine.bootstrap_differences(saved, boot.meta()))
        else:
            self.messages.note(
                f"bootstrap: {used} of {boot.requested} {boot.kind} replicates in {seconds:.1f} s"
                + (f" ({boot.failed} failed, left out)" if boot.failed else "")
                # as fit --bootstrap says it: such replicates' spread is not their ends' (raise Max iterations)
                + (f" ({boot.not_converged} stopped at Max iterations)" if boot.not_converged else "")
            )
        self.redraw()
        self.changed.emit()

    def _failed(self, run_id: int, message: str, internal: bool) -> None:
        if run_id != self._run_id:
            return
        self.running, self._token = False, None
        self.messages.error("The bootstrap failed" + (" (an internal error)" if internal else ""), message)
        self.changed.emit()

    def redraw(self) -> None:
        """Draw the result over its fit's end (hidden over any other frame); the table's standard errors too."""
        result, frame, scene = self.result, self.state.frame, self.state.scene
        if result is None or frame is None or scene is None or frame.snapshot is not result.snapshot:
            self.layer.clear()
            self.pairs.set_clouds(None)
            self.table.set_errors(None)
            return
        boot, snap = result.boot, result.snapshot
        if self.layer.visible:  # the pairs view: the clouds and the bands in every cell
            self.pairs.set_clouds(boot.means, boot.covariances, (snap.means, snap.covariances))
        else:
            self.pairs.set_clouds(None)
        vu = self._in_view(scene, result)
        if vu is None:
            self.layer.clear()
        else:
            self.layer.show(vu)
        self.table.set_errors(result.boot.standard_errors() if self.layer.visible else None)

    def _in_view(self, scene, result: Uncertainty):
        """in_view, computed once per result and view (the replay slider redraws on every move)."""
        key = (result, scene.view)
        if self._view_key is None or self._view_key[0] is not key[0] or self._view_key[1] is not key[1]:
            self._view_key, self._view = key, in_view(scene, result)
        return self._view

    def set_visible(self, on: bool) -> None:
        """The View menu's toggle: the clouds and bands hidden or shown (the table's errors follow)."""
        self.layer.set_visible(on)
        self.redraw()

    def shutdown(self, msecs: int = 30_000) -> bool:
        self.cancel()
        return self.background.shutdown(msecs)

    def session_part(self, snapshot) -> dict | None:
        """What a session saved with snapshot (the fit's end) keeps of the bootstrap shown over it
        (engine.session_bootstrap), None when none is."""
        import engine

        if self.result is None or self.result.snapshot is not snapshot:
            return None
        return engine.session_bootstrap(self.result.boot.meta())
