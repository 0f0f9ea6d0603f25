"""Pinned parameters in the window (issue 25): a component's menu (a right-click on the plot or on its table row)
pins its mean, covariance or weight on the parameters on screen; the next fit is the command line's `--init
--fix` (the engine's constrained M-step) and keeps them bit for bit; a pinned mean's pin dragged moves its fixed
value; new data or another K drops the pins; a pin the engine refuses is its message; the export says "fixed".
The references are independent of the window: the start's own numbers, SciPy's densities of the fitted
parameters (the free mean is its responsibilities' average, the pinned one is not), the engine's refusal."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gui_helpers import FIT_TIMEOUT_MS, run_fit, set_controls, two_clusters
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from scipy.stats import multivariate_normal

import engine

# measured: the pinned fit's mean log-likelihood (about -3.26, 31 iterations) rose at every iteration, its smallest
# step +8e-11; a fall of more than rounding (1e-12 of it) would be a broken M-step
LL_ROUNDING = 1e-12
# measured: the last M-step's free weights, mean and covariance against SciPy's responsibilities of the iteration
# before: 2.2e-16 (weights), 8.9e-16 (mean), 6.9e-15 (covariance) relative (the fit works on standardised data)
M_STEP_RTOL = 1e-12


def _overlapping(n: int) -> np.ndarray:
    """Two overlapping clusters (n, 2): EM takes tens of iterations on them."""
    rng = np.random.default_rng(3)
    return np.concatenate([rng.normal([0.0, 0.0], 1.0, (n // 2, 2)), rng.normal([2.0, 1.0], 1.0, (n - n // 2, 2))])


def _fitted(qtbot, window, n: int = 200, **settings):
    """Two overlapping clusters on screen, fitted with K = 2 (max_iter 2 unless given: a start, not the answer)."""
    window.data.set_dataset(engine.Dataset(_overlapping(n), ("x", "y"), (0, 1), "two clusters"))
    qtbot.waitUntil(lambda: window.state.scene is not None and len(window.state.scene.points) == n, timeout=30_000)
    settings = {"k": 2, "max_iter": "2", **settings}
    assert run_fit(qtbot, window, **settings) in ("max_iter", "converged")
    return window.state.frame.snapshot


def _action(menu, text: str):
    return next(a for a in menu.actions() if a.text() == text)


def _start_shown(qtbot, window) -> None:
    """The reset a pin makes: its iteration 0 on screen."""
    qtbot.waitUntil(lambda: window.state.frame is not None and window.state.frame.snapshot.iteration == 0)


def _click_point(plot, xy) -> object:
    """The plot's widget position of data point xy (2-D, identity display)."""
    scene_pos = plot.view_box.mapViewToScene(QPointF(*plot.display.to_display(np.asarray(xy))))
    return plot.mapFromScene(scene_pos)


