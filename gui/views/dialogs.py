"""Small dialogs: errors that never block the event loop, the column picker and About."""

from __future__ import annotations

import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QWidget,
)

import engine

NO_WEIGHTS = "none (every point counts once)"


def plain_message(message: str, details: str = "") -> tuple[str, str]:
    """(one readable message, details): a traceback in the message moves to the details."""
    if "Traceback (most recent call last)" not in message:
        return message, details
    lines = [line for line in message.strip().splitlines() if line.strip()]
    return lines[-1].strip(), "\n".join(filter(None, [message.strip(), details]))


def show_error(parent: QWidget, title: str, message: str, details: str = "") -> QMessageBox:
    """A non-modal message box: the window (and a test driving it) keeps running while it is open. A message
    that carries a traceback shows its last line; the traceback goes under "Show Details"."""
    message, details = plain_message(message, details)
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Close, parent)
    box.setModal(False)
    if details:
        box.setDetailedText(details)
    box.show()
    return box


FIT_MISSING = "Fit them by EM (missing at random)"


def ask_missing(parent: QWidget, path: str, cells: int, rows: int) -> QMessageBox:
    """The one-line question a file with missing values (cells in rows) asks, non-modal like show_error: its
    fit_button means "fit them by EM", any other answer "keep the data on screen"."""
    from engine import counted

    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Missing values",
        f"{path} has missing values: {counted(cells, 'cell')} in {counted(rows, 'row')}.\n"
        "Missing values: fit them by EM (missing at random)?",
        QMessageBox.StandardButton.Cancel,
        parent,
    )
    box.fit_button = box.addButton(FIT_MISSING, QMessageBox.ButtonRole.AcceptRole)  # (what answered() asks for)
    box.setModal(False)
    box.show()
    return box


