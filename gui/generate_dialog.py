"""Generate data from a mixture: the forum preset or any weights, means and covariances, N and seed.

Every edit is checked at once by the engine's own validation (engine.check_mixture), and its message
(which component, which entries) is shown under the table; OK stays disabled until the mixture is valid.
Both off-diagonal entries are editable so that an asymmetric covariance can be typed, and is refused.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from .palette import component_color

COLUMNS = ("weight", "mean x", "mean y", "cov xx", "cov xy", "cov yx", "cov yy")
MAX_POINTS = 5_000_000


class GenerateDialog(QDialog):
    """Edit a mixture; `mixture()` returns (weights, means, covariances) once valid."""

    def __init__(self, parent=None, n: int = 1000, seed: int = 0) -> None:
        super().__init__(parent)
        self.setWindowTitle("Generate data")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.n = QSpinBox()
        self.n.setRange(1, MAX_POINTS)
        self.n.setValue(n)
        self.n.setSingleStep(1000)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(seed)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020")
        preset = QPushButton("Forum preset")
        add = QPushButton("Add component")
        remove = QPushButton("Remove last")
        preset.clicked.connect(self.load_preset)
        add.clicked.connect(self.add_component)
        remove.clicked.connect(lambda: self.table.setRowCount(max(self.table.rowCount() - 1, 1)) or self.validate())
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        for b in (preset, add, remove):
            row.addWidget(b)
        form = QFormLayout()
        form.addRow("Points N", self.n)
        form.addRow("Seed", self.seed)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.table)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.table.itemChanged.connect(lambda _item: self.validate())
        self.resize(640, 380)
        self.load_preset()

    def load_preset(self) -> None:
        import engine

        p = engine.FORUM_PRESET
        self.set_mixture(p["weights"], p["means"], p["covariances"])
        self.setToolTip(p["description"])

    def set_mixture(self, weights, means, covariances) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(len(weights))
        for k, (w, m, c) in enumerate(zip(weights, means, covariances, strict=True)):
            values = (w, m[0], m[1], c[0][0], c[0][1], c[1][0], c[1][1])
            for col, v in enumerate(values):
                self.table.setItem(k, col, QTableWidgetItem(f"{v:.6g}"))
            self.table.setVerticalHeaderItem(k, QTableWidgetItem(f"■ {k}"))
            self.table.verticalHeaderItem(k).setForeground(component_color(k))
        self.table.blockSignals(False)
        self.validate()

    def add_component(self) -> None:
        k = self.table.rowCount()
        self.table.blockSignals(True)
        self.table.setRowCount(k + 1)
        for col, v in enumerate((1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0)):
            self.table.setItem(k, col, QTableWidgetItem(f"{v:g}"))
        self.table.blockSignals(False)
        self.validate()

    def raw_values(self) -> np.ndarray:
        """The table as numbers (K, 7); ValueError names the cell that is not a number."""
        out = np.empty((self.table.rowCount(), len(COLUMNS)))
        for r in range(self.table.rowCount()):
            for c in range(len(COLUMNS)):
                item = self.table.item(r, c)
                text = item.text().strip() if item is not None else ""
                try:
                    out[r, c] = float(text)
                except ValueError:
                    raise ValueError(f"component {r}, {COLUMNS[c]}: {text!r} is not a number") from None
        return out

    def mixture(self):
        """(weights (K,), means (K, 2), covariances (K, 2, 2)) checked by the engine, or UserError."""
        import engine

        try:
            v = self.raw_values()
        except ValueError as exc:
            raise engine.ParamsError(str(exc)) from None
        covariances = v[:, 3:].reshape(-1, 2, 2)
        return engine.check_mixture(v[:, 0], v[:, 1:3], covariances, where="generator")

    def validate(self) -> bool:
        import engine

        try:
            self.mixture()
        except engine.UserError as exc:
            self.message.setText(str(exc))
            ok = False
        else:
            self.message.setText("")
            ok = True
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
        return ok
