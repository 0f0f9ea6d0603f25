"""The window's one state: the data and where it came from, the current fit and the frame on screen.

Controllers change it through its setters; each setter emits one signal, and the views subscribe to the
signals they draw. A QObject with Qt signals (not an evented dataclass library): the window is Qt already,
the signals are queued safely across threads, and there is nothing more to install or learn.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from .scene.frames import DataScene, Frame
from .scene.worker import FitJob

# The window's own states of a fit (shown in the status bar); the engine's Snapshot status is another thing.
IDLE, NO_DATA, NO_FIT, RUNNING, PAUSED, STOPPING, FAILED, REPLAY = (
    "idle",
    "no data",
    "no fit yet",
    "running",
    "paused",
    "stopping",
    "failed",
    "replay",
)


class WindowState(QObject):
    """Data (engine.Dataset and its engine.DataRef), its scene, the fit job, the frames, the shown restart."""

    data_changed = Signal()  # a new data set: its scene follows with scene_changed
    scene_changed = Signal()  # the data's scene is ready: the views show the new points, and no fit
    frame_changed = Signal()  # the frame on screen changed (None: no fit shown)
    latest_changed = Signal()  # the fit's newest frame (what the timeline and the gallery follow)
    job_changed = Signal()  # a fit started or ended
    fit_state_changed = Signal(str)  # the window's state of the fit (IDLE, RUNNING, ...)
    restart_changed = Signal()  # the restart shown instead of the fit's own (or back to it)
    view_changed = Signal()  # the same data in another 2-D view: the fit stays, its frames are redrawn

    def __init__(self, parent: QObject | None = None) -> None:
        """parent: the window, whose deletion (on the GUI thread) deletes the state with it."""
        super().__init__(parent)
        self.dataset = None  # engine.Dataset on the plot
        self.origin = None  # engine.DataRef: how a session finds that data again
        self.stream = None  # gui.scene.big_data.ChunkedFile: the data is read by chunks (dataset.points: its sample)
        self.weights = None  # gui.scene.weights.Weights: the points' frequency weights (a file's column), or None
        self.scene: DataScene | None = None
        self.frame: Frame | None = None  # on screen
        self.latest: Frame | None = None  # the newest frame of the current fit
        self.job: FitJob | None = None
        self.job_active = False
        self.view_restart: int | None = None  # a restart chosen in the gallery (None: the fit's own)
        self.restart_perm = None  # its components' order matched to the fit's answer
        self.replaying = False  # an earlier iteration is on screen (the slider)
        self.fit_state = IDLE
        self.data_token = 0  # counts data changes: work started for older data is dropped
        self.keep_range = False  # the new scene keeps the view's range (points drawn by hand)

    @property
    def following(self) -> bool:
        """True when the plot follows the fit live (not replaying an iteration, not showing another restart)."""
        return not self.replaying and self.view_restart is None

    @property
    def has_points(self) -> bool:
        return self.scene is not None and len(self.scene.points) > 0

    def set_data(self, dataset, origin, stream=None, weights=None) -> int:
        """A new data set (its scene is built next; stream: it is read by chunks, gui.scene.big_data.ChunkedFile, and
        dataset.points is a sample of it; weights: its points' gui.scene.weights.Weights, None for every other
        data: no weights outlive the data they were read with); returns the token its scene must bring."""
        self.dataset, self.origin, self.stream, self.weights = dataset, origin, stream, weights
        self.data_token += 1
        self.data_changed.emit()
        return self.data_token

    def set_scene(self, scene: DataScene, keep_range: bool = False) -> None:
        """The data's scene: no fit, no frame, no chosen restart from now on (the old fit's frames are ignored)."""
        self.scene, self.keep_range = scene, keep_range
        self.job, self.job_active = None, False
        self.frame = None
        self.forget_fit()
        self.scene_changed.emit()

    def set_view_scene(self, scene: DataScene) -> None:
        """The same data seen in another view (scene.view): the fit, its frames and the job stay; frames the
        running fit makes from now on use this scene."""
        self.scene = scene
        if self.job is not None:
            self.job.scene = scene
        self.view_changed.emit()

    def forget_fit(self) -> None:
        """A new fit (or none) follows: no newest frame, no chosen restart, no replay (the frame on screen
        stays until the new fit's first one replaces it)."""
        self.latest = None
        self.view_restart = self.restart_perm = None
        self.replaying = False

    def set_job(self, job: FitJob | None, active: bool) -> None:
        self.job, self.job_active = job, active
        self.job_changed.emit()

    def set_latest(self, frame: Frame | None) -> None:
        self.latest = frame
        self.latest_changed.emit()

    def set_frame(self, frame: Frame | None) -> None:
        self.frame = frame
        self.frame_changed.emit()

    def set_restart(self, restart: int | None, perm=None) -> None:
        self.view_restart, self.restart_perm = restart, perm
        self.restart_changed.emit()

    def set_fit_state(self, text: str) -> None:
        self.fit_state = text
        self.fit_state_changed.emit(text)
