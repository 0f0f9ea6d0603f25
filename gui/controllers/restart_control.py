"""Restarts: the gallery of a fit's restarts grouped into solutions; any restart shown, replayed, made the
current fit."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget

from ..background import Background
from ..scene.frames import Frame
from ..scene.restart_paths import restart_permutation
from ..state import WindowState
from ..views.gallery import GalleryPanel, gallery_pictures
from ..views.timeline import Timeline

RESTARTS_TAB = "Restarts"


class RestartControl:
    """Fills the Restarts tab when a fit with restarts ends; shows the restart the user picks."""

    def __init__(
        self,
        state: WindowState,
        gallery_panel: GalleryPanel,
        tabs: QTabWidget,
        timeline: Timeline,
        replay,
        tasks: Background,
        messages,
    ) -> None:
        self.state, self.gallery_panel, self.tabs, self.timeline = state, gallery_panel, tabs, timeline
        self.replay, self.tasks, self.messages = replay, tasks, messages
        gallery_panel.show_restart.connect(self.show_restart)
        gallery_panel.make_current.connect(self.make_current)
        state.latest_changed.connect(self._fit_progressed)
        state.scene_changed.connect(self.clear)
        state.view_changed.connect(self._fit_progressed)  # the pictures again, in the new view
        state.job_changed.connect(self._job_changed)
        self._job = None

    def clear(self) -> None:
        self.gallery_panel.clear()
        self.tabs.setTabText(self.tabs.indexOf(self.gallery_panel), RESTARTS_TAB)

    def _job_changed(self) -> None:
        if self.state.job is not self._job:  # a new fit: the old one's gallery goes
            self._job = self.state.job
            self.clear()

    def _fit_progressed(self) -> None:
        frame = self.state.latest
        # a fit run here (its kept history replays any restart); a fit loaded from model selection has none
        if frame is not None and frame.entries and frame.snapshot.done and frame.snapshot.config.restarts > 1:
            self._compute_gallery(frame)

    def _compute_gallery(self, frame: Frame) -> None:
        """Group the restarts into solutions and paint their pictures, in the background."""
        import engine

        scene = self.state.scene
        stop = engine.CancelToken()  # closing the window stops the grouping and the pictures (thousands: waited for)

        def work():
            try:
                gallery = engine.build_gallery(frame.snapshot, check=stop.check)
            except engine.Cancelled:
                return None
            return gallery, gallery_pictures(scene, frame.snapshot, lambda: stop.cancelled)

        def done(result) -> None:
            if self.state.latest is frame and not stop.cancelled:  # still the same fit, every picture made
                self.gallery_panel.set_gallery(*result)
                title = f"{RESTARTS_TAB} ({result[0].counts})"
                self.tabs.setTabText(self.tabs.indexOf(self.gallery_panel), title)

        self.tasks.run(work, done, self.messages.failed("Could not build the restart gallery"), cancel=stop.cancel)

    def show_restart(self, restart: int) -> None:
        """Show a restart's final fit (its components ordered like the main fit's); the slider replays it."""
        latest = self.state.latest
        if latest is None or not latest.entries:
            return
        snap = latest.snapshot
        self.state.set_restart(restart, restart_permutation(snap, snap.restarts, restart))
        self.state.replaying = False
        self.timeline.set_entries([e.iteration for e in latest.entries], follow=True)
        self.replay.show_entry(latest.entries[-1])

    def make_current(self, restart: int) -> None:
        """The chosen restart becomes the fit that is shown, exported and continued from."""
        self.show_restart(restart)
        self.messages.note(f"restart {restart} is the current fit: exports and 'Continue from here' use it", 10000)
