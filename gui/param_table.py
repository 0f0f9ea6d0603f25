"""The live parameter table: one row per component with its colour, weight, mean and covariance."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from .palette import component_color

COLUMNS = ("component", "weight", "mean x", "mean y", "var x", "cov xy", "var y", "points", "min eig", "cond",
           "state")
WARNING = QColor("#b00020")


class ParamTable(QTableWidget):
    """Rows are components; the first cell's colour ties the row to the plot (it is the legend)."""

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

    def set_params(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, states=()) -> None:
        """weights (K,), means (K, 2), covariances (K, 2, 2); states: each component's ComponentState
        (effective points, smallest eigenvalue, condition number, verdict), warnings in red."""
        k = len(weights)
        if self.rowCount() != k:
            self.setRowCount(k)
        for j in range(k):
            values = (weights[j], means[j, 0], means[j, 1], covariances[j, 0, 0], covariances[j, 0, 1],
                      covariances[j, 1, 1])
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
