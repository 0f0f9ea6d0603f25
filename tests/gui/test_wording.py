"""What the window says, said right (issue 22, "Also seen"): counts in the number they need, one name for a
column that has none, and the labels export that refuses to write CSV into a file named as another format."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import numpy as np
from gui_helpers import run_fit

import engine
from gui.views.compare import explain, reference_algorithm


def test_the_windows_data_is_named_as_the_command_lines(qtbot, window) -> None:
    """The window's generated data had x, y; the CLI's x0, x1 (and so did the demo data and points drawn by hand)."""
    assert window.state.dataset.columns == ("x0", "x1")  # the demo data
    preset = engine.FORUM_PRESET
    window.data.generate(preset["weights"], preset["means"], preset["covariances"], 200, 1)
    qtbot.waitUntil(lambda: window.state.dataset.source.startswith("generated"), timeout=30_000)
    assert window.state.dataset.columns == ("x0", "x1")
    assert window.plot.plotItem.getAxis("bottom").labelText == "x0"
    window.data.clear_points()
    window.data.add_points(np.array([[0.0, 1.0], [2.0, 3.0]]))
    assert window.state.dataset.columns == ("x0", "x1")


def test_a_one_column_file_is_said_to_have_1_column(qtbot, window, tmp_path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("height\n" + "\n".join(str(v) for v in np.linspace(1, 2, 30)) + "\n")
    window.data.open_path(str(path))
    qtbot.waitUntil(lambda: window.state.dataset.source == str(path), timeout=30_000)
    assert window.statusBar().currentMessage() == f"loaded {path}: 1 column (height)"


def test_the_compare_verdict_says_1_iteration() -> None:
    means = np.array([[0.0, 0.0], [5.0, 5.0]])
    snap = SimpleNamespace(mean_log_likelihood=-2.0, iteration=1, elapsed=0.1, means=means, covariances=None)
    frame = SimpleNamespace(snapshot=snap, trajectory=None, entries=[])
    text = explain({reference_algorithm(): frame})
    assert f"{reference_algorithm()}: -2.00000 after 1 iteration (0.1 s)." in text


def test_labels_are_not_written_into_a_file_named_as_another_format(qtbot, window, tmp_path) -> None:
    """'Export labels…' wrote CSV into plot3d.svg without a word: refused, with one line that says what to do; a
    name without a suffix gets .csv, as a file dialog's CSV filter adds it."""
    run_fit(qtbot, window, k=2, max_iter="5")
    svg = tmp_path / "plot3d.svg"
    window.files.export_labels(str(svg))
    assert window.messages.last_error == f"{svg}: labels are written as CSV: name the file with .csv"
    assert not (tmp_path / "plot3d.svg").exists()
    done = []
    window.files.export_labels(str(tmp_path / "labels"), on_done=lambda: done.append(True))
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    assert not (tmp_path / "labels").exists()
    rows = list(csv.reader((tmp_path / "labels.csv").open()))
    assert rows[0] == ["x0", "x1", "label", "resp_0", "resp_1"]
    assert len(rows) == 1 + len(window.state.dataset.points)
