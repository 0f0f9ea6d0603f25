"""The end of a fourteen-model selection held the event loop 70-120 ms at a time (issue 24, window): every line set
in one slot, each restyle setting a line's points five times over, every change of the view's range setting all
fourteen lines again, a paint after each piece, the table filled at once, a redraw every 50 ms while the sweep's
last fits (their ICL) still took the CPU. The redraw is now drawn in pieces, a turn of the event loop each; these
tests check that structure (what each piece does), never a time."""

from __future__ import annotations

import math
import time

import pytest
from PySide6.QtCore import Qt

import engine
from gui.views.selection_chart import LINES_A_STEP
from gui.views.selection_table import ROWS_A_STEP
from gui.views.selection_view import REDRAW_MS, REDRAW_WAIT_MS, SelectionView

MODELS = list(engine.MCLUST_MODELS)


def _grid() -> list:
    """Fourteen models at K = 1..6 (84 entries), BIC and ICL ranking the models in opposite orders."""
    from test_model_selection_chart import _entries

    return _entries(MODELS, MODELS[::-1])


def _count_point_sets(view: SelectionView) -> dict[str, int]:
    """name -> how many times each line's markers are set from now on (a line's points and style go to them)."""
    counts = dict.fromkeys(view.curves, 0)
    for name, curve in view.curves.items():
        original = curve.scatter.setData

        def counted(*args, name=name, original=original, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)

        curve.scatter.setData = counted
    return counts


def _pieces(view: SelectionView) -> list[dict]:
    """Draw the redraw in progress a piece at a time; for each piece, the lines it set and the table rows it
    filled (rows with a cell in them), and whether the chart could paint after it."""
    counts = _count_point_sets(view)
    pieces = []
    while view.drawing:
        before, rows_before = dict(counts), _filled_rows(view)
        view._step()
        pieces.append(
            {
                "lines": sum(counts[n] - before[n] for n in counts),
                "rows": _filled_rows(view) - rows_before,
                "paints": view.chart.updatesEnabled(),
            }
        )
    return pieces


def _filled_rows(view: SelectionView) -> int:
    return sum(view.table.item(r, 0) is not None for r in range(view.table.rowCount()))


def test_a_whole_redraw_is_drawn_in_pieces(view) -> None:
    """126 entries at the end of a run: a few lines a piece, then a few dozen table rows a piece; the chart paints
    once, after its last line; `done` fires (and the run ends) once everything is drawn."""
    entries = _grid()
    view.chart.prepare({m: m for m in MODELS})
    view._run_id, view._cancel = 7, engine.CancelToken()
    for e in entries:
        view._entry(7, e)
    done: list[int] = []
    view.done.connect(lambda: done.append(1))
    view._finished(7)
    assert view.running and view.drawing and done == []  # nothing drawn in the slot itself
    pieces = _pieces(view)
    assert max(p["lines"] for p in pieces) == LINES_A_STEP
    assert sum(p["lines"] for p in pieces) == len(MODELS)  # each line set once, its style with its points
    assert sum(p["lines"] > 0 for p in pieces) == math.ceil(len(MODELS) / LINES_A_STEP)
    assert max(p["rows"] for p in pieces) == ROWS_A_STEP and sum(p["rows"] for p in pieces) == len(entries)
    last_line = max(i for i, p in enumerate(pieces) if p["lines"])
    assert not any(p["paints"] for p in pieces[:last_line])  # no paint of a half-set chart
    assert all(p["paints"] for p in pieces[last_line + 1 :])
    assert done == [1] and not view.running and view.table.isSortingEnabled()
    assert view.best.text().startswith("Best by BIC: EII,3")


def test_a_changed_criterion_sets_each_line_once(view) -> None:
    """Restyling a line (thick or thin) with its new points is one setting of its points, not one per setter."""
    view.show_entries(_grid())
    counts = _count_point_sets(view)
    view.criterion.setCurrentText("ICL")  # the lines' points change, and the three thick ones
    view.flush()
    # VVE's ICL values are its BIC values in this grid (1050 + 10 * 4 = 1000 + 10 * 9): its line is left alone
    assert counts == {m: int(m != "VVE") for m in MODELS}
    assert view.chart.highlighted == MODELS[::-1][:3]


def test_a_change_of_the_views_range_sets_no_line_again(view) -> None:
    """pyqtgraph's dynamic range limit set every line's points again on each change of the y range (each redraw
    moves it): the chart's values never need that limit."""
    view.show_entries(_grid())
    counts = _count_point_sets(view)
    view.chart.setYRange(0, 5000, padding=0)
    view.chart.setXRange(0, 20, padding=0)
    assert counts == dict.fromkeys(MODELS, 0)