def test_a_right_click_on_a_mean_or_a_table_row_opens_its_pins_menu_and_pins_that_part(qtbot, window) -> None:
    snap = _fitted(qtbot, window)
    plot, pins = window.plot, window.pins
    window.timeline.edit_start.setChecked(True)  # the table editable: a pin's icon is no typed start
    QTest.mouseClick(plot.viewport(), Qt.MouseButton.RightButton, pos=_click_point(plot, snap.means[1]))
    qtbot.waitUntil(lambda: pins.menu is not None and pins.menu.isVisible())
    assert pins.menu.actions()[0].text() == "component 1"
    assert [a.text() for a in pins.menu.actions()[1:4]] == ["Pin mean", "Pin covariance", "Pin weight"]
    assert not any(a.isChecked() for a in pins.menu.actions())
    _action(pins.menu, "Pin mean").trigger()
    pins.menu.close()
    assert window.controls.fixed == engine.FixedParams(means=(1,))
    np.testing.assert_array_equal(window.controls.init_params.means, snap.means)  # the start: what was on screen
    _start_shown(qtbot, window)
    assert window.statusBar().currentMessage() == "pinned: the mean of component 1. Run (F5) or Step (F6) from here"
    init = window.controls.init
    assert init.itemData(init.currentIndex()) == "the shown parameters, pinned"
    assert set(pins.marks.items) == {1}
    mark = pins.marks.items[1].pos()
    assert (mark.x(), mark.y()) == tuple(plot.display.to_display(snap.means[1]))
    icons = [[not window.table.item(r, c).icon().isNull() for c in range(7)] for r in range(2)]
    assert icons == [[False] * 7, [True, False, True, True, False, False, False]]
    # inside component 0's ellipses, far from its mean: component 0; far from both: the plot's own menu
    assert pins.component_at(plot.display.to_display(snap.means[0] + np.sqrt(np.diag(snap.covariances[0])))) == 0
    assert pins.component_at(plot.display.to_display(snap.means[0] + 50.0)) is None
    # the table row's menu: the same items, checked where pinned; Pin weight of K = 2 pins both (they sum to 1)
    row = window.table.visualItemRect(window.table.item(0, 1)).center()
    window.table.customContextMenuRequested.emit(row)
    assert pins.menu.actions()[0].text() == "component 0" and not _action(pins.menu, "Pin mean").isChecked()
    _action(pins.menu, "Pin weight").trigger()
    assert window.pins.pinned() == {0: ["weights"], 1: ["means", "weights"]}
    assert window.controls.config().resolved().fixed == engine.FixedParams(weights=(0, 1), means=(1,))
    assert pins.pin(1, "weights", False)  # the weight pinned by the others' stays: another must be freed
    assert pins.pinned() == {0: ["weights"], 1: ["means", "weights"]}
    assert (
        window.statusBar()
        .currentMessage()
        .endswith("sum to 1; unpin another weight to free it). Run (F5) or Step (F6) from here")
    )
    assert pins.pin(0, "weights", False) and pins.pinned() == {1: ["means"]}


def test_a_fit_keeps_the_pinned_values_bit_for_bit_and_its_log_likelihood_never_falls(qtbot, window) -> None:
    _fitted(qtbot, window, max_iter="1")
    assert window.pins.pin(0, "means", True) and window.pins.pin(1, "covariances", True)
    start = window.controls.init_params
    _start_shown(qtbot, window)
    set_controls(window, tol="1e-10", max_iter="500")
    assert run_fit(qtbot, window) == "converged"
    frame = window.state.frame
    snap = frame.snapshot
    assert snap.config.fixed == engine.FixedParams(means=(0,), covariances=(1,))
    assert snap.means[0].tobytes() == np.asarray(start.means[0]).tobytes()
    assert snap.covariances[1].tobytes() == np.asarray(start.covariances[1]).tobytes()
    for entry in frame.entries:  # every kept iteration, not only the last
        assert entry.means[0].tobytes() == np.asarray(start.means[0]).tobytes()
    ll = frame.history[:, 1]
    assert len(ll) > 5 and np.all(np.diff(ll) >= -LL_ROUNDING * abs(ll[-1]))
    # the last iteration is one M-step from the one before: under SciPy's densities of its parameters, the free
    # weights and mean are their responsibilities' shares and average, the free covariance is fitted about the
    # pinned mean (plus the fit's reg_covar floor); the pinned ones stay
    before, last = frame.entries[-2], frame.entries[-1]
    assert last.iteration == before.iteration + 1
    x = window.state.scene.points
    params = zip(before.weights, before.means, before.covariances, strict=True)
    dens = np.column_stack([w * multivariate_normal(m, c).pdf(x) for w, m, c in params])
    r = dens / dens.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(last.weights, r.mean(axis=0), rtol=M_STEP_RTOL)
    np.testing.assert_allclose(last.means[1], r[:, 1] @ x / r[:, 1].sum(), rtol=M_STEP_RTOL)
    centred = x - start.means[0]
    scatter = (r[:, 0, None] * centred).T @ centred / r[:, 0].sum() + np.diag(snap.reg_floor)
    np.testing.assert_allclose(last.covariances[0], scatter, rtol=M_STEP_RTOL)
    # the table shows the pinned values (its cells, as it writes them) with their pins
    assert float(window.table.item(0, 2).text()) == pytest.approx(start.means[0][0], rel=1e-5)
    assert not window.table.item(0, 2).icon().isNull() and not window.table.item(1, 4).icon().isNull()


