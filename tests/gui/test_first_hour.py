"""What a new user meets in the first hour: no stale fit over new data, starts that do not follow the user to
other data, buttons that say why they are off, a drawing view that stays put, honest speeds, working shortcuts."""

from __future__ import annotations

import time

import numpy as np
import pytest
from gui_helpers import run_fit, set_controls, two_clusters
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

import cli.main
import engine


def _points(item) -> int:
    x = item.getData()[0]
    return 0 if x is None else len(x)


def _no_fit_on_screen(window) -> None:
    """Everything a fit draws is gone: the window says 'no fit yet'."""
    assert window.state.frame is None and window.state.latest is None
    assert window.state_label.text() == "no fit yet"
    assert window.iter_label.text() == "iteration –" and window.speed_label.text() == "– it/s"
    assert _points(window.ll_curve) == 0
    assert len(window.plot.starts.data) == 0 and len(window.plot.means.data) == 0
    assert all(_points(item) == 0 for item in window.plot.trajectories + window.plot.ellipses)
    assert _points(window.plot.contours) == 0
    assert window.table.rowCount() == 0 or window.table.item(0, 1) is None or not window.table.item(0, 1).text()


@pytest.mark.parametrize("change", ["generate", "open", "clear", "draw"])
def test_new_data_leaves_no_trace_of_the_old_fit(qtbot, window, tmp_path, change: str) -> None:
    assert run_fit(qtbot, window, k=3, restarts=2) == "converged"
    assert len(window.plot.starts.data) == 3 and window.state_label.text() == "converged"
    window.timeline.slider.setValue(0)  # replay the start: Live is offered
    qtbot.waitUntil(lambda: window.state.frame.replay and window.state_label.text() == "replay", timeout=30_000)
    assert window.timeline.live_button.isEnabled()
    shown = []
    window.state.scene_changed.connect(lambda: shown.append(1))
    if change == "generate":
        p = engine.FORUM_PRESET
        window.data.generate(p["weights"], p["means"], p["covariances"], 300, 7)
    elif change == "open":
        path = tmp_path / "other.csv"
        np.savetxt(path, two_clusters(1, 200), delimiter=",")
        window.data.open_path(str(path))
    elif change == "clear":
        window.data.clear_points()
    else:
        window.data.add_points(np.array([[0.5, 0.5]]))
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert window.timeline.label.text() == "iteration –" and not window.timeline.live_button.isEnabled()
    assert window.state.frame is None and not window.state.replaying
    if change == "clear":
        assert window.state_label.text() == "no data"
        return
    _no_fit_on_screen(window)


def test_a_start_made_for_other_data_is_dropped_and_said(qtbot, window) -> None:
    run_fit(qtbot, window, k=3)
    window.replay.continue_from_here()  # the start is now this data's fit
    assert window.controls.init.currentText() == "imported parameters"
    shown = []
    window.state.scene_changed.connect(lambda: shown.append(1))
    p = engine.FORUM_PRESET
    window.data.generate(p["weights"], [[m[0] + 20, m[1]] for m in p["means"]], p["covariances"], 400, 3)
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert window.controls.init.currentIndex() == 0 and window.controls.init_params is None
    assert window.controls.init.findText("imported parameters") < 0
    assert "the start made for the previous data was dropped" in window.statusBar().currentMessage()
    config = window.controls.config()
    assert config.init is None and config.init_params is None


def test_run_is_off_without_data_and_says_why(qtbot, window) -> None:
    window.data.clear_points()
    c = window.controls
    assert not c.run_button.isEnabled() and not window.menus.run_action.isEnabled()
    assert c.run_button.toolTip() == "no data: draw points or open a file"
    assert window.run_control.start_fit() is False
    window.data.add_points(np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0]]))
    assert c.run_button.isEnabled() and c.run_button.toolTip() == ""


