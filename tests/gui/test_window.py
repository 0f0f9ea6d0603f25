"""The live window, driven as a user would (offscreen): demo data, a fit to convergence, Step, Stop,
closing during a run, errors without a blocking dialog, data drawn by hand, settings kept."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import run_fit, set_controls, two_clusters

import engine
from gui.controllers.data_control import DEMO_N


def test_opens_on_the_demo_data(window) -> None:
    p = engine.FORUM_PRESET
    expected, _ = engine.sample_mixture(p["weights"], p["means"], p["covariances"], DEMO_N, seed=0)
    assert window.state.scene is not None
    np.testing.assert_array_equal(window.state.scene.points, expected)
    assert window.controls.run_button.isEnabled()
    assert not window.controls.stop_button.isEnabled()
    assert window.windowTitle() == "GMM Studio"


def test_fit_to_convergence_draws_the_snapshot(qtbot, window) -> None:
    status = run_fit(qtbot, window, k=3)
    assert status == "converged"
    snap = window.state.frame.snapshot
    reference = engine.run_to_end(window.state.scene.points, window.controls.config())
    np.testing.assert_allclose(snap.means, reference.means, rtol=0, atol=1e-12)
    # the plot's items hold the snapshot: the means marker, each ellipse (centred on its mean), the table
    np.testing.assert_allclose(np.column_stack(window.plot.means.getData()), snap.means, rtol=0, atol=1e-12)
    for k, item in enumerate(window.plot.ellipses[:3]):
        x, y = item.getData()
        ring = np.column_stack([x, y])[: np.flatnonzero(np.isnan(x))[0]]  # the 1-sigma ring
        np.testing.assert_allclose(ring[:-1].mean(axis=0), snap.means[k], atol=1e-9)
    for k in range(3):
        assert float(window.table.item(k, 2).text()) == pytest.approx(snap.means[k, 0], rel=1e-4)
    # each point is coloured by its most likely component
    resp = engine.responsibilities(window.state.scene.shown_points, snap.weights, snap.means, snap.covariances)
    np.testing.assert_array_equal(window.state.frame.labels, resp.argmax(axis=1))
    assert window.state_label.text() == "converged"
    assert window.iter_label.text() == f"iteration {snap.iteration}"
    hist = window.ll_curve.getData()
    assert hist[0][-1] == snap.iteration and hist[1][-1] == pytest.approx(snap.mean_log_likelihood)


def test_step_advances_one_iteration_at_a_time(qtbot, window) -> None:
    window.run_control.step()
    qtbot.waitUntil(
        lambda: window.state.frame is not None and window.state.frame.snapshot.iteration == 1, timeout=60_000
    )
    window.run_control.step()
    qtbot.waitUntil(lambda: window.state.frame.snapshot.iteration == 2, timeout=60_000)
    qtbot.waitUntil(lambda: window.state.job.gate.blocked, timeout=60_000)  # the fit waits at the gate
    assert window.state.frame.snapshot.iteration == 2  # paused: nothing more happens
    assert window.state_label.text() == "paused"
    window.run_control.run()  # Run resumes the paused fit
    qtbot.waitUntil(lambda: not window.state.job_active, timeout=60_000)
    assert window.state.frame.snapshot.status == "converged"


def test_reset_shows_the_initialisation(qtbot, window) -> None:
    window.run_control.reset()
    qtbot.waitUntil(lambda: window.state.frame is not None, timeout=60_000)
    assert window.state.frame.snapshot.iteration == 0
    assert window.state.job_active and window.state.job.gate.paused
    window.run_control.stop()
    qtbot.waitUntil(lambda: not window.state.job_active, timeout=60_000)


def test_stop_during_a_run(qtbot, window) -> None:
    set_controls(window, algorithm="gradient-em", max_iter="100000")
    ended: list[str] = []
    window.run_control.fit_ended.connect(ended.append)
    window.run_control.run()
    qtbot.waitUntil(
        lambda: window.state.frame is not None and window.state.frame.snapshot.iteration > 5, timeout=60_000
    )
    window.run_control.stop()
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    assert ended == ["cancelled"]
    assert window.state.frame.snapshot.status == "cancelled"
    assert window.state.frame.snapshot.iteration < 100_000
    assert not window.controls.stop_button.isEnabled()
    assert window.controls.run_button.isEnabled()


def test_changing_a_setting_stops_the_run(qtbot, window) -> None:
    set_controls(window, algorithm="gradient-em", max_iter="100000")
    window.run_control.run()
    qtbot.waitUntil(lambda: window.state.frame is not None, timeout=60_000)
    window.controls.k.setValue(4)
    qtbot.waitUntil(lambda: not window.state.job_active, timeout=60_000)
    assert window.state.frame.snapshot.status == "cancelled"


def test_closing_during_a_run_ends_the_thread(qtbot, window) -> None:
    set_controls(window, algorithm="gradient-em", max_iter="100000")
    window.run_control.run()
    qtbot.waitUntil(lambda: window.state.frame is not None, timeout=60_000)
    pool = window.run_control.fits.pool
    assert pool.activeThreadCount() == 1
    window.close()
    assert pool.activeThreadCount() == 0  # the fit has ended its iteration and its thread is idle
    assert window.state.job.gate.token.cancelled


def test_a_bad_file_shows_the_error_and_the_window_keeps_working(qtbot, window, tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,oops\n")
    before = window.state.scene
    window.data.open_path(str(bad))
    qtbot.waitUntil(lambda: bool(window.messages.last_error), timeout=30_000)
    assert (
        "bad.csv" in window.messages.last_error
        and "line 3" in window.messages.last_error
        and "'oops'" in window.messages.last_error
    )
    box = window.messages.boxes[-1]
    assert box.isVisible() and not box.isModal()
    assert window.state.scene is before  # nothing lost
    good = tmp_path / "good.csv"
    np.savetxt(good, two_clusters(1, 300), delimiter=",", header="a,b", comments="")
    window.data.open_path(str(good))
    qtbot.waitUntil(lambda: window.state.scene is not before, timeout=30_000)
    assert len(window.state.scene.points) == 300
    assert window.data.recent_files()[0].endswith("good.csv")


def test_an_engine_error_shows_a_dialog(qtbot, window) -> None:
    window.data.clear_points()
    window.data.add_points(np.array([[0.0, 0.0], [1.0, 1.0]]))
    set_controls(window, k=3)
    ended: list[str] = []
    window.run_control.fit_ended.connect(ended.append)
    window.run_control.run()
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    assert window.state_label.text() == "failed"
    assert window.messages.last_error == "2 points cannot fit 3 components: use at most 2 components or more data"
    assert window.messages.boxes[-1].isVisible()
    set_controls(window, k=2)
    assert run_fit(qtbot, window) in ("converged", "max_iter")


def test_a_file_with_more_columns_asks_which_to_fit_and_which_two_to_show(qtbot, window, tmp_path) -> None:
    path = tmp_path / "three.csv"
    x = two_clusters(2, 150)
    np.savetxt(path, np.column_stack([x, x[:, 0] * 10]), delimiter=",", header="a,b,c", comments="")
    window.data.open_path(str(path))
    qtbot.waitUntil(
        lambda: window.data.column_picker is not None and window.data.column_picker.isVisible(), timeout=30_000
    )
    picker = window.data.column_picker
    assert picker.columns() == (0, 1, 2) and picker.shown() == (0, 1)  # default: every numeric column
    picker.y.setCurrentIndex(2)
    picker.accept()
    qtbot.waitUntil(
        lambda: window.state.scene is not None and window.state.scene.view.columns == (0, 2), timeout=30_000
    )
    assert window.state.dataset.columns == ("a", "b", "c")
    np.testing.assert_array_equal(window.state.scene.shown_points[:, 1], x[:, 0] * 10)  # c is shown up
    # fitting fewer columns: a and c only, shown as they are
    window.data.open_path(str(path))
    qtbot.waitUntil(lambda: window.data.column_picker.isVisible(), timeout=30_000)
    picker = window.data.column_picker
    picker.set_columns((0, 2), (2, 0))
    assert picker.buttons.button(picker.buttons.StandardButton.Ok).isEnabled()
    picker.accept()
    qtbot.waitUntil(lambda: window.state.dataset.columns == ("a", "c"), timeout=30_000)
    assert window.state.scene.view.columns == (1, 0)
    # a shown column that is not fitted is refused in the dialog
    window.data.open_path(str(path))
    qtbot.waitUntil(lambda: window.data.column_picker.isVisible(), timeout=30_000)
    picker = window.data.column_picker
    picker.set_columns((0, 1), (0, 2))
    assert picker.message.text() == "the two shown columns must be among the fitted ones"
    assert not picker.buttons.button(picker.buttons.StandardButton.Ok).isEnabled()
    picker.reject()


def test_drawing_points_by_hand(qtbot, window) -> None:
    window.data.clear_points()
    assert len(window.state.scene.points) == 0 and window.controls.draw_button.isChecked()
    vb = window.plot.view_box
    center = vb.mapViewToScene(vb.viewRect().center())
    target = window.plot.mapFromScene(center)
    from PySide6.QtCore import Qt

    qtbot.mouseClick(window.plot.viewport(), Qt.MouseButton.LeftButton, pos=target)
    qtbot.waitUntil(lambda: len(window.state.scene.points) == 1, timeout=5_000)
    expected = vb.viewRect().center()
    assert window.state.scene.points[0] == pytest.approx([expected.x(), expected.y()], rel=0.05, abs=0.05)


def test_hover_describes_the_point(qtbot, window) -> None:
    run_fit(qtbot, window, k=3)
    snap = window.state.frame.snapshot
    index = 17
    x, y = window.state.scene.points[index]
    assert window.plot.nearest_point(x, y) == index
    text = window.plot.describe_point(index)
    resp = engine.responsibilities(
        window.state.scene.points[index : index + 1], snap.weights, snap.means, snap.covariances
    )[0]
    for k in range(3):
        assert f"component {k}: {resp[k]:.4f}" in text


def test_settings_and_geometry_are_kept(qtbot, make_window) -> None:
    first = make_window()
    set_controls(first, k=5, algorithm="marginal", tol="1e-5")
    first.resize(640, 520)  # inside the offscreen screen (800x800), which restoreGeometry clamps to
    first.close()
    second = make_window()
    assert second.controls.k.value() == 5
    assert second.controls.algorithm.currentText() == "marginal"
    assert second.controls.tol.text() == "1e-5"
    assert (second.width(), second.height()) == (640, 520)


def test_invalid_setting_is_named(qtbot, window) -> None:
    set_controls(window, tol="fast")
    assert not window.run_control.start_fit()
    assert "Tolerance" in window.messages.last_error and "'fast'" in window.messages.last_error


def test_dropping_a_file_opens_it(qtbot, window, tmp_path) -> None:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    path = tmp_path / "dropped.csv"
    np.savetxt(path, two_clusters(4, 120), delimiter=",", header="a,b", comments="")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.state.dataset.source.endswith("dropped.csv"), timeout=30_000)
    assert len(window.state.scene.points) == 120 and event.isAccepted()
