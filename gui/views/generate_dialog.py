"""Generate data from a mixture: the forum preset or any weights, means and covariances, N and seed, in any
number of dimensions.

Every edit is checked at once by the engine's own validation (engine.check_mixture), and its message
(which component, which entries) is shown under the table; OK stays disabled until the mixture is valid.
In 2-D every number has its cell, and both off-diagonal entries are editable so that an asymmetric covariance
can be typed, and is refused. In other dimensions a component's mean is one cell of D numbers ("1, 0, 2") and
its covariance one cell of D rows ("1, 0; 0, 2"), or a single number: that variance on every axis.
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
COLUMNS_D = ("weight", "mean (D numbers)", "covariance (D rows; or one variance)")
MAX_POINTS = 5_000_000


class GenerateDialog(QDialog):
    """Edit a mixture; `mixture()` returns (weights, means, covariances) once valid."""

    def __init__(self, parent=None, n: int = 1000, seed: int = 0, mixture=None) -> None:
        """mixture: (weights (K,), means (K, D), covariances (K, D, D)) to start from (the last used); None: the
        forum preset."""
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
        from engine import MAX_FEATURES

        self.dimensions = QSpinBox()
        self.dimensions.setRange(1, MAX_FEATURES)
        self.dimensions.setValue(2)
        self.dimensions.setToolTip("Columns of the data; a new dimension starts from K well separated components")
        self.dimensions.valueChanged.connect(self.set_dimensions)
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
        form.addRow("Dimensions D", self.dimensions)
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
        if mixture is None:
            self.load_preset()
        else:
            self.set_mixture(*mixture)

    @property
    def d(self) -> int:
        return self.dimensions.value()

    def load_preset(self) -> None:
        import engine

        p = engine.FORUM_PRESET
        self.set_mixture(p["weights"], p["means"], p["covariances"])
        self.setToolTip(p["description"])

    def set_dimensions(self, d: int) -> None:
        """A new dimension: K components (the table's count) with means 4 apart along the axes in turn and
        unit covariances; 2-D goes back to the forum preset."""
        if d == 2:
            self.load_preset()
            return
        k = max(self.table.rowCount(), 1)
        means = np.zeros((k, d))
        for j in range(k):
            means[j, j % d] = 4.0 * (1 + j // d) * (1 if j % 2 == 0 or d > 1 else -1)
        self.set_mixture(np.full(k, 1.0 / k), means, np.broadcast_to(np.eye(d), (k, d, d)))

    def set_mixture(self, weights, means, covariances) -> None:
        d = np.asarray(means).shape[1]
        if self.dimensions.value() != d:
            self.dimensions.blockSignals(True)
            self.dimensions.setValue(d)
            self.dimensions.blockSignals(False)
        headers = COLUMNS if d == 2 else COLUMNS_D
        self.table.blockSignals(True)
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(list(headers))
        header = self.table.horizontalHeader()
        for col in range(len(headers)):  # D numbers per cell: the weight narrow, the mean and covariance wide
            mode = QHeaderView.ResizeMode.ResizeToContents if d != 2 and col == 0 else QHeaderView.ResizeMode.Stretch
            header.setSectionResizeMode(col, mode)
        self.table.setRowCount(len(weights))
        for k, (w, m, c) in enumerate(zip(weights, means, covariances, strict=True)):
            if d == 2:
                values = [_text(v) for v in (w, m[0], m[1], c[0][0], c[0][1], c[1][0], c[1][1])]
            else:
                rows = "; ".join(", ".join(_text(v) for v in row) for row in np.asarray(c))
                values = [repr(float(w)), ", ".join(_text(v) for v in m), rows]  # weights whole: they sum to 1
            for col, text in enumerate(values):
                self.table.setItem(k, col, QTableWidgetItem(text))
            self.table.setVerticalHeaderItem(k, QTableWidgetItem(f"■ {k}"))
            self.table.verticalHeaderItem(k).setForeground(component_color(k))
        self.table.blockSignals(False)
        self.validate()

    def add_component(self) -> None:
        k = self.table.rowCount()
        self.table.blockSignals(True)
        self.table.setRowCount(k + 1)
        d = self.d
        values = (
            ("1", "0", "0", "1", "0", "0", "1") if d == 2 else ("1", ", ".join(["0"] * d), "1")
        )  # weights are renormalised; a single variance is that variance on every axis
        for col, text in enumerate(values):
            self.table.setItem(k, col, QTableWidgetItem(text))
        self.table.blockSignals(False)
        self.validate()

    def _cell(self, r: int, c: int) -> str:
        item = self.table.item(r, c)
        return item.text().strip() if item is not None else ""

    def parsed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weights (K,), means (K, D), covariances (K, D, D)) as typed; ValueError names the cell."""
        d = self.d
        if d == 2:
            v = self.raw_values()
            return v[:, 0], v[:, 1:3], v[:, 3:].reshape(-1, 2, 2)
        k = self.table.rowCount()
        weights, means, cov = np.empty(k), np.empty((k, d)), np.empty((k, d, d))
        for r in range(k):
            weights[r] = _numbers(self._cell(r, 0), r, "weight", 1)[0]
            means[r] = _numbers(self._cell(r, 1), r, "mean", d)
            text = self._cell(r, 2)
            rows = [row for row in text.split(";")]
            if len(rows) == 1 and len(_numbers(rows[0], r, "covariance", None)) == 1:
                cov[r] = np.eye(d) * _numbers(rows[0], r, "covariance", 1)[0]
            elif len(rows) != d:
                raise ValueError(
                    f"component {r}, covariance: {len(rows)} rows (separated by ';'), need {d} or one variance"
                )
            else:
                cov[r] = [_numbers(row, r, f"covariance row {i}", d) for i, row in enumerate(rows)]
        return weights, means, cov

    def raw_values(self) -> np.ndarray:
        """The 2-D table as numbers (K, 7); ValueError names the cell that is not a number."""
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
        """(weights (K,), means (K, D), covariances (K, D, D)) checked by the engine, or UserError."""
        import engine

        try:
            weights, means, covariances = self.parsed()
        except ValueError as exc:
            raise engine.ParamsError(str(exc)) from None
        return engine.check_mixture(weights, means, covariances, where="generator")

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


def _text(value: float) -> str:
    """A cell's text: 6 significant digits where they are the number, else every digit (a mixture shown again
    samples the same points)."""
    short = f"{value:.6g}"
    return short if float(short) == float(value) else repr(float(value))


def _numbers(text: str, component: int, what: str, count: int | None) -> list[float]:
    """The comma-separated numbers of a cell; ValueError (naming the component and the cell) unless there are
    `count` of them (None: any number)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        bad = next(p for p in parts if not _is_number(p))
        raise ValueError(f"component {component}, {what}: {bad!r} is not a number") from None
    if count is not None and len(values) != count:
        raise ValueError(f"component {component}, {what}: {len(values)} numbers, need {count} (separated by ',')")
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