class ColumnPicker(QDialog):
    """Choose the columns of a file to FIT (a checked list; preselected: the loader's own choice, every numeric
    column but a row index and a class label), the two to SHOW first (among the fitted ones) and the column of
    the points' frequency WEIGHTS (none by default; never a fitted column: choosing it unchecks it)."""

    def __init__(self, parent: QWidget, path: str, names: list[str], default: tuple[int, ...]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose the columns")
        self.names = names
        self.fit_list = QListWidget()
        for j, name in enumerate(names):
            item = QListWidgetItem(f"{j}: {name}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if j in default else Qt.CheckState.Unchecked)
            self.fit_list.addItem(item)
        self.fit_list.setMinimumHeight(min(24 * len(names), 260))
        self.x = QComboBox()
        self.y = QComboBox()
        shown = list(default[:2]) if len(default) >= 2 else [0, min(1, len(names) - 1)]
        for combo, index in ((self.x, shown[0]), (self.y, shown[1])):
            combo.addItems([f"{j}: {name}" for j, name in enumerate(names)])
            combo.setCurrentIndex(index)
        self.weights_box = QComboBox()
        self.weights_box.addItems([NO_WEIGHTS] + [f"{j}: {name}" for j, name in enumerate(names)])
        self.weights_box.setToolTip(
            "a column of counts: each point counts that many times (0: not at all); it is not fitted"
        )
        self.message = QLabel()
        self.message.setStyleSheet("color: #b00020")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(QLabel(f"{path} has {engine.counted(len(names), 'column')}."))
        form.addRow("Fit these columns", self.fit_list)
        form.addRow("Show across", self.x)
        form.addRow("Show up", self.y)
        form.addRow("Weights (counts)", self.weights_box)
        form.addRow(self.message)
        form.addRow(self.buttons)
        self.x.currentIndexChanged.connect(self._check)
        self.y.currentIndexChanged.connect(self._check)
        self.fit_list.itemChanged.connect(self._check)
        self._unchecked_for_weights: int | None = None  # the fitted column the weights' choice unchecked
        self.weights_box.currentIndexChanged.connect(self._weights_chosen)
        self._check()

    def columns(self) -> tuple[int, ...]:
        """The columns to fit, in file order."""
        return tuple(
            j for j in range(self.fit_list.count()) if self.fit_list.item(j).checkState() == Qt.CheckState.Checked
        )

    def shown(self) -> tuple[int, int]:
        """The two columns shown first (file positions)."""
        return self.x.currentIndex(), self.y.currentIndex()

    def weights(self) -> int | None:
        """The column of the points' frequency weights (its file position), or None."""
        return self.weights_box.currentIndex() - 1 if self.weights_box.currentIndex() > 0 else None

    def set_weights(self, column: int | None) -> None:
        """Choose the weights' column (None: no weights), for scripts and tests."""
        self.weights_box.setCurrentIndex(0 if column is None else column + 1)

    def _weights_chosen(self) -> None:
        """The weights' column is never fitted: it leaves the fitted ones (the user sees it unchecked); the column
        an earlier choice of weights unchecked comes back to them (the user did not uncheck it)."""
        j, earlier = self.weights(), self._unchecked_for_weights
        if earlier is not None and earlier != j:
            self.fit_list.item(earlier).setCheckState(Qt.CheckState.Checked)
        self._unchecked_for_weights = None
        if j is not None and self.fit_list.item(j).checkState() == Qt.CheckState.Checked:
            self.fit_list.item(j).setCheckState(Qt.CheckState.Unchecked)
            self._unchecked_for_weights = j
        self._check()

    def set_columns(self, fit: tuple[int, ...], shown: tuple[int, int]) -> None:
        """Check exactly `fit` and show `shown` (for scripts and tests)."""
        for j in range(self.fit_list.count()):
            self.fit_list.item(j).setCheckState(Qt.CheckState.Checked if j in fit else Qt.CheckState.Unchecked)
        self.x.setCurrentIndex(shown[0])
        self.y.setCurrentIndex(shown[1])

    def _check(self) -> None:
        fit, (x, y) = self.columns(), self.shown()
        if not fit:
            problem = "check at least one column to fit"
        elif self.weights() in fit:
            problem = "the weights' column is never fitted: uncheck it, or choose other weights"
        elif x == y and len(fit) > 1:
            problem = "choose two different columns to show"
        elif len(fit) > 1 and (x not in fit or y not in fit):
            problem = "the two shown columns must be among the fitted ones"
        else:
            problem = ""
        self.message.setText(problem)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)


def versions_text(engine_info: dict | None) -> str:
    """Python, torch, pyro, Qt, PySide6, pyqtgraph and NumPy versions (torch and pyro once loaded)."""
    import numpy
    import pyqtgraph

    info = engine_info or {}
    rows = [
        ("GMM Studio", info.get("gmm_studio", engine.__version__)),
        ("Python", platform.python_version()),
        ("torch", info.get("torch", "loading…")),
        ("pyro", info.get("pyro", "loading…")),
        ("Qt", qVersion()),
        ("PySide6", pyside_version),
        ("pyqtgraph", pyqtgraph.__version__),
        ("NumPy", numpy.__version__),
        ("devices", ", ".join(info.get("devices", ["…"]))),
    ]
    return "\n".join(f"{name}: {value}" for name, value in rows)


def show_about(parent: QWidget, engine_info: dict | None) -> QMessageBox:
    box = QMessageBox(
        QMessageBox.Icon.Information,
        "About GMM Studio",
        "GMM Studio: fit Gaussian mixture models with a Pyro EM engine and watch the fit happen.\n\n"
        + versions_text(engine_info),
        QMessageBox.StandardButton.Close,
        parent,
    )
    box.setModal(False)
    box.show()
    return box


def show_shortcuts(parent: QWidget, shortcuts: list[tuple[str, str]]):
    """Help > Keyboard shortcuts: every menu shortcut, plus the plot's mouse gestures (non-modal)."""
    rows = "".join(f"<tr><td><b>{key}</b></td><td>{what}</td></tr>" for key, what in shortcuts)
    mouse = (
        "<tr><td><b>wheel / drag</b></td><td>zoom / pan the plot</td></tr>"
        "<tr><td><b>click, drag</b></td><td>add points (Draw points on)</td></tr>"
        "<tr><td><b>drag a mean, a tip</b></td><td>set the start by hand (edit start ticked); a pinned mean's "
        "pin: move its fixed value</td></tr>"
        "<tr><td><b>right click</b></td><td>a component (near its mean, inside its ellipses, its table row): pin "
        "its mean, covariance or weight; elsewhere: the plot's menu (view all, export)</td></tr>"
    )
    box = QMessageBox(parent)
    box.setWindowTitle("Keyboard shortcuts")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(f"<table cellspacing=6>{rows}{mouse}</table>")
    box.setModal(False)
    box.show()
    return box
