"""The selection as a table: one row per fit (model, K, log-likelihood, BIC, ICL, AIC, parameters, note), sortable
by any column (numbers sort as numbers), the best fit by the chosen criterion in bold; a double-click loads a
fit. ICL reads "n/a" where the engine gives none."""

from __future__ import annotations

import math
from collections.abc import Iterator

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyledItemDelegate, QTableWidget, QTableWidgetItem

from .selection_chart import entry_model

COLUMNS = ("model", "K", "log-likelihood", "BIC", "ICL", "AIC", "parameters", "note")
MISSING = "n/a"
ROWS_A_STEP = 32  # rows filled in one piece of a redraw (as LINES_A_STEP: well inside a turn)


class NumberText(QStyledItemDelegate):
    """Numbers shown to two decimals, a missing one (held as +inf, so that it sorts last) as MISSING: the cells hold
    the numbers themselves, so that the table sorts them as numbers."""

    def displayText(self, value, locale) -> str:
        if isinstance(value, float):
            return MISSING if math.isinf(value) else f"{value:.2f}"
        return super().displayText(value, locale)


def _number(value: float | int | None) -> QTableWidgetItem:
    cell = QTableWidgetItem()
    cell.setData(Qt.ItemDataRole.DisplayRole, math.inf if value is None else value)
    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return cell


def parameters(entry) -> int | None:
    """The fit's free parameters: the entry's own count, else the registry's for its type and dimension."""
    import engine

    count = getattr(entry, "n_parameters", None)
    registered = engine.COVARIANCE_TYPES.get(entry.covariance_type)
    if count is None and registered is not None and entry.snapshot is not None:
        count = registered.n_parameters(entry.k, entry.snapshot.means.shape[-1])
    return count


def row_cells(entry) -> list[QTableWidgetItem]:
    """The entry's cells, in COLUMNS' order."""
    n_parameters = parameters(entry)
    model = entry_model(entry)
    name = model if model == entry.covariance_type else f"{model} ({entry.covariance_type})"
    note = entry.reason if entry.spurious else ("" if entry.converged else "not converged")
    return [
        QTableWidgetItem(name),
        _number(entry.k),
        _number(entry.log_likelihood),
        _number(entry.bic),
        _number(getattr(entry, "icl", None)),
        _number(entry.aic),
        _number(n_parameters),
        QTableWidgetItem(note),
    ]


class SelectionTable(QTableWidget):
    """Every fit of the selection, a row each."""

    chosen = Signal(object)  # the entry of a double-clicked row

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.entries: list = []
        self.setItemDelegate(NumberText(self))
        self.cellDoubleClicked.connect(self._double_clicked)

    def show_entries(self, entries: list, best) -> None:
        """One row per entry (in the current sort order), the best one's in bold, at once."""
        for _ in self.fill_steps(entries, best):
            pass

    def fill_steps(self, entries: list, best) -> Iterator[None]:
        """show_entries in pieces of ROWS_A_STEP rows, yielding between them (each may be its own turn of the event
        loop). Sorting is off until the last piece: a caller that drops it halfway turns it on again."""
        self.setSortingEnabled(False)  # rows filled while sorting would move under the loop
        self.setRowCount(len(entries))
        self.entries = list(entries)
        for start in range(0, len(entries), ROWS_A_STEP):
            yield
            for row in range(start, min(start + ROWS_A_STEP, len(entries))):
                self._fill_row(row, entries[row], entries[row] is best)
        self.setSortingEnabled(True)

    def _fill_row(self, row: int, entry, best: bool) -> None:
        for column, cell in enumerate(row_cells(entry)):
            cell.setData(Qt.ItemDataRole.UserRole, row)  # the entry's index, wherever sorting puts the row
            if best:
                font = cell.font()
                font.setBold(True)
                cell.setFont(font)
            self.setItem(row, column, cell)

    def entry_at(self, row: int):
        """The entry shown in a row (after any sorting)."""
        cell = self.item(row, 0)
        return None if cell is None else self.entries[cell.data(Qt.ItemDataRole.UserRole)]

    def _double_clicked(self, row: int, _column: int) -> None:
        entry = self.entry_at(row)
        if entry is not None and entry.snapshot is not None:
            self.chosen.emit(entry)
