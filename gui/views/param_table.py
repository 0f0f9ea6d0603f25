"""The live parameter table: one row per component with its colour, weight, mean and covariance."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from .palette import component_color

COLUMNS = ("component", "weight", "mean x", "mean y", "var x", "cov xy", "var y", "points", "min eig", "cond", "state")
MEAN_DIGITS = 5  # significant digits of a mean at least; more where the means sit far from 0 for their spread
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
        # the bootstrap's standard errors (gui.controllers.uncertainty_control), shown "value ± se" while they are
        # set; the last parameters given, to write them again when the errors come or go
        self.errors: dict[str, np.ndarray] | None = None
        self._shown: tuple | None = None
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
        self._set_headers(self._headers_2d() if len(names) == 2 else COLUMNS_D)

    def _headers_2d(self) -> tuple[str, ...]:
        """The 2-D table's headers, named after the data's two columns ("mean x0", "cov x0 x1")."""
        a, b = self.column_names if len(self.column_names) == 2 else ("x", "y")
        return (*COLUMNS[:2], f"mean {a}", f"mean {b}", f"var {a}", f"cov {a} {b}", f"var {b}", *COLUMNS[7:])

    def set_params(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, states=()) -> None:
        """weights (K,), means (K, D), covariances (K, D, D); states: each component's ComponentState
        (effective points, smallest eigenvalue, condition number, verdict), warnings in red. 2-D fits get a
        column per number (and can be typed into); other dimensions a row of vectors with full tooltips."""
        self._shown = (weights, means, covariances, states)
        errors = self.errors if self.errors is not None and self.errors["means"].shape == means.shape else None
        if means.shape[1] != 2:
            self._set_vectors(weights, means, covariances, states, errors)
            return
        self._set_headers(self._headers_2d())
        self._filling = True
        k = len(weights)
        digits = mean_digits(weights, means, covariances)
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
            ses = _component_errors(errors, j)
            for col, v in enumerate(values, start=1):
                text = f"{v:.{digits[col - 2]}g}" if col in (2, 3) else f"{v:.5g}"
                self._set(j, col, text if ses is None else f"{text} ± {ses[col - 1]:.2g}")
            self._set_health(j, 7, state)
        self._filling = False

    def set_errors(self, errors: dict[str, np.ndarray] | None) -> None:
        """Show the standard errors (engine.Bootstrap.standard_errors(): weights (K,), means (K, D), covariances
        (K, D, D)) beside the parameters, or none (None); the shown parameters are written again."""
        self.errors = errors
        if self._shown is not None and self.rowCount():
            self.set_params(*self._shown)

    def _set_headers(self, headers: tuple[str, ...]) -> None:
        shown = tuple(self.horizontalHeaderItem(c).text() for c in range(self.columnCount()))
        if shown != tuple(headers):
            if len(shown) != len(headers):  # another dimension: no row of the other layout stays
                self.setRowCount(0)
                self.setColumnCount(len(headers))
            self.setHorizontalHeaderLabels(list(headers))

    def _set_vectors(self, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, states, errors) -> None:
        self._set_headers(COLUMNS_D)
        self._filling = True
        k, d = means.shape
        digits = mean_digits(weights, means, covariances)
        names = self.column_names if len(self.column_names) == d else tuple(f"x{j}" for j in range(d))
        if self.rowCount() != k:
            self.setRowCount(k)
        for j in range(k):
            state = states[j] if j < len(states) else None
            self._set(j, 0, f"■ {j}" + (" !" if state is not None and state.warning else ""), component_color(j))
            ses = _component_errors(errors, j)
            self._set(j, 1, f"{weights[j]:.5g}" + ("" if ses is None else f" ± {ses[0]:.2g}"))
            variances = np.diagonal(covariances[j])
            se = None if errors is None else errors["means"][j]
            tip = _vector_tip(f"component {j} mean", names, means[j], digits + 1, se)
            self._set(j, 2, _short(means[j], digits - 1), tip=tip)
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
            v = np.array([[float(self.item(r, c).text().split(" ± ")[0]) for c in range(1, 7)] for r in range(k)])
        except ValueError:
            header = self.horizontalHeaderItem(item.column()).text()
            self.typing_error.emit(f"component {item.row()}, {header}: {item.text()!r} is not a number")
            return
        weights = v[:, 0] / v[:, 0].sum() if v[:, 0].sum() > 0 else v[:, 0]
        covariances = np.stack([[[r[3], r[4]], [r[4], r[5]]] for r in v])
        self.params_typed.emit(weights, v[:, 1:3], covariances)

    def clear_params(self) -> None:
        self.setRowCount(0)
        self._shown = None

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


def _component_errors(errors: dict[str, np.ndarray] | None, j: int) -> tuple[float, ...] | None:
    """Component j's standard errors in the 2-D table's order: weight, mean x, mean y, var x, cov xy, var y (in D
    dimensions the first is the weight's)."""
    if errors is None:
        return None
    m, c = errors["means"][j], errors["covariances"][j]
    tail = (m[0], m[1], c[0, 0], c[0, 1], c[1, 1]) if len(m) == 2 else ()
    return (float(errors["weights"][j]), *map(float, tail))


def mean_digits(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """Significant digits (D,) for each column's means so that they differ where they differ: enough to show
    the leading digits of the column's spread (the mixture's standard deviation in it), at least MEAN_DIGITS.
    Means near 1e145 that spread over 1e139 show 1.00000234e+145, not 1e+145 each. weights (K,), means (K, D),
    covariances (K, D, D)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / max(len(w), 1))
    centre = w @ means
    # the mixture's variance per column: within the components plus between their means; / by the scale
    # first, so that no square overflows near 1e154 or underflows near 1e-160
    scale = np.max(np.abs(means), axis=0, initial=0.0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    within = np.einsum("k,kjj->j", w, covariances / scale**2)
    between = w @ ((means - centre) / scale) ** 2
    spread = np.sqrt(within + between)  # in units of the largest mean's size
    with np.errstate(divide="ignore"):
        extra = np.where(spread > 0, np.ceil(-np.log10(np.where(spread > 0, spread, 1.0))), 0.0)
    return np.clip(extra + 2, MEAN_DIGITS, 17).astype(int)


def _short(v: np.ndarray, digits: np.ndarray | int = 4) -> str:
    """The first SHOWN_COORDINATES numbers of a vector, in parentheses; digits: significant digits (per
    coordinate, or one for all)."""
    digits = np.broadcast_to(digits, v.shape)
    head = ", ".join(f"{x:.{int(n)}g}" for x, n in zip(v[:SHOWN_COORDINATES], digits, strict=False))
    return f"({head}{', …' if len(v) > SHOWN_COORDINATES else ''})"


def _vector_tip(
    title: str, names: tuple[str, ...], v: np.ndarray, digits: np.ndarray | int = 6, se: np.ndarray | None = None
) -> str:
    """A vector (D,) as a table of named rows; with standard errors se (D,), each "± se" beside its number."""
    digits = np.broadcast_to(digits, v.shape)
    tails = [""] * len(v) if se is None else [f"<td>± {e:.2g}</td>" for e in se]
    rows = "".join(
        f"<tr><td>{n}</td><td align='right'>{x:.{int(d)}g}</td>{t}</tr>"
        for n, x, d, t in zip(names, v, digits, tails, strict=True)
    )
    return f"<b>{title}</b><table>{rows}</table>"


def _matrix_tip(title: str, names: tuple[str, ...], m: np.ndarray) -> str:
    head = "".join(f"<th>{n}</th>" for n in names)
    rows = "".join(
        f"<tr><th>{n}</th>" + "".join(f"<td align='right'>{x:.4g}</td>" for x in row) + "</tr>"
        for n, row in zip(names, m, strict=True)
    )
    return f"<b>{title}</b><table><tr><th></th>{head}</tr>{rows}</table>"
