"""The live parameter table: one row per component with its colour, weight, mean and covariance."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from .palette import component_color

COLUMNS = ("component", "weight", "mean x", "mean y", "var x", "cov xy", "var y", "points", "min eig", "cond", "state")
WARNING = QColor("#b00020")


class ParamTable(QTableWidget):
    """Rows are components; the first cell's colour ties the row to the plot (it is the legend).
    When editable, typed weights, means and covariances are emitted as a start (params_typed)."""

    params_typed = Signal(object, object, object)  # weights (K,), means (K, 2), covariances (K, 2, 2)
    typing_error = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.editable = False
        self._filling = False
        self.itemChanged.connect(self._typed)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)

    def set_params(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, states=()) -> None:
        """weights (K,), means (K, 2), covariances (K, 2, 2); states: each component's ComponentState
        (effective points, smallest eigenvalue, condition number, verdict), warnings in red."""
        self._filling = True
        k = len(weights)
        if self.rowCount() != k:
            self.setRowCount(k)
        for j in range(k):
            values = (
                weights[j],
                means[j, 0],
                means[j, 1],
                covariances[j, 0, 0],
                covariances[j, 0, 1],
                covariances[j, 1, 1],
            )
            state = states[j] if j < len(states) else None
            label = f"■ {j}" + (" !" if state is not None and state.warning else "")
            self._set(j, 0, label, component_color(j))
            for col, v in enumerate(values, start=1):
                self._set(j, col, f"{v:.5g}")
            if state is not None:
                colour = WARNING if state.warning else QColor("black")
                self._set(j, 7, f"{state.n_effective:.1f}", colour)
                self._set(j, 8, f"{state.min_eigenvalue:.3g}", colour)
                self._set(j, 9, f"{state.condition:.3g}", colour)
                self._set(j, 10, state.state, colour)
        self._filling = False

    def set_editable(self, on: bool) -> None:
        self.editable = on
        trigger = QAbstractItemView.EditTrigger
        self.setEditTriggers(trigger.DoubleClicked | trigger.EditKeyPressed if on else trigger.NoEditTriggers)

    def _typed(self, item) -> None:
        """A cell was edited: read the table back (weights renormalised to sum to 1) and emit it."""
        if self._filling or not self.editable or not 1 <= item.column() <= 6:
            return
        k = self.rowCount()
        try:
            v = np.array([[float(self.item(r, c).text()) for c in range(1, 7)] for r in range(k)])
        except ValueError:
            self.typing_error.emit(f"component {item.row()}, {COLUMNS[item.column()]}: {item.text()!r} is not a number")
            return
        weights = v[:, 0] / v[:, 0].sum() if v[:, 0].sum() > 0 else v[:, 0]
        covariances = np.stack([[[r[3], r[4]], [r[4], r[5]]] for r in v])
        self.params_typed.emit(weights, v[:, 1:3], covariances)

    def clear_params(self) -> None:
        self.setRowCount(0)

    def _set(self, row: int, col: int, text: str, color=None) -> None:
        item = self.item(row, col)
        if item is None:
            item = QTableWidgetItem()
            self.setItem(row, col, item)
        item.setText(text)
        if color is not None:
            item.setForeground(color)
