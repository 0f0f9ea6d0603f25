"""The view selector above the plot: which exact 2-D view of D-dimensional data the plot shows.

Two columns, the data's principal axes, the axes that best separate the fit's components (their loadings shown
beside), or the pairs matrix. A new view rebuilds the scene (the points are projected once per view, not per
frame; in the background for large data) and redraws the frame on screen in it; the fit goes on, and its next
frames use the new view. The separating axes are taken from the fit on screen when they are chosen (or
recomputed): fixed axes, so that the fit's motion in them means something.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QWidget,
)

from ..background import Background
from ..scene.frames import SCATTER_LIMIT, build_scene, reframe
from ..state import WindowState
from ..views.pairs_view import MAX_PAIRS, PairsView

# views not made for data with missing values (what they would need: every point's every column)
NEED_COMPLETE = {"pairs": "the pairs view", "pca": "principal axes"}
KINDS = (("columns", "two columns"), ("pca", "principal axes"), ("separating", "separating axes"), ("pairs", "pairs"))


class LoadingsLabel(QLabel):
    """The axes' loadings, an axis a line, each line cut with "…" to the room there is (in full on hover): a
    long first line once hid the second axis entirely (wine's separating axes)."""

    def __init__(self) -> None:
        super().__init__("")
        self.full = ""
        self.setStyleSheet("color: #444")
        # long loadings must not widen the window (they would squeeze the controls)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_loadings(self, text: str) -> None:
        """text: one line per axis."""
        self.full = text
        self.setToolTip(text)
        self._elide()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics, width = self.fontMetrics(), max(self.width() - 4, 20)
        lines = [metrics.elidedText(line, Qt.TextElideMode.ElideRight, width) for line in self.full.split("\n")]
        super().setText("\n".join(lines) if self.full else "")


class ViewBar(QWidget):
    """The selector's widgets: kind, the two shown columns, recompute, and the axes' loadings."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        for key, text in KINDS:
            self.kind.addItem(text, key)
        self.kind.setToolTip("Which 2-D view of the data the plot shows (every view is exact: a projection)")
        self.x = QComboBox()
        self.y = QComboBox()
        for combo in (self.kind, self.x, self.y):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.x.setToolTip("column across")
        self.y.setToolTip("column up")
        self.standardised = QCheckBox("standardised")
        self.standardised.setToolTip(
            "Principal axes of the columns in units of their standard deviation (the default when the columns' "
            "spreads differ by more than 10x: else the large-unit columns are the axes)"
        )
        self.recompute = QPushButton("Recompute axes")
        self.recompute.setToolTip("Take the separating axes from the fit on screen now")
        self.loadings = LoadingsLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(QLabel("View"))
        layout.addWidget(self.kind)
        layout.addWidget(self.x)
        layout.addWidget(self.y)
        layout.addWidget(self.standardised)
        layout.addWidget(self.recompute)
        layout.addWidget(self.loadings, 1)


class ViewControl:
    """Keeps the plot's view: the bar's choice -> a scene in that view -> WindowState.set_view_scene."""

    def __init__(
        self,
        state: WindowState,
        bar: ViewBar,
        stack: QStackedWidget,
        plot,
        pairs: PairsView,
        tasks: Background,
        messages,
    ) -> None:
        self.state, self.bar, self.stack, self.plot, self.pairs = state, bar, stack, plot, pairs
        self.tasks, self.messages = tasks, messages
        self._token = 0
        state.scene_changed.connect(self.data_shown)
        state.frame_changed.connect(self._frame_to_pairs)
        bar.kind.activated.connect(lambda _i: self.choose())
        bar.x.activated.connect(lambda _i: self.choose())
        bar.y.activated.connect(lambda _i: self.choose())
        bar.recompute.clicked.connect(self.choose)
        bar.standardised.clicked.connect(lambda _checked: self.choose())
        pairs.cell_chosen.connect(self.show_pair)
        self._laying_out = ""  # the note shown while the pairs matrix is laid out
        pairs.completed.connect(lambda: self.messages.withdraw(self._laying_out))

    @property
    def names(self) -> tuple[str, ...]:
        ds = self.state.dataset
        return tuple(ds.columns) if ds is not None else ()

    def data_shown(self) -> None:
        """New data: the bar offers its columns and shows the scene's own view (the plot shows it already)."""
        scene = self.state.scene
        d = scene.n_features if scene is not None else 2
        self.bar.setVisible(d >= 2)
        names = self.names if len(self.names) == d else tuple(f"x{j}" for j in range(d))
        for combo in (self.bar.x, self.bar.y):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([f"{j}: {n}" for j, n in enumerate(names)])
            combo.blockSignals(False)
        view = scene.view if scene is not None else None
        columns = view.columns if view is not None and view.columns is not None else (0, min(1, d - 1))
        self.bar.x.setCurrentIndex(columns[0])
        self.bar.y.setCurrentIndex(columns[1])
        self.bar.kind.setCurrentIndex(0 if view is None else [k for k, _ in KINDS].index(view.kind))
        from engine import mixed_units

        self.bar.standardised.setChecked(scene is not None and d >= 2 and mixed_units(scene.points))  # new data
        self._sync_widgets()
        self.stack.setCurrentWidget(self.plot)
        self.pairs.scene_data = None

    def _sync_widgets(self) -> None:
        kind = self.bar.kind.currentData()
        self.bar.x.setVisible(kind == "columns")
        self.bar.y.setVisible(kind == "columns")
        self.bar.recompute.setVisible(kind == "separating")
        self.bar.standardised.setVisible(kind == "pca")
        scene = self.state.scene
        view = scene.view if scene is not None else None
        show = kind in ("pca", "separating") and view is not None and view.kind == kind
        text = view.loadings(self.names) if show else ""
        self.bar.loadings.set_loadings(text)

    def show_pair(self, x: int, y: int) -> None:
        """A pairs cell was clicked: that pair of columns as the main view."""
        self.bar.kind.setCurrentIndex(0)
        self.bar.x.setCurrentIndex(x)
        self.bar.y.setCurrentIndex(y)
        self.choose()

    def choose(self) -> None:
        """Build the chosen view's scene (and redraw the frame on screen in it)."""
        scene = self.state.scene
        if scene is None or scene.n_features < 2:
            return
        kind = self.bar.kind.currentData()
        if scene.ticks is not None and kind in NEED_COMPLETE:  # (a NaN has no place in a histogram or a PCA)
            self.messages.note(
                f"{NEED_COMPLETE[kind]}: not for data with missing values (they need every column of every point); "
                "two columns show the incomplete points as ticks on the margins",
                10000,
            )
            self._restore_kind()
            return
        self._sync_widgets()
        if kind == "pairs":
            self._show_pairs(scene)
            return
        self.stack.setCurrentWidget(self.plot)
        make = self._projection(kind, scene)
        if make is not None:
            self._project(scene, make)

    def _show_pairs(self, scene) -> None:
        """The pairs matrix of the first MAX_PAIRS columns, laid out a cell per event-loop turn."""
        d = scene.n_features
        self.stack.setCurrentWidget(self.pairs)
        shown = min(d, MAX_PAIRS)
        laying = f"laying out the pairs matrix of {shown} columns ({shown * (shown + 1) // 2} cells)…"
        self.messages.note(laying, 0)  # a cell per event-loop turn: seconds for many columns
        self._laying_out = laying
        self.pairs.show_scene(scene, self.names, tuple(range(shown)))
        if d > MAX_PAIRS:
            self.messages.note(f"the pairs view shows the first {MAX_PAIRS} of {d} columns", 8000)
        if self.state.frame is not None:
            self.pairs.show_frame(self.state.frame)

    def _projection(self, kind: str, scene):
        """A function making the chosen view (columns, pca or separating), or None (and a note) when it cannot be
        made now."""
        from engine import columns_view, pca_view, separating_view

        d, points = scene.n_features, scene.points
        if kind == "columns":
            x, y = self.bar.x.currentIndex(), self.bar.y.currentIndex()
            if x == y:
                self.messages.note("choose two different columns for the view", 6000)
                return None
            return lambda: columns_view(d, x, y, self.names)
        if kind == "pca":
            if len(points) < 2:
                self.messages.note("principal axes need two points or more", 6000)
                return None
            standardised = self.bar.standardised.isChecked()
            return lambda: pca_view(points, standardised)
        frame = self.state.frame
        if frame is None or len(frame.snapshot.weights) < 2:
            self.messages.note("the separating axes come from a fit of two or more components: fit first", 8000)
            self._restore_kind()
            return None
        snap = frame.snapshot
        return lambda: separating_view(snap.weights, snap.means, snap.covariances)

    def _project(self, scene, make) -> None:
        """Build the scene of make()'s view: here for a small data set, else in the background with notes."""
        points = scene.points
        self._token += 1
        token, frame = self._token, self.state.frame
        notes = [f"projecting {scene.n_samples:,} points…"]  # the notes shown while it works (the last stays up)

        def work(emit):
            if scene.stream is None:
                new = build_scene(points, make(), weights=scene.weights)
            else:  # read by chunks: the image of all the points in the new view takes a pass (two across columns)
                from engine import Cancelled

                from ..scene.big_data import streamed_scene

                try:
                    stale = lambda: token != self._token or self.state.scene is not scene  # noqa: E731
                    new = streamed_scene(scene.stream, make(), emit, stale)
                except Cancelled:
                    return None
            return new, reframe(new, frame) if frame is not None else None

        def show(result) -> None:
            if result is None or token != self._token or self.state.scene is not scene:
                return  # another view was chosen meanwhile, or the data changed
            new, new_frame = result
            self.messages.withdraw(notes[-1])  # its work is done (a newer note of something else stays)
            self.state.set_view_scene(new)
            self.plot.show_scene(new, self.names)
            if new_frame is not None and self.state.frame is frame:
                self.state.set_frame(new_frame)
            elif self.state.frame is not None:
                self.state.set_frame(reframe(new, self.state.frame))
            self._sync_widgets()

        if len(points) <= SCATTER_LIMIT and scene.stream is None:
            show(work(lambda _text: None))
            return
        self.messages.note(notes[0], 0)

        def progress(text: str) -> None:
            notes.append(text)
            self.messages.note(text, 0)

        self.tasks.run(work, show, self.messages.failed("Could not show that view"), on_item=progress)

    def _restore_kind(self) -> None:
        view = self.state.scene.view if self.state.scene is not None else None
        self.bar.kind.setCurrentIndex([k for k, _ in KINDS].index(view.kind) if view is not None else 0)
        self._sync_widgets()

    def _frame_to_pairs(self) -> None:
        if self.stack.currentWidget() is self.pairs and self.state.frame is not None:
            self.pairs.show_frame(self.state.frame)
