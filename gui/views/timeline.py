"""The timeline under the plot: replay any kept iteration of the current fit (or of a chosen restart)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QBoxLayout, QCheckBox, QHBoxLayout, QLabel, QLayout, QPushButton, QSlider, QWidget

SLIDER_MIN_WIDTH = 160  # pixels: narrower than this, the slider and its label get a row of their own


class ElidedLabel(QLabel):
    """A one-line label that ends in '…' where it is narrower than its text (never cut mid-letter at the edge), the
    whole text in its tooltip; it asks the layout for the whole text's width."""

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._full = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self.setToolTip(text)
        self._elide()

    def text(self) -> str:
        """The whole text (shown_text: as shown)."""
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        m = self.contentsMargins()
        return QSize(
            self.fontMetrics().horizontalAdvance(self._full) + m.left() + m.right(), super().sizeHint().height()
        )

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(0, self.contentsRect().width())
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width))


class Timeline(QWidget):
    """A slider over the fit's kept iterations. At its right end it follows the fit live."""

    moved = Signal(int)  # index into the kept entries (the user moved the slider)
    live = Signal()  # back to the live fit
    continue_here = Signal()  # start a new fit from the shown iteration
    trajectories_toggled = Signal(bool)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Replay: drag to any iteration of the fit (← → step through them)")
        self.label = ElidedLabel("iteration –")
        self.label.setMinimumWidth(150)
        self.live_button = QPushButton("Live")
        self.live_button.setToolTip("Show the latest iteration and follow the fit")
        self.continue_button = QPushButton("Continue from here")
        self.continue_button.setToolTip(
            "Use the shown parameters as the initialisation of a new fit: change any setting, then Run"
        )
        self.show_paths = QCheckBox("paths")
        self.show_paths.setChecked(True)
        self.show_paths.setToolTip("Draw each mean's path from its initial position")
        self.edit_start = QCheckBox("edit start")
        self.edit_start.setToolTip(
            "Drag a mean, or the square at an ellipse's tip, to set the initialisation "
            "(the parameter table takes typed values too); then Run or Step"
        )
        self.slider.setMinimumWidth(SLIDER_MIN_WIDTH)
        self._position = QHBoxLayout()  # the slider and its label
        self._position.addWidget(self.slider, 1)
        self._position.addWidget(self.label)
        self._tools = QHBoxLayout()  # what to draw and where to go
        for w in (self.show_paths, self.edit_start):
            self._tools.addWidget(w)
        self._tools.addStretch(1)
        for w in (self.live_button, self.continue_button):
            self._tools.addWidget(w)
        # one row where both fit side by side; the tools under the slider in a small window (the slider never
        # shrinks to a stub): the direction follows the width, and the minimum width is the two rows' one
        self._rows = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self._rows.setContentsMargins(4, 0, 4, 0)
        self._rows.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self._rows.addLayout(self._position, 1)
        self._rows.addLayout(self._tools)
        self.slider.valueChanged.connect(self._value_changed)
        self.live_button.clicked.connect(self.live)
        self.continue_button.clicked.connect(self.continue_here)
        self.show_paths.toggled.connect(self.trajectories_toggled)
        self._iterations: list[int] = []

    @property
    def two_rows(self) -> bool:
        return self._rows.direction() == QBoxLayout.Direction.TopToBottom

    def _side_by_side_width(self) -> int:
        """The narrowest width at which the slider, its label and the tools fit on one row (pixels)."""
        m = self._rows.contentsMargins()
        inner = self._position.minimumSize().width() + self._tools.minimumSize().width() + self._rows.spacing()
        return inner + m.left() + m.right()

    def minimumSizeHint(self) -> QSize:
        """As narrow as the two rows allow; as high as the rows the width gives."""
        m = self._rows.contentsMargins()
        width = max(self._position.minimumSize().width(), self._tools.minimumSize().width()) + m.left() + m.right()
        return QSize(width, self._rows.minimumSize().height())

    def sizeHint(self) -> QSize:
        return QSize(self._side_by_side_width(), self._rows.sizeHint().height())

    def resizeEvent(self, event) -> None:
        narrow = event.size().width() < self._side_by_side_width()
        if narrow != self.two_rows:
            self._rows.setDirection(QBoxLayout.Direction.TopToBottom if narrow else QBoxLayout.Direction.LeftToRight)
            self.updateGeometry()  # the height changes with the rows
        super().resizeEvent(event)

    def set_entries(self, iterations: list[int], follow: bool) -> None:
        """The kept iterations; when following, the slider jumps to the latest."""
        self._iterations = iterations
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(iterations) - 1, 0))
        if follow:
            self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)

    def show_position(self, iteration: int, restart: int | None, live: bool, own: int | None = None) -> None:
        """The label: live or replay, the batch's iteration, the restart shown; own: the shown restart's own
        iterations when it stopped before the batch did (a batch runs on for its slowest restart)."""
        who = "" if restart is None else f" · restart {restart}"
        if own is not None and own < iteration:
            who += f" · its restart stopped at iteration {own}"
        self.label.setText(f"{'live' if live else 'replay'}: iteration {iteration}{who}")
        self.live_button.setEnabled(not live or restart is not None)

    def clear(self) -> None:
        """No fit: nothing to replay, nothing to go back to."""
        self.set_entries([], True)
        self.label.setText("iteration –")
        self.live_button.setEnabled(False)

    @property
    def at_end(self) -> bool:
        return self.slider.value() == self.slider.maximum()

    def _value_changed(self, index: int) -> None:
        self.moved.emit(index)