def test_dragging_a_pinned_mean_moves_its_fixed_value_to_the_drop_point(qtbot, window) -> None:
    snap = _fitted(qtbot, window)
    assert window.pins.pin(1, "means", True)
    _start_shown(qtbot, window)
    mark = window.pins.marks.items[1]
    target = snap.means[1] + np.array([1.5, -1.0])
    mark.setPos(*window.plot.display.to_display(target))  # as the drag moves it
    ring = np.column_stack(window.plot.ellipses[1].getData())
    ring = ring[np.isfinite(ring).all(axis=1)] - target
    # while dragged, component 1's rings are about the pin: each point 1, 2 or 3 of its sigmas from it
    sigmas = np.sqrt(np.einsum("ni,ij,nj->n", ring, np.linalg.inv(snap.covariances[1]), ring))
    np.testing.assert_allclose(sigmas, np.round(sigmas), atol=1e-9)
    assert set(np.round(sigmas)) == {1.0, 2.0, 3.0}
    mark.sigPositionChangeFinished.emit(mark)  # dropped
    dropped = np.asarray(window.controls.init_params.means)
    np.testing.assert_allclose(dropped[1], target, rtol=1e-15)
    assert dropped[0].tobytes() == snap.means[0].tobytes()  # the other component as it was
    assert window.controls.fixed == engine.FixedParams(means=(1,))
    _start_shown(qtbot, window)
    set_controls(window, max_iter="50")
    run_fit(qtbot, window)
    assert window.state.frame.snapshot.means[1].tobytes() == dropped[1].tobytes()  # the next fit keeps it there


def test_new_data_another_k_or_model_drops_the_pins(qtbot, window) -> None:
    """... and gives back the restarts the pins set to 1 (a new user saw 1 restart left after new data)."""
    _fitted(qtbot, window, restarts=3)
    assert window.pins.pin(0, "weights", True)
    assert window.controls.config().fixed is not None and window.controls.restarts.value() == 1
    window.controls.k.setValue(3)
    assert window.controls.fixed is None and window.pins.marks.items == {}
    assert window.controls.restarts.value() == 3
    window.controls.k.setValue(2)
    assert window.pins.pin(0, "means", True) and window.controls.restarts.value() == 1
    window.data.set_dataset(engine.Dataset(two_clusters(4, 100), ("x", "y"), (0, 1), "other data"))
    qtbot.waitUntil(lambda: len(window.state.scene.points) == 100, timeout=30_000)
    assert window.controls.fixed is None and window.pins.marks.items == {}
    assert window.controls.restarts.value() == 3
    assert window.controls.config().fixed is None
    assert all(window.table.item(r, 0) is None for r in range(window.table.rowCount()))  # no row left with a pin


def test_a_pin_the_engine_refuses_is_its_message_and_changes_nothing(qtbot, window) -> None:
    _fitted(qtbot, window, covariance="tied")
    job = window.state.job
    assert not window.pins.pin(0, "covariances", True)
    assert window.messages.last_error == (
        "--fix covariances: EEE covariances share a part (a volume, shape or orientation), so pin every "
        "component's or none; only VII, VVI, VVV pin some"
    )
    assert window.controls.fixed is None and window.state.job is job  # no fit started, no pin made
    assert window.pins.pin_every_covariance()
    assert window.controls.fixed == engine.FixedParams(covariances=(0, 1))


def test_the_export_and_the_session_keep_what_was_pinned(qtbot, window, tmp_path) -> None:
    _fitted(qtbot, window)
    assert window.pins.pin(1, "means", True) and window.pins.pin(0, "covariances", True)
    _start_shown(qtbot, window)
    run_fit(qtbot, window)
    window.files.export_params(str(tmp_path / "p.json"))
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["fixed"] == {"means": [1], "covariances": [0]}
    assert window.sessions.save(str(tmp_path / "s.gmmsession")), window.messages.last_error
    window.controls.k.setValue(3)  # the pins go
    window.sessions.open(str(tmp_path / "s.gmmsession"))
    qtbot.waitUntil(lambda: window.controls.fixed is not None, timeout=30_000)
    assert window.controls.fixed == engine.FixedParams(means=(1,), covariances=(0,))
    qtbot.waitUntil(lambda: window.pins.marks.items.keys() == {0, 1}, timeout=30_000)