def test_drawing_on_an_empty_plot_keeps_a_sensible_view(qtbot, window) -> None:
    window.data.clear_points()
    before = window.plot.view_box.viewRange()
    window.data.add_points(np.array([[3.0, 4.0]]))
    (x0, x1), (y0, y1) = window.plot.view_box.viewRange()
    assert (x0, x1, y0, y1) == (*before[0], *before[1])  # the range before Clear: the next click lands apart
    window.data.add_points(np.array([[3.1, 4.2]]))
    assert window.plot.view_box.viewRange() == before
    # a point drawn outside the view grows it; nothing ever zooms in to a sliver
    window.data.add_points(np.array([[before[0][1] + 5.0, 4.0]]))
    (x0, x1), (y0, y1) = window.plot.view_box.viewRange()
    assert x1 >= before[0][1] + 5.0 and (x1 - x0) > 1 and (y1 - y0) > 1


def test_a_first_point_on_a_collapsed_view_gets_a_unit_window(qtbot, window) -> None:
    window.plot.setRange(xRange=(2.0, 2.0 + 1e-12), yRange=(1.0, 1.0 + 1e-12), padding=0)
    window.data.clear_points()
    window.data.add_points(np.array([[2.0, 1.0]]))
    (x0, x1), (y0, y1) = window.plot.view_box.viewRange()
    assert x1 - x0 == pytest.approx(10) and y1 - y0 == pytest.approx(10)


def test_the_column_picker_never_leaves_loading_on_the_status_bar(qtbot, window, tmp_path) -> None:
    path = tmp_path / "three.csv"
    x = two_clusters(0, 100)
    np.savetxt(path, np.c_[x, x[:, 0] * 2], delimiter=",", header="a,b,c", comments="")
    window.data.open_path(str(path))
    qtbot.waitUntil(
        lambda: window.data.column_picker is not None and window.data.column_picker.isVisible(), timeout=30_000
    )
    assert window.statusBar().currentMessage().endswith("choose the columns to fit and the two to show")
    window.data.column_picker.reject()
    assert "was cancelled" in window.statusBar().currentMessage()
    window.data.open_path(str(path))
    qtbot.waitUntil(lambda: window.data.column_picker.isVisible(), timeout=30_000)
    shown = []
    window.state.scene_changed.connect(lambda: shown.append(1))
    window.data.column_picker.accept()
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert window.statusBar().currentMessage() == f"loaded {path}: fitting 3 columns"


def test_speed_leaves_out_paused_time(qtbot, window) -> None:
    set_controls(window, k=3, tol="0", max_iter="40")
    ended = []
    window.run_control.fit_ended.connect(ended.append)
    window.run_control.reset()  # the start, paused
    qtbot.waitUntil(lambda: window.state.frame is not None, timeout=60_000)
    # "paused" once (the state), not twice: the speed label says there is no speed
    assert (window.state_label.text(), window.speed_label.text()) == ("paused", "– it/s")
    time.sleep(1.5)  # the user looks at the start for a while
    window.run_control.run()
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    frame = window.state.frame
    assert frame.snapshot.elapsed > 1.5 > frame.running_seconds  # the pause is not counted
    rate = frame.snapshot.iteration / frame.running_seconds
    assert window.speed_label.text() == f"{rate:.1f} it/s"


def test_window_shortcuts_win_over_a_focused_field(qtbot, window, tmp_path, monkeypatch) -> None:
    asked = []
    monkeypatch.setattr(window.files, "export_params_dialog", lambda: asked.append(1))
    action = next(a for a in window.findChildren(type(window.menus.run_action)) if a.text() == "&Export parameters…")
    action.triggered.disconnect()
    action.triggered.connect(window.files.export_params_dialog)
    window.activateWindow()
    field = window.controls.tol
    field.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is field, timeout=5_000)
    qtbot.keyClick(field, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(asked), timeout=5_000)
    assert field.text() == ""  # the field did not take the key


def test_help_lists_the_shortcuts(window) -> None:
    keys = dict(window.menus.shortcuts())
    assert keys["F5"] == "Run" and keys["Ctrl+E"] == "Export parameters" and keys["F1"] == "Keyboard shortcuts"


