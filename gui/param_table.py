"""The live parameter table: one row per component with its colour, weight, mean and covariance."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from .palette import component_color

COLUMNS = ("component", "weight", "mean x", "mean y", "var x", "cov xy", "var y", "points", "min eig", "cond", "state")
# Any other dimension: the mean and the variances as short vectors; hover a cell for every coordinate and the
# whole covariance matrix. Health (smallest eigenvalue, condition number) is in D dimensions.
COLUMNS_D = ("component", "weight", "mean", "variances", "points", "min eig", "cond", "state")
SHOWN_COORDINATES = 4  # a vector cell shows this many coordinates, then "…"
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
        self.column_names: tuple[str, ...] = ()
        self.itemChanged.connect(self._typed)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)

    def set_column_names(self, names: tuple[str, ...]) -> None:
        """New data's column names (D of them), for the tooltips of a D-dimensional fit; the headers follow D (no
        headers of the previous data's dimension stay on an empty table)."""
        self.column_names = tuple(names)
        self._set_headers(COLUMNS if len(names) == 2 else COLUMNS_D)

    def set_params(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, states=()) -> None:
        """weights (K,), means (K, D), covariances (K, D, D); states: each component's ComponentState
        (effective points, smallest eigenvalue, condition number, verdict), warnings in red. 2-D fits get a
        column per number (and can be typed into); other dimensions a row of vectors with full tooltips."""
        if means.shape[1] != 2:
            self._set_vectors(weights, means, covariances, states)
            return
        self._set_headers(COLUMNS)
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
            self._set_health(j, 7, state)
        self._filling = False

    def _set_headers(self, headers: tuple[str, ...]) -> None:
        if self.columnCount() != len(headers) or self.horizontalHeaderItem(2).text() != headers[2]:
            self.setRowCount(0)
            self.setColumnCount(len(headers))
            self.setHorizontalHeaderLabels(list(headers))

    def _set_vectors(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, states) -> None:
        self._set_headers(COLUMNS_D)
        self._filling = True
        k, d = means.shape
        names = self.column_names if len(self.column_names) == d else tuple(f"x{j}" for j in range(d))
        if self.rowCount() != k:
            self.setRowCount(k)
        for j in range(k):
            state = states[j] if j < len(states) else None
            self._set(j, 0, f"■ {j}" + (" !" if state is not None and state.warning else ""), component_color(j))
            self._set(j, 1, f"{weights[j]:.5g}")
            variances = np.diagonal(covariances[j])
            self._set(j, 2, _short(means[j]), tip=_vector_tip(f"component {j} mean", names, means[j]))
            self._set(j, 3, _short(variances), tip=_matrix_tip(f"component {j} covariance", names, covariances[j]))
            self._set_health(j, 4, state)
        self._filling = False

    def _set_health(self, row: int, first: int, state) -> None:
        """Effective points, smallest eigenvalue, condition number and verdict from column `first` on (red when
        the component is not well); none known: empty cells, never another fit's numbers left in them."""
        if state is None:
            colour, texts = QColor("black"), ("", "", "", "")
        else:
            colour = WARNING if state.warning else QColor("black")
            texts = (f"{state.n_effective:.1f}", f"{state.min_eigenvalue:.3g}", f"{state.condition:.3g}", state.state)
        for col, text in enumerate(texts, start=first):
            self._set(row, col, text, colour)

    def set_editable(self, on: bool) -> None:
        self.editable = on
        trigger = QAbstractItemView.EditTrigger
        self.setEditTriggers(trigger.DoubleClicked | trigger.EditKeyPressed if on else trigger.NoEditTriggers)

    def _typed(self, item) -> None:
        """A cell was edited: read the table back (weights renormalised to sum to 1) and emit it."""
        if self._filling or not self.editable or not 1 <= item.column() <= 6 or self.columnCount() != len(COLUMNS):
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

    def _set(self, row: int, col: int, text: str, color=None, tip: str | None = None) -> None:
        item = self.item(row, col)
        if item is None:
            item = QTableWidgetItem()
            self.setItem(row, col, item)
        item.setText(text)
        if color is not None:
            item.setForeground(color)
        if tip is not None:
            item.setToolTip(tip)


def _short(v: np.ndarray) -> str:
    """The first SHOWN_COORDINATES numbers of a vector, in parentheses."""
    head = ", ".join(f"{x:.4g}" for x in v[:SHOWN_COORDINATES])
    return f"({head}{', …' if len(v) > SHOWN_COORDINATES else ''})"


def _vector_tip(title: str, names: tuple[str, ...], v: np.ndarray) -> str:
    rows = "".join(f"<tr><td>{n}</td><td align='right'>{x:.6g}</td></tr>" for n, x in zip(names, v, strict=True))
    return f"<b>{title}</b><table>{rows}</table>"


def _matrix_tip(title: str, names: tuple[str, ...], m: np.ndarray) -> str:
    head = "".join(f"<th>{n}</th>" for n in names)
    rows = "".join(
        f"<tr><th>{n}</th>" + "".join(f"<td align='right'>{x:.4g}</td>" for x in row) + "</tr>"
        for n, row in zip(names, m, strict=True)
    )
    return f"<b>{title}</b><table><tr><th></th>{head}</tr>{rows}</table>"
