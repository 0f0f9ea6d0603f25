"""The restart gallery: every restart as a small picture and as a sortable table, grouped into solutions.

The pictures are painted into QImages in a background thread (QPainter on a QImage is thread-safe in Qt;
pixmaps and widgets are not), so a gallery of hundreds of restarts costs the GUI thread only the icons.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine import OPTIMUM, PLATEAU

from ..scene.frames import ellipse_rings
from .palette import component_color

THUMB = QSize(120, 96)
THUMB_MIN_HEIGHT = 40  # pixels: a shorter Restarts tab scrolls its pictures rather than shrink them further
CAPTION_LINES = 2  # 'r3 · A · -1234.5' and '80% identifiable': room kept for both under every picture
WIDEST_CAPTION = "r000 · A · -00000.0"  # a caption's usual width (a longer one is elided in its cell)
SUMMARY_LINES = 3  # the summary above the pictures shows this many lines, and scrolls
THUMB_POINTS = 1500  # points drawn in each picture (a sample of the data)
PICTURES_PER_TURN = 16
COLUMNS = (
    "restart",
    "seed",
    "initial loss",
    "log-likelihood",
    "iterations",
    "converged",
    "last step",
    "collapsed",
    "empty",
    "solution",
    "outcome",
    "share",
    "identifiable",
)
IDENTIFIABLE = COLUMNS.index("identifiable")
IDENTIFY, CANCEL_IDENTIFY = "Identifiability", "Cancel identifiability"
IDENTIFY_TIP = (
    "Bootstrap each solution (50 replicates, started from it) and count how often all its components are found "
    "again unambiguously: the replicate's matched component twice as near as any other (Bhattacharyya distance)"
)
# Rows of restarts that reached no optimum (a plateau, not converged) are greyed: they are not answers.
NOT_AN_ANSWER = QColor(120, 120, 120)


def render_thumbnail(
    points: np.ndarray, bounds, weights: np.ndarray, means: np.ndarray, covariances: np.ndarray, size: QSize = THUMB
) -> QImage:
    """A small picture of one fit: grey points, each component's 2-sigma ellipse and mean, in its colour.

    points (S, 2) in data units; bounds (x0, x1, y0, y1); the components already in display order.
    """
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor("white"))
    x0, x1, y0, y1 = bounds
    sx, sy = size.width() / (x1 - x0), size.height() / (y1 - y0)

    def px(x, y):
        return (x - x0) * sx, (y1 - y) * sy

    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setPen(QPen(QColor(150, 158, 170), 1.5))
    for x, y in points:
        p.drawPoint(QPointF(*px(x, y)))
    for k in range(len(weights)):
        if not np.all(np.isfinite(covariances[k])):
            continue
        ring = ellipse_rings(means[k], covariances[k], sigmas=(2.0,), n=48)[:-1]
        path = QPainterPath(QPointF(*px(*ring[0])))
        for x, y in ring[1:]:
            path.lineTo(QPointF(*px(x, y)))
        p.setPen(QPen(component_color(k), 2))
        p.drawPath(path)
        cx, cy = px(*means[k])
        p.drawLine(QPointF(cx - 4, cy), QPointF(cx + 4, cy))
        p.drawLine(QPointF(cx, cy - 4), QPointF(cx, cy + 4))
    p.end()
    return image


def gallery_pictures(scene, snapshot, stopped: Callable[[], bool] | None = None) -> list[QImage]:
    """One picture per restart (R) in the scene's view, components matched to the shown fit's so colours agree;
    fewer once stopped() says True (asked before each: the window is closing, the pictures are not wanted)."""
    from ..scene.frames import view_mixture
    from ..scene.restart_paths import restart_permutation

    table = snapshot.restarts
    rng = np.random.default_rng(0)
    pts = scene.shown_points
    if len(pts) > THUMB_POINTS:
        pts = pts[rng.choice(len(pts), THUMB_POINTS, replace=False)]
    out = []
    for r in range(len(table.seeds)):
        if stopped is not None and stopped():
            break
        if not np.all(np.isfinite(table.means[r])):
            out.append(render_thumbnail(pts, scene.bounds, np.empty(0), np.empty((0, 2)), np.empty((0, 2, 2))))
            continue
        perm = restart_permutation(snapshot, table, r)
        means, covariances = view_mixture(scene, table.means[r][perm], table.covariances[r][perm])
        out.append(render_thumbnail(pts, scene.bounds, table.weights[r][perm], means, covariances))
    return out


class _Number(QTableWidgetItem):
    """A cell that sorts by its number, not its text."""

    def __init__(self, value, text: str | None = None) -> None:
        super().__init__(text if text is not None else ("" if value is None else f"{value:.6g}"))
        self.value = -np.inf if value is None else float(value)

    def __lt__(self, other) -> bool:
        return self.value < getattr(other, "value", -np.inf)


def _what(row: dict) -> str:
    """'solution B', 'plateau C (not an optimum)', 'not converged (group E)': what a restart reached."""
    if row["outcome"] == OPTIMUM:
        return f"solution {row['solution']}"
    if row["outcome"] == PLATEAU:
        return f"stopped on a plateau (group {row['solution']}), still climbing: not an optimum"
    return f"not converged (group {row['solution']}): still climbing when it stopped"


class Pictures(QListWidget):
    """The gallery's pictures: each as tall as the list lets it be with its two caption lines whole under it
    (between THUMB_MIN_HEIGHT and THUMB), so a short tab shows whole captions rather than clipped ones."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSpacing(4)
        self.setMinimumHeight(self.height_for(THUMB_MIN_HEIGHT))

    def caption_height(self) -> int:
        return CAPTION_LINES * self.fontMetrics().lineSpacing()

    def height_for(self, icon: int) -> int:
        """The list's height (pixels) that shows one row of pictures `icon` pixels tall, their captions whole."""
        return icon + self.caption_height() + 4 * self.spacing() + 2 * self.frameWidth() + 8

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        icon = max(THUMB_MIN_HEIGHT, min(THUMB.height(), self.height() - self.height_for(0)))
        if icon != self.iconSize().height():
            self.setIconSize(QSize(round(icon * THUMB.width() / THUMB.height()), icon))
            # a cell a caption wide (a picture narrower than its caption would let captions run into each other)
            wide = self.fontMetrics().horizontalAdvance(WIDEST_CAPTION)
            self.setGridSize(QSize(max(self.iconSize().width(), wide) + 8, icon + self.caption_height() + 8))
        super().resizeEvent(event)


