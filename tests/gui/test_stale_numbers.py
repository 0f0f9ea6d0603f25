"""Stale numbers (issue 22, item 6): what the window shows after a start set by hand, a Stop while paused, a fit
loaded from model selection and Continue from here is the shown fit's own, driven as a user would (offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import FIT_TIMEOUT_MS, choose_selection, run_fit, set_controls, two_clusters
from PySide6.QtCore import QPointF, Qt

import engine

POINTS, MIN_EIG, COND, STATE = 7, 8, 9, 10  # the parameter table's health columns (2-D data)


def _drag(qtbot, window, handle, to: QPointF) -> None:
    """Press on a handle of the plot, move the mouse to `to` (data units), release."""
    vb = window.plot.view_box
    start = window.plot.mapFromScene(vb.mapViewToScene(handle.pos()))
    end = window.plot.mapFromScene(vb.mapViewToScene(to))
    viewport = window.plot.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for i in range(1, 11):
        qtbot.mouseMove(viewport, start + (end - start) * i / 10)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)


def test_a_dragged_start_shows_its_own_health(qtbot, window) -> None:
    """(a) A mean dragged away from every point: its row counts the points that start gives it (none), not the
    finished fit's share of them."""
    run_fit(qtbot, window, k=3)
    fitted = window.state.frame.snapshot
    assert float(window.table.item(0, POINTS).text()) == pytest.approx(fitted.weights[0] * fitted.n_samples, rel=1e-3)
    window.timeline.edit_start.setChecked(True)
    (x0, x1), (y0, y1) = window.plot.view_box.viewRange()
    corner = QPointF(x0 + 0.03 * (x1 - x0), y1 - 0.03 * (y1 - y0))  # the plot's top left corner: no data there
    _drag(qtbot, window, window.plot.handles[0], corner)
    qtbot.waitUntil(
        lambda: (
            window.state.job is not None
            and window.state.job.config.init_params is not None
            and window.state.frame.snapshot.iteration == 0
        ),
        timeout=30_000,
    )
    start = window.state.frame.snapshot
    assert start.means[0] == pytest.approx([corner.x(), corner.y()], abs=0.1 * (x1 - x0))
    resp = engine.responsibilities(window.state.scene.points, start.weights, start.means, start.covariances)
    owned = resp.sum(axis=0)
    assert owned[0] < 1.0 < fitted.weights[0] * fitted.n_samples  # the dragged mean owns no point
    for k in range(3):  # every row: the points this start gives it, its covariance's own eigenvalues
        assert float(window.table.item(k, POINTS).text()) == pytest.approx(owned[k], abs=0.05), k
        eig = np.linalg.eigvalsh(start.covariances[k])
        assert float(window.table.item(k, MIN_EIG).text()) == pytest.approx(eig[0], rel=1e-2)
        assert float(window.table.item(k, COND).text()) == pytest.approx(eig[-1] / eig[0], rel=1e-2)
    assert window.table.item(0, STATE).text() == "few points"
    window.run_control.stop()
    qtbot.waitUntil(lambda: not window.state.job_active, timeout=FIT_TIMEOUT_MS)
    # another view of the same start (the frame drawn again), then the start replayed: still its own counts
    window.view_bar.kind.setCurrentIndex(1)  # principal axes
    window.views.choose()
    qtbot.waitUntil(
        lambda: window.state.scene.view is not None and window.state.scene.view.kind == "pca", timeout=30_000
    )
    qtbot.waitUntil(lambda: window.state.frame.snapshot.iteration == 0, timeout=30_000)
    assert float(window.table.item(0, POINTS).text()) == pytest.approx(owned[0], abs=0.05)
    before = window.state.frame
    window.replay.show_entry(window.state.latest.entries[0])
    qtbot.waitUntil(lambda: window.state.frame is not before, timeout=30_000)
    assert window.state.frame.snapshot.iteration == 0
    assert float(window.table.item(0, POINTS).text()) == pytest.approx(owned[0], abs=0.05)


def test_stop_while_paused_computes_no_other_iteration(qtbot, window) -> None:
    """(b) Step twice, then Stop: the fit ends cancelled at iteration 2, where it was paused."""
    set_controls(window, k=3, tol="1e-12", max_iter="500")
    ended: list[str] = []
    window.run_control.fit_ended.connect(ended.append)
    window.controls.step_button.click()
    qtbot.waitUntil(
        lambda: window.state.frame is not None and window.state.frame.snapshot.iteration == 1, timeout=60_000
    )
    window.controls.step_button.click()
    qtbot.waitUntil(lambda: window.state.frame.snapshot.iteration == 2, timeout=60_000)
    qtbot.waitUntil(lambda: window.state.job.gate.blocked, timeout=60_000)  # paused at the gate
    ran = window.state.frame.running_seconds
    qtbot.wait(200)  # paused time: not running time
    window.controls.stop_button.click()
    qtbot.waitUntil(lambda: bool(ended), timeout=FIT_TIMEOUT_MS)
    assert ended == ["cancelled"]
    snap = window.state.frame.snapshot
    assert (snap.iteration, snap.status) == (2, "cancelled")
    assert window.state.frame.running_seconds == pytest.approx(ran, abs=1e-6)  # it ran no more than before Stop
    assert window.state_label.text() == "cancelled"
    assert window.iter_label.text() == "iteration 2"
    assert window.state.latest.entries[-1].iteration == 2
    x, _ = window.ll_curve.getData()
    assert x[-1] == 2


