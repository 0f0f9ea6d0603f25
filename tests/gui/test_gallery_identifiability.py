"""The Restarts tab's Identifiability (issue 25): each optimum of the gallery bootstrapped in the background on
demand, its share of replicates identifying all its components in the table's identifiable column and on the
pictures (the engine's numbers: tests/engine/test_identifiability.py checks those); dropped with new data."""

from __future__ import annotations

import csv

import numpy as np

import engine
from gui.views import gallery as panel
from tests.gui.gui_helpers import FIT_TIMEOUT_MS, run_fit, two_clusters


def _gallery(qtbot, window):
    """Two clusters fitted with K = 3 from 6 restarts (one cluster split: some optima identify less than all)."""
    window.data.set_dataset(engine.Dataset(two_clusters(5, 300), ("x", "y"), (0, 1), "two clusters"))
    assert run_fit(qtbot, window, k=3, covariance="full", restarts=6) == "converged"
    qtbot.waitUntil(lambda: window.gallery_panel.gallery is not None, timeout=FIT_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.gallery_panel.pictures.count() == 6, timeout=FIT_TIMEOUT_MS)
    return window.gallery_panel


def test_the_button_fills_the_identifiable_column_with_the_engines_shares(qtbot, window, tmp_path) -> None:
    gallery = _gallery(qtbot, window)
    assert [gallery.table.item(r, panel.IDENTIFIABLE).text() for r in range(6)] == [""] * 6  # not computed yet
    gallery.identify_button.click()
    assert window.identifiability.running and gallery.identify_button.text() == panel.CANCEL_IDENTIFY
    qtbot.waitUntil(lambda: gallery.found is not None, timeout=FIT_TIMEOUT_MS)
    assert gallery.identify_button.text() == panel.IDENTIFY
    job = window.state.job
    want = engine.gallery_identifiability(job.scene.points, gallery.gallery.solutions, job.config)
    assert {k: v.solution for k, v in gallery.found.items()} == {k: v.solution for k, v in want.items()}
    optima = {s.label for s in gallery.gallery.solutions if s.kind == engine.OPTIMUM}
    assert set(want) == optima and optima
    solution = panel.COLUMNS.index("solution")
    for r in range(6):
        label = gallery.table.item(r, solution).text()
        text = gallery.table.item(r, panel.IDENTIFIABLE).text()
        assert text == (f"{want[label].solution:.0%}" if label in want else "")
    for i in range(gallery.pictures.count()):
        item = gallery.pictures.item(i)
        label = item.text().split(" · ")[1]
        assert item.text().endswith(f"\n{want[label].solution:.0%} identifiable") == (label in want)
    said = window.statusBar().currentMessage()
    assert said.startswith("identifiable (every component, in 50 nonparametric bootstrap replicates of each optimum)")
    window.files.export_gallery(str(tmp_path / "g.csv"))  # the export has them too
    for row in csv.DictReader((tmp_path / "g.csv").open()):
        want_share = want[row["solution"]].solution if row["solution"] in want else None
        assert row["identifiable"] == ("" if want_share is None else repr(want_share))


def test_new_data_cancels_and_drops_it(qtbot, window) -> None:
    gallery = _gallery(qtbot, window)
    control = window.identifiability
    assert control.start(20)
    window.data.set_dataset(engine.Dataset(two_clusters(6, 200), ("x", "y"), (0, 1), "other clusters"))
    assert not control.running and gallery.identify_button.text() == panel.IDENTIFY
    qtbot.waitUntil(lambda: not control.background.busy, timeout=FIT_TIMEOUT_MS)
    assert gallery.found is None and gallery.gallery is None


def test_a_solution_whose_bootstrap_failed_says_unknown_and_why(qtbot) -> None:
    failed = engine.Identifiability(np.full(2, np.nan), np.nan, 0, 10, 10, "nonparametric", 0, "9 of 10 ... failed")
    cell = panel._identifiable_cell(failed)
    assert (cell.text(), cell.toolTip()) == ("unknown", "9 of 10 ... failed")
    assert panel._identifiable_text(failed) == "identifiability unknown: 9 of 10 ... failed"


def test_each_pictures_two_caption_lines_show_whole_at_the_windows_usual_size(qtbot, window) -> None:
    """At the window's opening size the Restarts tab's pictures were taller than their list: the captions' second
    line ('60% identifiable') lay below its edge. The pictures shrink until a row of them, captions whole, fits;
    each cell is a caption wide (no caption runs into the next)."""
    window.resize(1280, 860)
    gallery = _gallery(qtbot, window)
    window.tabs.setCurrentWidget(gallery)
    window.identifiability.start(5)
    qtbot.waitUntil(lambda: gallery.found is not None, timeout=FIT_TIMEOUT_MS)
    pictures = gallery.pictures
    qtbot.waitUntil(lambda: pictures.viewport().height() > 0)
    item = pictures.item(0)
    assert "\n" in item.text()  # two lines
    rect, view = pictures.visualItemRect(item), pictures.viewport().rect()
    assert view.contains(rect)
    metrics = pictures.fontMetrics()
    lines = item.text().split("\n")
    assert rect.height() >= pictures.iconSize().height() + len(lines) * metrics.height()
    assert all(metrics.horizontalAdvance(line) <= pictures.gridSize().width() for line in lines)
