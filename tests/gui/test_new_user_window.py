"""A new user's try on Xvfb (issue: five window problems): draw mode after new data, the memory limit at Run,
the lower panel's scroll and the selection chart's range after new data, the Generate dialog's last values,
texts cut in the panel, the plot and the status bar."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import choose_selection, run_fit, set_controls, two_clusters
from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QStyle, QStyleOptionComboBox

import engine
from gui.views.controls import IMPORTED_INIT
from gui.views.selection_chart import criterion_value


def _settle(n: int = 5) -> None:
    for _ in range(n):
        QApplication.processEvents()


def _csv(path, points: np.ndarray) -> str:
    np.savetxt(path, points, delimiter=",", header="a,b", comments="")
    return str(path)


def test_new_data_from_a_file_or_generate_turns_draw_mode_off(qtbot, window, tmp_path) -> None:
    """Clear turned draw mode on and it stayed on: a click on a file's data quietly added a point to it."""
    window.data.clear_points()
    assert window.controls.draw_button.isChecked() and window.plot.view_box.draw_mode  # an empty canvas: draw
    window.data.add_points(np.array([[0.0, 0.0]]))
    assert window.controls.draw_button.isChecked()  # drawing goes on while the user draws
    shown = []
    window.data.open_path(_csv(tmp_path / "two.csv", two_clusters(0, 40)), on_shown=lambda: shown.append(1))
    qtbot.waitUntil(lambda: window.state.dataset.source.endswith("two.csv"), timeout=30_000)
    assert not window.controls.draw_button.isChecked() and not window.plot.view_box.draw_mode
    window.controls.draw_button.setChecked(True)
    p = engine.FORUM_PRESET
    window.data.generate(p["weights"], p["means"], p["covariances"], 50, 1)
    qtbot.waitUntil(lambda: window.state.dataset.source.startswith("generated"), timeout=30_000)
    assert not window.controls.draw_button.isChecked() and not window.plot.view_box.draw_mode


def test_run_refuses_a_mistyped_memory_limit(qtbot, window) -> None:
    """'5x' in Memory limit was only checked when a file was opened: Run fitted as if it were empty. Its error stayed
    on the status bar after the field was corrected (a second try): a typed edit of the settings withdraws it."""
    set_controls(window, memory_limit="5x")
    assert not window.run_control.start_fit()
    assert window.messages.last_error == "Memory limit takes a size such as 256M, 2G or 1000000 (bytes), got '5x'"
    assert not window.state.job_active and window.state.latest is None  # nothing fitted
    bar = window.statusBar()
    assert bar.currentMessage() == window.messages.last_error
    window.controls.memory_limit.clear()
    qtbot.keyClicks(window.controls.memory_limit, "2G")  # corrected: the error's note went only with the next note
    assert bar.currentMessage() == ""
    assert run_fit(qtbot, window) in ("converged", "max_iter")


def _generate_dialog(window):
    window.data.generate_dialog()
    dialog = window.messages.boxes[-1]
    assert dialog.isVisible()
    return dialog


