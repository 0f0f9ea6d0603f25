"""The Restarts tab tells plateaus and unconverged restarts from solutions (issue 22, item 3): on the demo data,
50 restarts at the default tol showed "4 solutions", C and D described as "merges two clusters / splits a
cluster"; run on, every one of C's and D's restarts ends at B (tests/engine/test_solutions.py measures it).
Driven through the window as a user would: the demo data, Restarts 50, Run, the Restarts tab."""

from __future__ import annotations

import numpy as np
from gui_helpers import run_fit
from PySide6.QtCore import Qt

import engine
from gui.views import gallery as panel

# measured on the demo data: the optima A and B at -4567.75 and -4567.85, the plateaus C and D between -4577.33
# and -4576.01 (18 restarts); nothing in between
PLATEAU_BELOW = -4570.0


def _column(window, name: str) -> list[str]:
    table = window.gallery_panel.table
    col = panel.COLUMNS.index(name)
    return [table.item(r, col).text() for r in range(table.rowCount())]


def _restarts_tab(window) -> str:
    return window.tabs.tabText(window.tabs.indexOf(window.gallery_panel))


def _wait_for_gallery(qtbot, window):
    qtbot.waitUntil(lambda: window.gallery_panel.gallery is not None, timeout=60_000)
    return window.gallery_panel.gallery


def test_the_restarts_tab_calls_plateaus_plateaus(qtbot, window) -> None:
    from engine.io.data import forum_sample

    assert window.state.dataset.source.startswith("demo: forum preset, N=1000, seed 0")
    np.testing.assert_array_equal(window.state.dataset.points, forum_sample(1000, 0))  # the engine test's data
    assert run_fit(qtbot, window, restarts=50) == "converged"
    gallery = _wait_for_gallery(qtbot, window)
    snap = window.state.latest.snapshot
    assert snap.config.resolved().tol == 1e-6  # the default, as the issue ran it
    assert _restarts_tab(window) == "Restarts (2 solutions, 2 plateaus)"  # was "Restarts (4 solutions)"
    text = window.gallery_panel.summary.text()
    assert "merges" not in text and "splits" not in text  # A and B are not merges; C and D are plateaus
    assert text.count("a plateau, not an optimum") == 2
    lls = [float(v) for v in _column(window, "log-likelihood")]
    outcomes = _column(window, "outcome")
    assert outcomes == ["plateau" if ll < PLATEAU_BELOW else "optimum" for ll in lls]
    assert outcomes.count("plateau") == 18
    assert set(_column(window, "converged")) == {"yes"}  # all passed the tol test: the outcome says more
    table = window.gallery_panel.table
    for r, outcome in enumerate(outcomes):  # rows that are not answers are greyed
        grey = table.item(r, 0).foreground().color() == panel.NOT_AN_ANSWER
        assert grey == (outcome == "plateau")
    # the pictures say it too, and the window's grouping is the engine's for the same fit
    qtbot.waitUntil(lambda: window.gallery_panel.pictures.count() == 50, timeout=30_000)
    pictures = window.gallery_panel.pictures
    captions = {pictures.item(i).data(Qt.ItemDataRole.UserRole): pictures.item(i).text() for i in range(50)}
    for row in gallery.rows:
        assert ("plateau" in captions[row["restart"]]) == (row["outcome"] == "plateau")
    reference = engine.build_gallery(snap)
    assert [(s.restarts, s.kind) for s in gallery.solutions] == [(s.restarts, s.kind) for s in reference.solutions]


def test_the_restarts_tab_flags_restarts_stopped_by_max_iter(qtbot, window) -> None:
    assert run_fit(qtbot, window, restarts=50, max_iter="30") == "max_iter"
    gallery = _wait_for_gallery(qtbot, window)
    t = window.state.latest.snapshot.restarts
    stopped = set(np.nonzero(~t.converged)[0].tolist())
    assert stopped and all(t.n_iter[r] == 30 for r in stopped)
    restarts = [int(v) for v in _column(window, "restart")]
    outcomes = _column(window, "outcome")
    converged = _column(window, "converged")
    for r, outcome, conv in zip(restarts, outcomes, converged, strict=True):
        assert (outcome == "not converged") == (r in stopped) == (conv == "no")
    assert "not converged" in _restarts_tab(window)
    text = window.gallery_panel.summary.text()
    assert "by max_iter at iteration 30, still climbing" in text
    for s in gallery.solutions:  # an unconverged group is never an optimum, nor told as a merge or a split
        if set(s.restarts) & stopped:
            assert s.kind == "not converged" and "merges" not in s.relation and "splits" not in s.relation
