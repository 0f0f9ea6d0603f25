"""Small dialogs: errors that never block the event loop, the column picker and About."""

from __future__ import annotations

import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QMessageBox, QWidget

import engine


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


class ColumnPicker(QDialog):
    """Choose the x and y columns of a file with more than two; preselects the loader's own choice."""

    def __init__(self, parent: QWidget, path: str, names: list[str], default: tuple[int, int]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose two columns")
        self.x = QComboBox()
        self.y = QComboBox()
        for combo, index in ((self.x, default[0]), (self.y, default[1])):
            combo.addItems([f"{j}: {name}" for j, name in enumerate(names)])
            combo.setCurrentIndex(index)
        self.message = QLabel()
        self.message.setStyleSheet("color: #b00020")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(QLabel(f"{path} has {len(names)} columns. Plot and fit:"))
        form.addRow("x column", self.x)
        form.addRow("y column", self.y)
        form.addRow(self.message)
        form.addRow(self.buttons)
        self.x.currentIndexChanged.connect(self._check)
        self.y.currentIndexChanged.connect(self._check)

    def columns(self) -> tuple[int, int]:
        return self.x.currentIndex(), self.y.currentIndex()

    def _check(self) -> None:
        same = self.x.currentIndex() == self.y.currentIndex()
        self.message.setText("choose two different columns" if same else "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not same)


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
        "<tr><td><b>right click</b></td><td>the plot's menu (view all, export)</td></tr>"
    )
    box = QMessageBox(parent)
    box.setWindowTitle("Keyboard shortcuts")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(f"<table cellspacing=6>{rows}{mouse}</table>")
    box.setModal(False)
    box.show()
    return box