def test_a_redraw_dropped_halfway_leaves_the_chart_painting_and_the_table_sorting(view) -> None:
    view.show_entries(_grid())
    view.views.setCurrentWidget(view.table)
    view.criterion.setCurrentText("ICL")
    while view.table.isSortingEnabled():  # into the table's pieces
        view._step()
    view.criterion.setCurrentText("AIC")  # a new redraw drops that one
    assert view.chart.updatesEnabled() or view.drawing
    view.flush()
    assert view.chart.updatesEnabled() and view.table.isSortingEnabled()
    assert _filled_rows(view) == len(_grid())
    shown = {view.table.entry_at(r).covariance_type for r in range(view.table.rowCount())}
    assert shown == set(MODELS)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_that_come_together_are_drawn_once_they_pause(view) -> None:
    """A batched grid's entries all come at its end, while the sweep computes each one's ICL: drawn once they
    pause (not every 50 ms among them); entries that keep coming are still drawn every REDRAW_WAIT_MS."""
    clock = view._clock = Clock()
    drawn: list[float] = []
    view._redraw = lambda: (drawn.append(clock.now), setattr(view, "_waiting", None))
    view._run_id, view._cancel = 1, engine.CancelToken()
    entries = _grid()
    step = 0.004  # s between entries: a burst
    for e in entries[:30]:
        view._entry(1, e)
        clock.now += step
        view._redraw_if_due()  # the timer may fire at any of these moments
    assert drawn == []
    clock.now += REDRAW_MS / 1e3
    view._redraw_if_due()
    assert drawn == [pytest.approx(100.0 + 30 * step + REDRAW_MS / 1e3)]
    # a steady stream, an entry each 20 ms (more often than the pause): drawn every REDRAW_WAIT_MS
    start, step = clock.now, 0.02
    for e in entries[30:]:
        view._entry(1, e)
        clock.now += step
        view._redraw_if_due()
    assert len(entries[30:]) * step > REDRAW_WAIT_MS / 1e3
    assert len(drawn) == 2 and drawn[1] - start == pytest.approx(REDRAW_WAIT_MS / 1e3, abs=step)


def test_the_table_fills_in_pieces_when_shown(view, qtbot) -> None:
    """A hidden table left to fill (mid-run) fills in pieces when its tab is shown, in the event loop's turns."""
    entries = _grid()
    view._run_id, view._cancel = 2, engine.CancelToken()
    for e in entries:
        view._entry(2, e)
    view._redraw()
    view.flush()
    assert view.table.rowCount() == 0
    view.views.setCurrentWidget(view.table)
    assert view.drawing and view.table.rowCount() == 0  # not in the tab's own slot
    pieces = _pieces(view)
    assert max(p["rows"] for p in pieces) == ROWS_A_STEP and _filled_rows(view) == len(entries)
    view.table.sortItems(0, Qt.SortOrder.AscendingOrder)
    assert view.table.entry_at(0).covariance_type == sorted(MODELS)[0]


def test_stop_says_the_run_stopped_and_keeps_what_came(view, qtbot) -> None:
    """Stop: the fits that came stay drawn, the progress says the run stopped at them (it read '0 / 126 fits', as if
    the run were still going, with Run enabled again)."""
    import numpy as np
    from test_model_selection_chart import _entries

    started: list[bool] = []

    def wait_for_stop(_report, _cells):  # in the sweep's thread
        token = view._cancel
        started.append(True)
        for _ in range(6000):
            if token.cancelled:
                break
            time.sleep(0.01)
        return np.zeros((0, 2))  # never fitted: the grid stops before its first cell

    for name, box in view.types.items():
        box.setChecked(view.legend.models[name] in ("EEE", "VVE"))
    view.k_to.setValue(3)
    view.start(wait_for_stop, engine.FitConfig())
    qtbot.waitUntil(lambda: bool(started), timeout=60_000)
    came = [e for e in _entries(MODELS, MODELS) if e.covariance_type in ("EEE", "VVE") and e.k <= 2]
    for e in came:
        view._entry(view._run_id, e)
    view.stop()
    qtbot.waitUntil(lambda: not view.running, timeout=60_000)
    assert view.progress.text() == f"stopped: {len(came)} / 6 fits"
    assert view.run_button.isEnabled() and not view.stop_button.isEnabled()
    drawn = [len(c.getData()[0]) for c in view.curves.values() if c.getData()[0] is not None]
    assert view.entries == came and drawn == [2, 2]


def test_new_data_while_a_run_is_being_drawn_leaves_nothing_of_it(view) -> None:
    """The run ended and its last redraw is half drawn when new data comes: the drawing stops, nothing of the run
    stays, `done` never fires for it, and Run is enabled."""
    view.chart.prepare({m: m for m in MODELS})
    view._run_id, view._cancel = 4, engine.CancelToken()
    view.stop_button.setEnabled(True)
    view.run_button.setEnabled(False)
    for e in _grid():
        view._entry(4, e)
    done: list[int] = []
    view.done.connect(lambda: done.append(1))
    view._finished(4)
    for _ in range(3):  # some of its lines set
        view._step()
    assert view.drawing and view.running
    view.clear()
    view.flush()
    assert not view.drawing and not view.running and done == []
    assert view.curves == {} and view.chart.labels == [] and view.table.rowCount() == 0
    assert view.chart.updatesEnabled() and view.table.isSortingEnabled()
    assert view.run_button.isEnabled() and not view.stop_button.isEnabled() and view.best.text() == ""