def test_help_lists_the_mouse_gestures_of_pins_and_the_start_by_hand(window) -> None:
    """A right click on a component pins it and a drag sets the start (the user guide's "Pinned parameters" and
    "Setting the start by hand"); the help said right click was only the plot's menu."""
    from gui.views.dialogs import show_shortcuts

    box = show_shortcuts(window, window.menus.shortcuts())
    text = box.text()
    box.close()
    assert "pin its mean, covariance or weight" in text and "edit start ticked" in text


def test_a_session_leaves_default_settings_empty_and_gradient_em_gives_the_covariance_back(window) -> None:
    c = window.controls
    cfg = engine.FitConfig(n_components=2, covariance_type="tied").resolved()  # as a session stores it
    c.apply_config(cfg)
    assert c.tol.text() == "" and c.max_iter.text() == ""  # the algorithm's defaults, not pinned values
    c.algorithm.setCurrentText("gradient-em")
    assert c.config().resolved().max_iter == 10_000 and c.covariance.currentText() == "full"
    c.algorithm.setCurrentText("em")
    assert c.covariance.currentText() == "tied"


def test_a_traceback_never_reaches_the_message_itself(window) -> None:
    window.messages.error("Boom", 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value')
    assert window.messages.last_error == "ValueError: bad value"
    box = window.messages.boxes[-1]
    assert box.text() == "ValueError: bad value" and "Traceback" in box.detailedText()
    box.close()


def test_the_open_dialog_starts_in_the_working_folder_or_the_last_one(window, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    window.settings.remove("last_folder")
    assert window.data.last_folder() == str(tmp_path)
    sub = tmp_path / "data"
    sub.mkdir()
    window.settings.setValue("last_folder", str(sub))
    assert window.data.last_folder() == str(sub)


def test_a_field_never_overrides_a_window_shortcut(window) -> None:
    # On X11, Qt's line edit claims Ctrl+E ("end of line") through a ShortcutOverride event, which the offscreen
    # platform does not send the same way: the window's filter must decline the override for its own shortcuts.
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent

    field = window.controls.tol

    def override(key) -> tuple[bool, bool]:
        event = QKeyEvent(QEvent.Type.ShortcutOverride, key, Qt.KeyboardModifier.ControlModifier)
        event.accept()  # what the line edit would do
        return window._shortcuts_first.eventFilter(field, event), event.isAccepted()

    assert override(Qt.Key.Key_E) == (True, False)  # Export parameters: the window's
    assert override(Qt.Key.Key_A)[0] is False  # select all: the field's own


def test_a_fit_beyond_memory_is_refused_in_the_window_with_the_largest_that_fits(window, monkeypatch) -> None:
    import engine.runtime.limits

    monkeypatch.setattr(engine.runtime.limits, "available_memory", lambda: 50 * 10**6)
    set_controls(window, restarts=5000)
    assert window.run_control.start_fit() is False
    assert (
        " restarts" in window.messages.last_error.split("use at most ")[1]
        and "need about" in window.messages.last_error
    )
    window.selection.restarts.setValue(1000)
    window.selection.k_to.setValue(9)
    window.messages.last_error = ""
    window.selection_control.run()
    assert "need about" in window.messages.last_error and not window.selection.running


def test_a_selection_with_more_components_than_points_is_refused_in_the_window(window, qtbot) -> None:
    points = np.array([[0.0, 0.0], [1.0, 0.5], [2.0, 2.0], [0.5, 3.0], [4.0, 1.0]])
    window.data.set_dataset(engine.Dataset(points, ("x", "y"), (0, 1), "five points"))
    qtbot.waitUntil(lambda: window.state.scene is not None and len(window.state.scene.points) == 5, timeout=5000)
    n = 5
    window.selection.k_to.setValue(n + 1)
    window.messages.last_error = ""
    window.selection_control.run()
    assert window.messages.last_error == (
        f"'K to' asks for up to {n + 1:,} components but the data has {n:,} points: set 'K to' at most {n:,}"
    )
    assert not window.selection.running


def test_screenshot_settings_are_checked_before_a_window_opens(tmp_path, capsys) -> None:
    from cli.main import main as cli

    for argv, message in (
        (["-k", "0"], "-k must be from 1 to 50, got 0"),
        (["--size", "100000x100000"], "each side must be from 200 to 8192 pixels"),
        (["--restarts", "0"], "--restarts must be from 1 to 10000"),
        (["--algorithm", "sgd"], "--algorithm 'sgd': choose one of"),
    ):
        assert cli(["screenshot", str(tmp_path / "s.png"), *argv]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()


def test_switching_tabs_never_squeezes_the_plot(qtbot, window) -> None:
    window.resize(640, 490)
    qtbot.wait(100)
    heights = []
    for i in [*range(window.tabs.count()), 0]:
        window.tabs.setCurrentIndex(i)
        qtbot.wait(50)
        heights.append(window.plot.height())
    assert len(set(heights)) == 1 and heights[0] >= 200, heights  # the plot keeps its share


def test_overlays_can_be_switched_off_and_on(qtbot, window) -> None:
    run_fit(qtbot, window, k=2)
    rings = window.plot.ellipses[0].getData()[0]
    full = len(rings)
    window.menus.sigma_actions[1.0].trigger()
    window.menus.sigma_actions[3.0].trigger()
    assert len(window.plot.ellipses[0].getData()[0]) == full // 3  # the 2-sigma ring alone
    window.menus.contours_action.trigger()
    assert _points(window.plot.contours) == 0
    window.menus.paths_action.trigger()
    assert not window.timeline.show_paths.isChecked() and len(window.plot.starts.data) == 0
    for action in (
        window.menus.sigma_actions[1.0],
        window.menus.sigma_actions[3.0],
        window.menus.contours_action,
        window.menus.paths_action,
    ):
        action.trigger()
    assert len(window.plot.ellipses[0].getData()[0]) == full and _points(window.plot.contours) > 0


def test_the_hover_box_opens_inwards_and_goes_when_the_mouse_leaves(qtbot, window) -> None:
    from PySide6.QtCore import QEvent

    plot = window.plot
    (x0, x1), (y0, y1) = plot.view_box.viewRange()
    pts = window.state.scene.points
    right = int(np.argmax(pts[:, 0]))
    plot._describe(right)
    assert plot.hover_text.isVisible() and plot.hover_text.anchor.x() == 1.0  # opens to the left of the point
    left = int(np.argmin(pts[:, 0]))
    plot._describe(left)
    assert plot.hover_text.anchor.x() == 0.0
    QApplication.sendEvent(plot, QEvent(QEvent.Type.Leave))
    assert not plot.hover_text.isVisible()


def test_the_window_fits_wider_data_one_d_data_and_d_dimensional_sessions(qtbot, window, tmp_path) -> None:
    """The window fits every column of a wider file (shown in two), a 1-D file (a histogram) and a 4-D session."""
    rng = np.random.default_rng(0)
    wide = tmp_path / "wide.csv"
    np.savetxt(wide, rng.normal(size=(50, 4)), delimiter=",", header="a,b,c,d", comments="")
    window.data.open_path(str(wide), ask_columns=False)
    qtbot.waitUntil(lambda: window.state.dataset.columns == ("a", "b", "c", "d"), timeout=30_000)
    assert window.state.scene.view.columns == (0, 1) and window.plot.plotItem.getAxis("bottom").labelText == "a"
    one = tmp_path / "one.csv"
    one.write_text("h\n" + "".join(f"{v!r}\n" for v in rng.normal(size=20).tolist()))
    window.data.open_path(str(one))
    qtbot.waitUntil(lambda: window.state.dataset.columns == ("h",), timeout=30_000)
    assert window.state.scene.one_d and window.plot.histogram.isVisible()
    assert not window.view_bar.isVisible()
    session = tmp_path / "s.gmmsession"
    assert cli.main.main(["fit", str(wide), "-k", "2", "--quiet", "--session", str(session)]) == 0
    window.sessions.open(str(session))
    qtbot.waitUntil(lambda: window.state.dataset.columns == ("a", "b", "c", "d"), timeout=30_000)
    qtbot.waitUntil(lambda: window.state.frame is not None and window.state.frame.snapshot.done, timeout=60_000)
    assert window.state.frame.snapshot.means.shape == (2, 4)
    assert window.messages.last_error in (None, "")