def _row_cells(row: dict) -> list[QTableWidgetItem]:
    """The table's cells of one gallery row (COLUMNS), greyed when the restart reached no optimum."""
    step = row["last_step"]
    cells = [
        _Number(row["restart"], str(row["restart"])),
        _Number(row["seed"], str(row["seed"])),
        _Number(row["initial_loss"]),
        _Number(row["log_likelihood"]),
        _Number(row["n_iter"], str(row["n_iter"])),
        QTableWidgetItem("yes" if row["converged"] else "no"),
        _Number(step, "" if step is None else f"{step:+.2g}"),
        QTableWidgetItem(", ".join(map(str, row["collapsed"]))),
        QTableWidgetItem(", ".join(map(str, row["empty"]))),
        QTableWidgetItem(row["solution"]),
        QTableWidgetItem(row["outcome"]),
        _Number(row["solution_share"], f"{row['solution_share']:.0%}"),
        _identifiable_cell(None),
    ]
    if row["outcome"] not in ("", OPTIMUM):
        for cell in cells:
            cell.setForeground(NOT_AN_ANSWER)
            cell.setToolTip(_what(row))
    return cells


def _identifiable_cell(ident) -> QTableWidgetItem:
    """The identifiable column's cell: the share of replicates in which all components are identified ('' and a
    hint when not computed)."""
    if ident is None:
        cell = _Number(None, "")
        cell.setToolTip("not computed: the Identifiability button bootstraps each solution (not plateaus)")
        return cell
    if ident.reason:  # its bootstrap could not run
        cell = _Number(None, "unknown")
        cell.setToolTip(ident.reason)
        return cell
    cell = _Number(ident.solution, f"{ident.solution:.0%}")
    cell.setToolTip(_identifiable_text(ident))
    return cell


