"""A collapsed component's direction in the window's status line is named by the data's columns, as the command
line names it ("... along height"), not by the engine's placeholders x0, x1, ... (its bookkeeping never sees the
file's header). The reference is the engine's own description with the names given (snapshot_collapses)."""

from __future__ import annotations

import numpy as np
from gui_helpers import run_fit

import engine


def test_a_collapse_in_the_status_line_names_the_files_column(qtbot, window, tmp_path) -> None:
    rng = np.random.default_rng(3)  # tests/engine/test_collapse.py's data: one cluster's points share one height
    x = np.r_[np.c_[rng.normal(0, 1, 200), np.full(200, 5.0)], rng.normal([6.0, 0.0], 1.0, (200, 2))]
    path = tmp_path / "heights.csv"
    np.savetxt(path, x, delimiter=",", header="time,height", comments="", fmt="%.17g")
    window.data.open_path(str(path))
    qtbot.waitUntil(lambda: window.state.dataset is not None and window.state.dataset.columns == ("time", "height"))
    assert run_fit(qtbot, window, k=2, seed=0, restarts=1, tol="", max_iter="") == "converged"
    snap = window.state.frame.snapshot
    named = [c.text for c in engine.snapshot_collapses(snap, ("time", "height"))]
    assert len(named) == 1 and named[0].endswith("along height")
    note = window.statusBar().currentMessage()
    assert named[0] in note and "along x1" not in note