def test_a_pinned_mean_dragged_in_a_view_of_3_d_data_keeps_its_unseen_coordinate(qtbot, window) -> None:
    rng = np.random.default_rng(5)
    points = np.column_stack([_overlapping(150), rng.normal(10.0, 2.0, 150)])
    window.data.set_dataset(engine.Dataset(points, ("a", "b", "c"), (0, 1, 2), "3-D"))
    qtbot.waitUntil(lambda: window.state.scene is not None and window.state.scene.n_features == 3, timeout=30_000)
    run_fit(qtbot, window, k=2, max_iter="2")
    snap = window.state.frame.snapshot
    assert window.pins.pin(0, "means", True)
    _start_shown(qtbot, window)
    assert not window.table.item(0, 2).icon().isNull() and window.table.item(0, 3).icon().isNull()  # mean, variances
    mark = window.pins.marks.items[0]
    target = snap.means[0, :2] + np.array([-1.0, 0.5])  # the view: columns a and b
    mark.setPos(*window.plot.display.to_display(target))
    mark.sigPositionChangeFinished.emit(mark)
    dropped = np.asarray(window.controls.init_params.means)[0]
    np.testing.assert_allclose(dropped[:2], target, rtol=1e-15)
    assert dropped[2] == snap.means[0, 2]  # column c, not in the view, exactly as it was


def test_compare_refuses_pins_and_model_selection_fits_without_them(qtbot, window, monkeypatch) -> None:
    _fitted(qtbot, window)
    assert window.pins.pin(0, "means", True)
    window.compare_control.run()
    assert window.messages.last_error.startswith("parameters are pinned: only exact EM keeps pins")
    started = []
    monkeypatch.setattr(window.selection, "start", lambda points, config, weights=None: started.append(config))
    window.selection_control.run()
    assert len(started) == 1 and started[0].fixed is None  # the grid starts from its own starts: no pins
    assert window.controls.fixed == engine.FixedParams(means=(0,))  # still pinned for Run


def test_the_uncertainty_of_a_pinned_fit_keeps_the_pinned_mean(qtbot, window) -> None:
    """The bootstrap holds a pinned mean in every replicate: its cloud is one point, its standard errors nil."""
    _fitted(qtbot, window)
    assert window.pins.pin(0, "means", True)
    run_fit(qtbot, window)
    assert window.uncertainty.start(20, "nonparametric")
    qtbot.waitUntil(lambda: window.uncertainty.result is not None, timeout=FIT_TIMEOUT_MS)
    boot, snap = window.uncertainty.result.boot, window.uncertainty.result.snapshot
    assert np.array_equal(boot.means[:, 0], np.broadcast_to(snap.means[0], boot.means[:, 0].shape))
    se = boot.standard_errors()["means"]
    assert se[0].max() <= 1e-12 * np.abs(snap.means[0]).max() and se[1].min() > 0


def test_unpinning_the_last_pin_gives_back_the_start_a_run_without_pins_would_take(qtbot, window, tmp_path) -> None:
    """Unpin all: the panel's initialisation and restarts again (the next Run is the fit before the pins, bit for
    bit), not the pinned fit's parameters; a start the user imported before pinning stays."""
    before = _fitted(qtbot, window, restarts=3)
    assert window.pins.pin(0, "means", True) and window.controls.restarts.value() == 1
    _start_shown(qtbot, window)
    window.pins.build_menu(0).actions()[-1].trigger()  # "Unpin all of component 0"
    assert window.controls.fixed is None and window.controls.init_params is None
    assert window.controls.init.currentIndex() == 0 and window.controls.restarts.value() == 3
    assert window.statusBar().currentMessage() == (
        "nothing is pinned: Run (F5) starts from the panel's initialisation (default (kmeans++)), 3 restarts"
    )
    run_fit(qtbot, window)
    again = window.state.frame.snapshot
    assert again.config.init_params is None and again.config.restarts == 3
    np.testing.assert_array_equal(again.means, before.means)  # the fit a Run without pins made
    # a start imported from a file before the pins: that start stays
    path = tmp_path / "start.json"
    window.files.export_params(str(path))
    assert window.files.import_params(str(path))
    assert run_fit(qtbot, window) in ("max_iter", "converged")
    assert window.pins.pin(1, "covariances", True)
    _start_shown(qtbot, window)
    assert window.pins.pin(1, "covariances", False)
    start = window.controls.init_params
    np.testing.assert_array_equal(start.means, engine.read_params(path).means)
    assert window.controls.config().init_params is start and window.controls.fixed is None
    assert (
        window.statusBar().currentMessage()
        == f"nothing is pinned: Run (F5) starts from the imported start ({path}), 3 restarts"
    )