def _identifiable_text(ident) -> str:
    """'all components identifiable in 80% of 50 bootstrap replicates (each: 96%, 80%, 100%)'."""
    if ident.reason:
        return f"identifiability unknown: {ident.reason}"
    each = ", ".join(f"{share:.0%}" for share in ident.components)
    failed = f", {ident.failed} failed" if ident.failed else ""
    share, used = f"{ident.solution:.0%}", ident.used
    return f"all components identifiable in {share} of {used} bootstrap replicates{failed} (each: {each})"


class GalleryPanel(QWidget):
    """Summary in words, a picture grid and a sortable table of the restarts."""

    show_restart = Signal(int)
    make_current = Signal(int)
    export_requested = Signal()
    identify_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.gallery = None
        self.found: dict | None = None  # the optima's engine Identifiability by label, once computed
        self.summary = QLabel("Run a fit with several restarts (Restarts > 1) to see where each one ends.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pictures = Pictures()
        self.pictures.setViewMode(QListView.ViewMode.IconMode)
        self.pictures.setIconSize(THUMB)
        self.pictures.setResizeMode(QListView.ResizeMode.Adjust)
        self.pictures.setMovement(QListView.Movement.Static)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSortingEnabled(True)
        self.show_button = QPushButton("Show")
        self.current_button = QPushButton("Make current fit")
        self.export_button = QPushButton("Export gallery…")
        self.identify_button = QPushButton(IDENTIFY)
        self.identify_button.setToolTip(IDENTIFY_TIP)
        for b in self._buttons():
            b.setEnabled(False)
        buttons = QHBoxLayout()
        for b in self._buttons():
            buttons.addWidget(b)
        buttons.addStretch(1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.pictures)
        split.addWidget(self.table)
        split.setSizes([600, 400])
        summary_box = QScrollArea()
        summary_box.setWidget(self.summary)
        summary_box.setWidgetResizable(True)
        summary_box.setMaximumHeight(SUMMARY_LINES * self.summary.fontMetrics().lineSpacing())  # whole lines only
        summary_box.setFrameShape(QFrame.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(summary_box)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        self.pictures.itemClicked.connect(lambda item: self.show_restart.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.table.cellDoubleClicked.connect(lambda row, _col: self.show_restart.emit(self._row_restart(row)))
        self.show_button.clicked.connect(lambda: self._emit_selected(self.show_restart))
        self.current_button.clicked.connect(lambda: self._emit_selected(self.make_current))
        self.export_button.clicked.connect(self.export_requested)
        self.identify_button.clicked.connect(self.identify_requested)

    def _buttons(self) -> tuple[QPushButton, ...]:
        return self.show_button, self.current_button, self.export_button, self.identify_button

    def clear(self) -> None:
        self.gallery, self.found = None, None
        self.pictures.clear()
        self.table.setRowCount(0)
        self.summary.setText("Run a fit with several restarts (Restarts > 1) to see where each one ends.")
        for b in self._buttons():
            b.setEnabled(False)

    def set_gallery(self, gallery, pictures: list[QImage]) -> None:
        """Show an engine Gallery and its pictures (one per restart)."""
        self.gallery = gallery
        choice = gallery.forum_choice
        text = gallery.summary + (f".\n{choice[0].upper()}{choice[1:]}." if choice else ".")
        self.summary.setText(text[0].upper() + text[1:])
        self.pictures.clear()
        order = sorted(gallery.rows, key=lambda row: -(row["log_likelihood"] or -np.inf))
        self._add_pictures(gallery, order, pictures)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(gallery.rows))
        for i, row in enumerate(gallery.rows):
            for col, cell in enumerate(_row_cells(row)):
                self.table.setItem(i, col, cell)
        self.table.setSortingEnabled(True)
        self.table.sortItems(3, Qt.SortOrder.DescendingOrder)  # best log-likelihood first
        for b in self._buttons():
            b.setEnabled(True)
        self.set_identifiability(self.found)  # the same fit's gallery again (another view): its shares stay

    def exported(self):
        """The gallery to export: with its optima's identifiability once computed (engine Gallery, or None)."""
        import engine

        return None if self.gallery is None else engine.with_identifiability(self.gallery, self.found)

    def set_identifying(self, running: bool) -> None:
        """The button while the identifiability runs: it cancels it."""
        self.identify_button.setText(CANCEL_IDENTIFY if running else IDENTIFY)

    def set_identifiability(self, found: dict | None) -> None:
        """Each restart's solution's identifiability (engine Identifiability by label; None: not computed) in the
        table's identifiable column and the pictures' captions."""
        self.found = found
        found = found or {}
        solution = COLUMNS.index("solution")
        sorting = self.table.isSortingEnabled()
        self.table.setSortingEnabled(False)  # the rows stay where they are while their cells change
        for i in range(self.table.rowCount()):
            cell = _identifiable_cell(found.get(self.table.item(i, solution).text()))
            cell.setForeground(self.table.item(i, 0).foreground())  # greyed with its row (no answer)
            self.table.setItem(i, IDENTIFIABLE, cell)
        self.table.setSortingEnabled(sorting)
        rows = {row["restart"]: row for row in self.gallery.rows} if self.gallery is not None else {}
        for i in range(self.pictures.count()):
            item = self.pictures.item(i)
            row = rows.get(item.data(Qt.ItemDataRole.UserRole))
            if row is not None:
                item.setText(self._caption(row))
                item.setToolTip(self._tooltip(row))

    def _add_pictures(self, gallery, rows: list[dict], pictures: list[QImage]) -> None:
        """Add PICTURES_PER_TURN pictures, then let the event loop run before the next ones (no long stall)."""
        if gallery is not self.gallery:
            return  # replaced meanwhile
        for row in rows[:PICTURES_PER_TURN]:
            r = row["restart"]
            item = QListWidgetItem(QIcon(QPixmap.fromImage(pictures[r])), self._caption(row))
            item.setData(Qt.ItemDataRole.UserRole, r)
            item.setToolTip(self._tooltip(row))
            self.pictures.addItem(item)
        if rows[PICTURES_PER_TURN:]:
            QTimer.singleShot(0, lambda: self._add_pictures(gallery, rows[PICTURES_PER_TURN:], pictures))

    def _caption(self, row: dict) -> str:
        """'r3 · A · -1234.5', and a line '80% identifiable' once its solution's identifiability is known."""
        ll = "–" if row["log_likelihood"] is None else f"{row['log_likelihood']:.1f}"
        group = row["solution"] or "–"
        if row["outcome"] not in ("", OPTIMUM):
            group += f" {row['outcome']}"  # "C plateau", "E not converged": not an answer
        ident = (self.found or {}).get(row["solution"])
        known = ident is not None and not ident.reason
        return f"r{row['restart']} · {group} · {ll}" + (f"\n{ident.solution:.0%} identifiable" if known else "")

    def _tooltip(self, row: dict) -> str:
        import engine

        ll = "–" if row["log_likelihood"] is None else f"{row['log_likelihood']:.1f}"
        ident = (self.found or {}).get(row["solution"])
        return (
            f"restart {row['restart']} (seed {row['seed']}): {_what(row)}, log-likelihood {ll}, "
            f"{engine.counted(row['n_iter'], 'iteration')}"
            + ("" if ident is None else f"; {_identifiable_text(ident)}")
        )

    def _row_restart(self, row: int) -> int:
        return int(self.table.item(row, 0).text())

    def _emit_selected(self, signal) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            signal.emit(self._row_restart(rows[0].row()))
        elif self.pictures.currentItem() is not None:
            signal.emit(self.pictures.currentItem().data(Qt.ItemDataRole.UserRole))