def test_a_fit_loaded_from_model_selection_shows_its_own_settings_and_iterations(qtbot, window) -> None:
    """(c) The Model selection tab fits K = 1..4 with 5 restarts as one batch; a fit clicked there is shown with
    the selection's restarts in the panel, and its own iteration count (its curve's end) everywhere, not the
    batch's; the timeline does not claim to replay it."""
    view = choose_selection(window, 1, 4, ("full",))
    assert view.restarts.value() == 5 and window.controls.restarts.value() == 1
    view.run_button.click()
    qtbot.waitUntil(lambda: not view.running and len(view.entries) == 4, timeout=FIT_TIMEOUT_MS)
    # a fit that stopped before the batch did: its own count differs from the batch's
    entry = next(e for e in view.entries if e.snapshot.restart_iterations < e.snapshot.iteration)
    own = entry.snapshot.restart_iterations
    curve = view.curves["full"]
    points = [p for p in curve.scatter.points() if p.data() is entry]
    assert points
    view.chart.plotItem.vb.autoRange()
    qtbot.wait(50)
    _click_chart(qtbot, view.chart, points[0].pos())
    qtbot.waitUntil(
        lambda: window.state.frame is not None and window.state.frame.snapshot is entry.snapshot, timeout=30_000
    )
    c = window.controls
    assert (c.k.value(), c.covariance.currentText(), c.restarts.value()) == (entry.k, "full", 5)
    x, _ = window.ll_curve.getData()
    assert x[-1] == own  # the curve is the fit's own run
    assert window.iter_label.text() == f"iteration {own}"
    assert window.ll_marker.value() == own
    assert window.timeline.label.text() == f"live: iteration {own}"  # nothing to replay: no "replay" claimed
    assert not window.timeline.live_button.isEnabled()
    assert window.timeline.at_end
    assert window.run_control.checked_config().restarts == 5  # Run fits what is shown


def _click_chart(qtbot, chart, pos) -> None:
    """A left click on a chart at a point given in its data units."""
    scene_pos = chart.getPlotItem().vb.mapViewToScene(pos)
    qtbot.mouseClick(chart.viewport(), Qt.MouseButton.LeftButton, pos=chart.mapFromScene(scene_pos))


def test_continue_from_here_keeps_the_chosen_initialisation_for_new_data(qtbot, window) -> None:
    """(d) The initialisation chosen in the panel comes back when the continued start is dropped (new data)."""
    set_controls(window, k=3, init="forum")
    run_fit(qtbot, window)
    window.timeline.continue_button.click()
    qtbot.waitUntil(
        lambda: window.state.job is not None and window.state.job.config.init_params is not None, timeout=30_000
    )
    assert window.controls.init.currentText() == "imported parameters"
    window.save_settings()  # parameters are not kept between sessions: the chosen initialisation is
    assert window.settings.value("model/init") == "forum"
    window.run_control.stop()
    qtbot.waitUntil(lambda: not window.state.job_active, timeout=FIT_TIMEOUT_MS)
    window.data.set_dataset(engine.Dataset(two_clusters(3, 400), ("x", "y"), (0, 1), "two clusters"))
    qtbot.waitUntil(
        lambda: window.state.dataset.source == "two clusters" and window.state.scene is not None, timeout=30_000
    )
    assert window.controls.init.currentText() == "forum"
    assert window.controls.config().init == "forum"
    assert "(forum)" in window.statusBar().currentMessage()


def test_the_table_never_keeps_another_fits_health(qtbot) -> None:
    """A row whose health is not known shows empty health cells, not the numbers of the fit shown before."""
    from gui.scene.frames import ComponentState
    from gui.views.param_table import ParamTable

    table = ParamTable()
    qtbot.addWidget(table)
    w, m, c = np.array([0.5, 0.5]), np.array([[0.0, 0.0], [3.0, 3.0]]), np.stack([np.eye(2)] * 2)
    table.set_params(w, m, c, (ComponentState(0.5, 50.0, 1.0, 1.0, "ok"),) * 2)
    assert table.item(1, POINTS).text() == "50.0"
    table.set_params(w, m + 1, c, ())
    assert [table.item(1, col).text() for col in (POINTS, MIN_EIG, COND, STATE)] == ["", "", "", ""]
