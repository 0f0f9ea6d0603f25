"""The window's visual-debugging actions: replay, restarts and their gallery, setting the start by hand,
algorithms side by side and model selection. A mixin of MainWindow (it uses the window's widgets and
state); kept apart so that each file holds one concern."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .frames import Frame, build_frame, is_latest, restart_permutation, snapshot_at, trajectory_of


class DebuggingActions:
    """Replay, restarts, hand-set starts, comparison and selection (mixed into MainWindow)."""

    def _timeline_moved(self, index: int) -> None:
        """The user moved the slider: replay that kept iteration (the end of the slider is live)."""
        if self.latest is None or not self.latest.entries:
            return
        entries = self.latest.entries
        index = min(index, len(entries) - 1)
        self.replaying = index < len(entries) - 1
        if not self.replaying and self.view_restart is None:
            self.show_frame(self.latest)
            self.timeline.show_position(self.latest.snapshot.iteration, None, live=True)
            return
        self._show_entry(entries[index])

    def _show_entry(self, entry) -> None:
        """Build the frame of a kept iteration (of the shown restart or view_restart) in the background."""
        latest, scene, restart, perm = self.latest, self.scene, self.view_restart, self._restart_perm
        self._replay_token += 1
        token = self._replay_token

        def work() -> Frame:
            snap = snapshot_at(latest.snapshot, entry, restart, perm)
            if restart is None:
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
                scene, snap, history, latest.entries, trajectory_of(latest.entries, entry.iteration, restart, perm)
            )
            return replace(frame, replay=not is_latest(latest.snapshot, entry, snap.restart))

        def done(frame: Frame) -> None:
            if token == self._replay_token and self.scene is scene:
                self.show_frame(frame)
                self.timeline.show_position(entry.iteration, restart, live=False)

        self.tasks.run(work, done, lambda msg, internal: self._error("Could not replay that iteration", msg))

    def show_restart(self, restart: int) -> None:
        """Show a restart's final fit (its components ordered like the main fit's); the slider replays it."""
        if self.latest is None:
            return
        snap = self.latest.snapshot
        self.view_restart = restart
        self._restart_perm = restart_permutation(snap, snap.restarts, restart)
        self.replaying = False
        self.timeline.set_entries([e.iteration for e in self.latest.entries], follow=True)
        self._show_entry(self.latest.entries[-1])

    def run_comparison(self) -> None:
        """Every registered algorithm from the same start (the panel's initialisation), side by side."""
        from .compare import comparison_configs, initial_params

        config = self._checked_config()
        if config is None:
            return
        scene = self.scene
        self.tabs.setCurrentWidget(self.compare)
        self.statusBar().showMessage(f"comparing {', '.join(self.compare.panels)} from the same start…", 5000)
        self.tasks.run(
            lambda: comparison_configs(config, initial_params(scene.points, config)),
            lambda configs: self.compare.start(scene, configs) if self.scene is scene else None,
            lambda msg, internal: self._error("Could not start the comparison", msg),
        )

    def run_selection(self) -> None:
        """BIC/AIC over K and covariance types in the background (the panel's other settings)."""
        import engine

        config = self._checked_config()
        if config is None:
            return
        n, d = self.scene.points.shape
        k_max = max(self.selection.k_from.value(), self.selection.k_to.value())
        try:
            engine.check_selection(n, d, k_max, self.selection.restarts.value(), "the data", "'K to'")
        except engine.UserError as exc:
            self._error("Check the selection's settings", str(exc))
            return
        self.tabs.setCurrentWidget(self.selection)
        self.selection.start(self.scene.points, config)

    def _selection_failed(self, run_id: int, message: str) -> None:
        self._error("Model selection stopped", message.strip().splitlines()[-1], message)

    def load_snapshot(self, entry) -> None:
        """Show a finished fit (a model selection entry) as the current fit: plot, table, its log-likelihood
        curve, exports; the panel takes that fit's settings (K, covariance type), so Run fits what is shown."""
        snap = entry.snapshot
        if self.job_active:
            self.job.gate.cancel()
        self.controls.show_fit_settings(snap.config)
        scene = self.scene
        self._reset_view()
        history = (
            entry.trace
            if entry.trace is not None and len(entry.trace)
            else np.array([(snap.iteration, snap.mean_log_likelihood)])
        )

        def done(frame: Frame) -> None:
            if self.scene is scene:
                self.latest = frame
                self.ll_plot.enableAutoRange()
                self.show_frame(frame)
                self.timeline.show_position(snap.iteration, None, live=False)
                self.statusBar().showMessage(
                    f"loaded the K={snap.n_components} {snap.config.covariance_type} fit from model selection", 8000
                )

        self.tasks.run(
            lambda: build_frame(scene, snap, history, (), None),
            done,
            lambda msg, internal: self._error("Could not show that fit", msg),
        )

    def _compute_gallery(self, frame: Frame) -> None:
        """Group the restarts into solutions and paint their pictures, in the background."""
        import engine

        from .gallery import gallery_pictures

        scene = self.scene

        def work():
            return engine.build_gallery(frame.snapshot), gallery_pictures(scene, frame.snapshot)

        def done(result) -> None:
            if self.latest is frame:  # still the same fit
                self.gallery_panel.set_gallery(*result)
                n = len(result[0].solutions)
                self.tabs.setTabText(
                    self.tabs.indexOf(self.gallery_panel), f"Restarts ({n} solution{'s' if n != 1 else ''})"
                )

        self.tasks.run(work, done, lambda msg, internal: self._error("Could not build the restart gallery", msg))

    def make_restart_current(self, restart: int) -> None:
        """The chosen restart becomes the fit that is shown, exported and continued from."""
        self.show_restart(restart)
        self.statusBar().showMessage(
            f"restart {restart} is the current fit: exports and 'Continue from here' use it", 10000
        )

    def export_gallery(self, path: str) -> None:
        import engine

        if self.gallery_panel.gallery is None:
            self._error("Could not export the gallery", "there is no gallery yet: run a fit with restarts > 1")
            return
        try:
            engine.write_gallery(path, self.gallery_panel.gallery)
        except engine.UserError as exc:
            self._error("Could not export the gallery", str(exc))
            return
        self.statusBar().showMessage(f"exported the gallery to {path}", 8000)

    def export_gallery_dialog(self) -> None:
        self.ask_path(self.export_gallery, "Export gallery", "CSV (*.csv);;JSON (*.json)", "gallery.csv")

    def go_live(self) -> None:
        """Back to the fit itself (its shown restart, latest iteration)."""
        self.view_restart = None
        self.replaying = False
        if self.latest is not None:
            self.timeline.set_entries([e.iteration for e in self.latest.entries], follow=True)
            self.show_frame(self.latest)
            self.timeline.show_position(self.latest.snapshot.iteration, None, live=True)

    def continue_from_here(self) -> None:
        """A new fit from the shown parameters (any iteration, any restart), with the panel's settings."""
        import engine

        if self.frame is None:
            return
        snap = self.frame.snapshot
        init = engine.InitParams.from_arrays(snap.weights, snap.means, snap.covariances)
        where = f"iteration {snap.iteration}" + (f" of restart {snap.restart}" if self.view_restart is not None else "")
        self.controls.set_imported(init, f"the fit at {where}")
        self.statusBar().showMessage(f"initialisation: the fit at {where}; change any setting, then Run", 10000)
        self.reset()

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
            self._error("That start is not a valid mixture", str(exc))
            if self.frame is not None:
                self.show_frame(self.frame)  # put the drawing back
            return
        init = engine.InitParams.from_arrays(w, m, c)
        self.controls.set_imported(init, "set by hand")
        self.statusBar().showMessage("initialisation set by hand: Run (F5) or Step (F6) from it", 8000)
        self.reset()

    def _typing_error(self, message: str) -> None:
        self._error("That start is not a valid mixture", message)
        if self.frame is not None:
            self.show_frame(self.frame)

    def _toggle_paths(self, on: bool) -> None:
        self.plot.set_overlays(paths=on)
