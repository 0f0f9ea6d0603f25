"""Long column names or a long path in the Data box (a second new user's try): the label's words asked the
Controls panel for their width, and the panel, which never scrolls sideways, was cut on the right (Open…, Clear,
Step and Stop hidden)."""

from __future__ import annotations

import numpy as np
from gui_helpers import two_clusters
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication

LONG = ("the_total_annual_precipitation_measured_in_millimetres_at_station", "mean_daily_temperature_over_the_year")


def _right_edge_in_viewport(window, widget) -> int:
    """The widget's right edge in the Controls scroll area's viewport (px)."""
    return widget.mapTo(window.controls_scroll.viewport(), QPoint(widget.width(), 0)).x()


def _open(qtbot, window, path, names) -> None:
    np.savetxt(path, two_clusters(0, 40), delimiter=",", header=",".join(names), comments="")
    window.data.open_path(str(path))
    qtbot.waitUntil(lambda: window.state.dataset.source.endswith(path.name), timeout=30_000)
    for _ in range(5):
        QApplication.processEvents()


def test_long_column_names_keep_the_controls_whole(qtbot, window, tmp_path) -> None:
    _open(qtbot, window, tmp_path / "long.csv", LONG)
    viewport = window.controls_scroll.viewport().width()
    for button in (window.controls.open_button, window.controls.clear_button):
        assert _right_edge_in_viewport(window, button) <= viewport, button.text()
    label = window.controls.data_label
    assert LONG[0] in label.text().replace("\u200b", "")  # every name still there (cut into lines, not dropped)
    assert label.heightForWidth(label.width()) <= label.height()  # its lines all shown
    assert label.minimumSizeHint().width() <= viewport  # its lines break inside the names: each shows whole
    assert label.toolTip().endswith(", ".join(LONG))


def test_a_name_without_breaks_is_cut_not_the_controls(qtbot, window, tmp_path) -> None:
    """A name with nothing to break at is cut at the panel's edge (whole in the tooltip); the buttons stay."""
    _open(qtbot, window, tmp_path / "unbroken.csv", ("x" * 150, "y"))
    viewport = window.controls_scroll.viewport().width()
    for button in (window.controls.open_button, window.controls.clear_button):
        assert _right_edge_in_viewport(window, button) <= viewport, button.text()
    assert "x" * 150 in window.controls.data_label.toolTip()
