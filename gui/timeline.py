"""The timeline under the plot: replay any kept iteration of the current fit (or of a chosen restart)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget


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
        self.label = QLabel("iteration –")
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
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        for w in (self.slider, self.label, self.show_paths, self.edit_start, self.live_button, self.continue_button):
            layout.addWidget(w, 1 if w is self.slider else 0)
        self.slider.valueChanged.connect(self._value_changed)
        self.live_button.clicked.connect(self.live)
        self.continue_button.clicked.connect(self.continue_here)
        self.show_paths.toggled.connect(self.trajectories_toggled)
        self._iterations: list[int] = []

    def set_entries(self, iterations: list[int], follow: bool) -> None:
        """The kept iterations; when following, the slider jumps to the latest."""
        self._iterations = iterations
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(iterations) - 1, 0))
        if follow:
            self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)

    def show_position(self, iteration: int, restart: int | None, live: bool) -> None:
        who = "" if restart is None else f" · restart {restart}"
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