def test_the_generate_dialog_reopens_with_the_values_last_used_and_cancel_keeps_them(qtbot, window) -> None:
    """It reopened at its defaults (the forum preset, seed 0): a user changing one number had to type all again."""
    dialog = _generate_dialog(window)
    dialog.dimensions.setValue(3)  # K well separated 3-D components
    for row, weight in enumerate(("0.5", "0.25", "0.25")):
        dialog.table.item(row, 0).setText(weight)
    dialog.table.item(1, 1).setText("0.123456789, 1, 2")  # more digits than a cell shows by default
    dialog.n.setValue(321)
    dialog.seed.setValue(7)
    typed = [[dialog.table.item(r, c).text() for c in range(3)] for r in range(dialog.table.rowCount())]
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled(), dialog.message.text()
    ok.click()
    qtbot.waitUntil(lambda: window.state.dataset.source == "generated: K=3, D=3, N=321, seed 7", timeout=30_000)
    weights, means, covariances = dialog.parsed()
    expected, _ = engine.sample_mixture(weights, means, covariances, 321, 7)
    np.testing.assert_array_equal(window.state.dataset.points, expected)

    again = _generate_dialog(window)
    assert (again.d, again.n.value(), again.seed.value()) == (3, 321, 7)
    assert again.table.item(0, 0).text() == "0.5" and again.table.item(1, 1).text() == "0.123456789, 1, 2"
    for a, b in zip(again.parsed(), dialog.parsed(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(typed) == again.table.rowCount()
    again.seed.setValue(99)
    again.dimensions.setValue(2)
    again.reject()  # Cancel: nothing remembered
    third = _generate_dialog(window)
    assert (third.d, third.n.value(), third.seed.value()) == (3, 321, 7)
    third.reject()


def _select(qtbot, window, click: bool = True) -> None:
    """Run a small model selection (K 1-2, two models) from the tab's button (focused, as a click leaves it)."""
    window.tabs.setCurrentWidget(window.selection)
    view = choose_selection(window, 1, 2, ("full", "spherical"), restarts=1)
    view.run_button.setFocus()
    view.run_button.click()
    qtbot.waitUntil(lambda: not view.running, timeout=60_000)
    _settle()


def test_a_selection_run_leaves_the_lower_panel_scrolled_at_its_top(qtbot, window) -> None:
    """At 1280 x 860 the Model selection tab scrolls; at a run's end its Stop button was disabled with the focus,
    the focus went down the tab chain and the panel scrolled there: tab bar and chart top out of view."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    bar = window.lower.verticalScrollBar()
    _select(qtbot, window)
    assert bar.maximum() > 0  # the tab scrolls (as designed)
    assert bar.value() == 0
    assert window.selection.run_button.hasFocus()  # the focus is back on Run selection, not down the chain
    bar.setValue(bar.maximum())  # the user scrolls down, then changes tabs: the new tab shows from its top
    window.tabs.setCurrentWidget(window.table)
    _settle()
    assert bar.value() == 0


def test_new_data_empties_the_selection_chart_and_its_axes(qtbot, window) -> None:
    """After new data the selection chart was empty but kept the old data's axis ranges (BIC 9200-9800)."""
    _select(qtbot, window)
    chart = window.selection.chart
    (x0, x1), (y0, y1) = chart.viewRange()
    assert y0 > 1000 and x0 < 1 < 2 < x1  # the demo's BIC values and K 1-2
    fresh = type(chart)()
    window.data.set_dataset(engine.Dataset(two_clusters(1, 60), ("a", "b"), (0, 1), "two clusters"))
    _settle()
    assert not chart.curves and not chart.labels and chart.best is None
    assert chart.viewRange() == fresh.viewRange()  # the axes of a chart that never drew
    _select(qtbot, window)  # the next run ranges them again, on the new data's values
    new = [criterion_value(e, "BIC") for e in window.selection.entries]
    (_, _), (y0, y1) = chart.viewRange()
    assert y0 <= min(new) and max(new) <= y1 and y1 - y0 < 2 * (max(new) - min(new)) + 50


def _tick_labels(plot, side: str) -> list[tuple[str, QRectF]]:
    """The axis's tick labels as it draws them: (text, its rectangle in the plot widget's pixels)."""
    axis = plot.getAxis(side)
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _axis, _ticks, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(text, plot.mapFromScene(axis.mapRectToScene(rect)).boundingRect()) for rect, _flags, text in texts]


def test_the_plots_top_tick_label_is_whole(qtbot, window) -> None:
    """The 1-D plot's top tick value ('0.25', at the view's top edge) was cut in half by the window's edge."""
    window.data.generate(np.array([0.3, 0.7]), np.array([[0.0], [4.0]]), np.array([[[1.0]], [[2.0]]]), 400, 0)
    qtbot.waitUntil(lambda: window.state.dataset.source.startswith("generated"), timeout=30_000)
    plot = window.plot
    for size in ((1280, 860), (1, 1)):  # the default size and the minimum size
        window.resize(*size)
        plot.setRange(yRange=(0.0, 0.25), padding=0)  # a tick at the very top, as the density's range had it
        _settle()
        labels = _tick_labels(plot, "left")
        top = min(labels, key=lambda label: label[1].top())
        assert float(top[0]) == pytest.approx(0.25)
        assert plot.rect().contains(top[1]), (size, top)  # whole inside the plot's widget
    window.resize(1280, 860)
    window.tabs.setCurrentWidget(window.selection)
    for chart in (window.ll_plot, window.selection.chart):  # the charts below it, empty: their range is 0 to 1
        chart.setRange(yRange=(0.0, 1.0), padding=0)
        _settle()
        top = min(_tick_labels(chart, "left"), key=lambda label: label[1].top())
        assert float(top[0]) == pytest.approx(1.0) and chart.rect().contains(top[1]), (chart, top)


def test_a_long_status_note_ends_in_an_ellipsis_before_the_fit_state(window) -> None:
    """A long note was cut mid-letter against the bar's 'converged' label, at the default and the minimum size."""
    note = "identifiable:" + "x" * 400  # no space: nothing the cut could fall on
    window.messages.note(note, 0)
    bar, state = window.statusBar(), window.state_label
    for size in ((1280, 860), (1, 1)):
        window.resize(*size)
        _settle()
        image = bar.grab().toImage()
        background = bar.palette().window().color().lightness()
        gap = [
            image.pixelColor(x, y).lightness() for x in range(state.x() - 9, state.x() - 2) for y in range(bar.height())
        ]
        assert min(gap) > background - 40, size  # no letter in the gap before the label
        shown = bar.shown_message()
        assert (
            shown.endswith("…")
            and note.startswith(shown[:-1])
            and bar.fontMetrics().horizontalAdvance(shown) <= (bar.message_rect().width())
        )
        assert bar.currentMessage() == note and bar.toolTip() == note  # whole in the tooltip


def _text_room(box) -> QRect:
    """Where a combo box draws its text, as the style lays it out (no icon: the initialisation's items have none)."""
    option = QStyleOptionComboBox()
    box.initStyleOption(option)
    style = box.style()
    return style.subControlRect(QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, box)


def test_the_initialisation_shows_its_choice_whole_or_whole_in_its_tooltip(window) -> None:
    """'default (kmea…' and 'imported para…' at the default size: the dock was at its narrowest."""
    _settle()
    init = window.controls.init
    metrics = init.fontMetrics()
    assert init.currentText() == "default (kmeans++)"
    for text in (init.currentText(), IMPORTED_INIT):  # both whole at the default size
        assert metrics.horizontalAdvance(text) <= _text_room(init).width(), text
    window.resize(1, 1)  # the minimum size: the dock at its narrowest, the choice cut...
    _settle()
    assert metrics.horizontalAdvance(init.currentText()) > _text_room(init).width()
    assert init.whole_tip().startswith("default (kmeans++)\n\nHow each restart starts")  # ...whole in its tooltip


def test_the_initialisation_stays_whole_when_new_data_makes_the_panel_scroll(qtbot, settings_path) -> None:
    """A window made 1400 x 880 before it shows (as docs/make_uncertainty_png.py makes it), then Old Faithful: its
    data label of three lines makes the Controls panel scroll, and the scroll bar took its width from the choices
    ('default (kmeans+…' in docs/uncertainty.png); the dock widens again."""
    from PySide6.QtCore import QSettings

    from gui.app import make_app
    from gui.main_window import MainWindow

    make_app()
    window = MainWindow(QSettings(str(settings_path), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(1400, 880)
    window.show()
    qtbot.waitUntil(lambda: window.run_control.ready, timeout=60_000)
    window.data.set_dataset(engine.load("tests/data/old_faithful.csv", [1, 2]))
    _settle(20)
    init = window.controls.init
    assert window.controls_scroll.verticalScrollBar().maximum() > 0
    assert init.fontMetrics().horizontalAdvance(init.currentText()) <= _text_room(init).width()
    window.close()
