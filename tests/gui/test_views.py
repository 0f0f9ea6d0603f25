"""The window's views of D-dimensional data: exact projections, the pairs matrix, 1-D histograms, hand-set starts
in a view's plane, and views switched while a fit runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from gui_helpers import FIT_TIMEOUT_MS, run_fit, set_controls
from scipy.stats import multivariate_normal, norm

import engine
from engine.model.projection import columns_view, pca_view
from gui.scene import frames


def _four_d(seed: int = 0, n: int = 600) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0, 0], [5, 1, -3, 2], [1, 6, 2, -2]], dtype=float)
    return centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 4)) @ np.diag([1.0, 0.6, 1.3, 0.8])


def _fit(x: np.ndarray, k: int = 3):
    return engine.run_to_end(x, engine.FitConfig(n_components=k, max_iter=30))


def test_the_marginal_view_draws_what_a_2d_mixture_of_the_sub_means_and_covariances_draws() -> None:
    """Columns (1, 3) of a 4-D fit: the same contours, levels and ellipses as the 2-D mixture built from the
    sub-means and sub-covariances on the data's columns 1 and 3."""
    x = _four_d()
    snap = _fit(x)
    four = frames.build_frame(frames.build_scene(x, columns_view(4, 1, 3)), snap, np.empty((0, 2)))
    i = [1, 3]
    sub = replace(snap, means=snap.means[:, i], covariances=snap.covariances[:, i][:, :, i])
    two = frames.build_frame(frames.build_scene(np.ascontiguousarray(x[:, i])), sub, np.empty((0, 2)))
    np.testing.assert_array_equal(four.levels, two.levels)
    np.testing.assert_array_equal(four.contours, two.contours)
    for a, b in zip(four.ellipses, two.ellipses, strict=True):
        np.testing.assert_array_equal(a, b)
    # the points' components are the fit's own (in 4-D), not the 2-D mixture's
    joint = np.column_stack(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(x)
            for w, m, c in zip(snap.weights, snap.means, snap.covariances, strict=True)
        ]
    )
    np.testing.assert_array_equal(four.labels, joint.argmax(axis=1))


def test_a_large_data_set_is_projected_once_per_view() -> None:
    """Above the scatter limit a scene keeps the projection of its sample only, and the frame reuses it."""
    x = np.random.default_rng(1).normal(size=(frames.SCATTER_LIMIT + 10, 5))
    view = pca_view(x)
    scene = frames.build_scene(x, view)
    assert scene.sampled and scene.shown_points.shape == (frames.DOTS_SHOWN, 2)
    np.testing.assert_allclose(scene.shown_points, view.points(x[scene.shown]))


def test_one_d_curves_are_each_components_weighted_density() -> None:
    """1-D data: the frame's curves are w_k N(x | mu_k, s_k^2) (SciPy), the mixture curve their sum."""
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(-2, 0.5, 300), rng.normal(2, 1.0, 500)])[:, None]
    snap = _fit(x, 2)
    scene = frames.build_scene(x)
    assert scene.one_d and scene.view is None
    edges, density = scene.histogram
    assert np.sum(density * np.diff(edges)) == pytest.approx(1.0)
    frame = frames.build_frame(scene, snap, np.empty((0, 2)))
    for k, curve in enumerate(frame.ellipses):
        reference = snap.weights[k] * norm(snap.means[k, 0], np.sqrt(snap.covariances[k, 0, 0])).pdf(curve[:, 0])
        np.testing.assert_allclose(curve[:, 1], reference, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(frame.contours[:, 1], sum(c[:, 1] for c in frame.ellipses), rtol=1e-12)


def _open(qtbot, window, path, columns=None) -> None:
    window.data.open_path(str(path), columns, ask_columns=False)
    qtbot.waitUntil(lambda: window.state.scene is not None and window.state.dataset.source == str(path), timeout=30_000)


@pytest.fixture
def four_d_file(tmp_path):
    path = tmp_path / "four.csv"
    np.savetxt(path, _four_d(), delimiter=",", header="a,b,c,d", comments="")
    return path


def test_every_view_shows_the_fit_and_a_pairs_click_chooses_the_main_view(qtbot, window, four_d_file) -> None:
    _open(qtbot, window, four_d_file)
    assert run_fit(qtbot, window, k=3) == "converged"
    snap = window.state.frame.snapshot
    bar = window.view_bar
    for kind in ("pca", "separating", "columns"):
        bar.kind.setCurrentIndex([bar.kind.itemData(i) for i in range(bar.kind.count())].index(kind))
        window.views.choose()
        view = window.state.scene.view
        assert view.kind == kind
        frame = window.state.frame
        assert frame.snapshot is snap  # the same fit, drawn again
        np.testing.assert_allclose(frame.view_means, view.means(snap.means))
        np.testing.assert_allclose(frame.view_covariances, view.covariances(snap.covariances))
        if kind != "columns":
            assert bar.loadings.text().startswith("PC1 = " if kind == "pca" else "LD1 = ")
    bar.kind.setCurrentIndex(3)  # pairs
    window.views.choose()
    qtbot.waitUntil(lambda: not window.pairs.building, timeout=30_000)  # a cell per event-loop turn
    assert window.plot_stack.currentWidget() is window.pairs and len(window.pairs.cells) == 6  # 4 columns: 6 pairs
    plot, points, xy, rings = window.pairs.cells[(2, 0)]  # column c up, a across: the fit's ellipses in that plane
    assert len(rings) == 3 and points._key is not None and len(points._colour_index) == len(xy)
    np.testing.assert_array_equal(xy, window.state.scene.points[window.state.scene.shown][:, [0, 2]])
    window.pairs.cell_chosen.emit(2, 0)  # as a click on column c across, a up
    view = window.state.scene.view
    assert view.columns == (2, 0) and window.plot_stack.currentWidget() is window.plot
    assert window.plot.plotItem.getAxis("bottom").labelText == "c"


def test_a_view_chosen_while_the_fit_runs_draws_the_next_frames(qtbot, window, four_d_file) -> None:
    _open(qtbot, window, four_d_file)
    set_controls(window, k=3, tol="0", max_iter="100000")
    assert window.run_control.start_fit()
    qtbot.waitUntil(lambda: window.state.frame is not None, timeout=FIT_TIMEOUT_MS)
    bar = window.view_bar
    bar.kind.setCurrentIndex(1)  # principal axes
    window.views.choose()
    view = window.state.scene.view
    assert window.state.job.scene is window.state.scene
    first = window.state.frame.snapshot.iteration
    qtbot.waitUntil(lambda: window.state.frame.snapshot.iteration > first + 2, timeout=FIT_TIMEOUT_MS)
    frame = window.state.frame
    np.testing.assert_allclose(frame.view_means, view.means(frame.snapshot.means))
    window.run_control.stop()


def test_a_start_dragged_in_a_view_moves_only_in_its_plane(qtbot, window, four_d_file) -> None:
    """Edit start in the principal-axes view: the mean lands where it was dropped in the view, and its part
    orthogonal to the view's plane (and every other component) is unchanged."""
    _open(qtbot, window, four_d_file)
    window.run_control.reset()  # the start on screen, iteration 0
    qtbot.waitUntil(lambda: window.state.frame is not None, timeout=FIT_TIMEOUT_MS)
    window.view_bar.kind.setCurrentIndex(1)
    window.views.choose()
    view = window.state.scene.view
    start = window.state.frame.snapshot
    plot = window.plot
    plot.set_edit_mode(True)
    emitted = []
    plot.start_edited.connect(lambda w, m, c: emitted.append((m, c)))

    class Handle:  # what a TargetItem hands its slot
        def __init__(self, x, y):
            from PySide6.QtCore import QPointF

            self.p = QPointF(x, y)

        def pos(self):
            return self.p

    target = frame_mean = window.state.frame.view_means[1] + [1.5, -0.5]
    plot._handle_moved(1, "mean", Handle(*target))
    plot._emit_start()
    means, cov = emitted[-1]
    np.testing.assert_allclose(view.means(means[1]), frame_mean, atol=1e-10)
    u = view.axes  # orthonormal principal axes
    rest = np.eye(4) - u @ u.T
    np.testing.assert_allclose(rest @ means[1], rest @ start.means[1], atol=1e-10)
    np.testing.assert_array_equal(np.delete(means, 1, axis=0), np.delete(start.means, 1, axis=0))
    np.testing.assert_array_equal(cov, start.covariances)  # only the mean was dragged


def test_generate_makes_d_dimensional_data(qtbot, window) -> None:
    from gui.views.generate_dialog import GenerateDialog

    dialog = GenerateDialog()
    qtbot.addWidget(dialog)
    dialog.dimensions.setValue(3)
    assert dialog.table.columnCount() == 3 and dialog.validate()
    weights, means, cov = dialog.mixture()
    assert means.shape == (3, 3) and cov.shape == (3, 3, 3)
    dialog.table.item(0, 2).setText("1, 0; 0, 1")
    assert not dialog.validate()
    assert dialog.message.text() == "component 0, covariance: 2 rows (separated by ';'), need 3 or one variance"
    dialog.table.item(0, 2).setText("1, 0, 0; 0, 2, 0; 0, 0, 3")
    assert dialog.validate()
    dialog.table.item(1, 1).setText("1, x, 2")
    assert dialog.message.text() == "component 1, mean: 'x' is not a number" and not dialog.validate()
    dialog.table.item(1, 1).setText("1, 0, 2")
    weights, means, cov = dialog.mixture()
    np.testing.assert_array_equal(cov[0], np.diag([1.0, 2.0, 3.0]))
    window.data.generate(weights, means, cov, 500, 1)
    qtbot.waitUntil(lambda: window.state.dataset.columns == ("x0", "x1", "x2"), timeout=30_000)
    assert window.state.scene.points.shape == (500, 3)


def test_new_data_leaves_nothing_of_the_old_comparison(qtbot, window, four_d_file) -> None:
    """Run all on 2-D data, then open 4-D data and choose other views: the Compare tab keeps nothing of the old
    data (it raised "operands could not be broadcast together with shapes (3,2) (4,)" redrawing the old frames in
    the new view, and its verdict described the old data) (issue 22, item 4)."""
    window.controls.max_iter.setText("30")
    with qtbot.waitSignal(window.compare.finished, timeout=120_000):
        window.compare_control.run()
    assert window.compare.last and window.compare.verdict.text()
    assert all(" at iteration " in p.title.text() for p in window.compare.panels.values())
    _open(qtbot, window, four_d_file)
    assert not window.compare.last and window.compare.verdict.text() == ""
    # nor the old fits' log-likelihoods in the panels' titles (they read "(running, ...)" after a stopped run)
    assert {a: p.title.text() for a, p in window.compare.panels.items()} == {
        a: f"<b>{a}</b>" for a in window.compare.panels
    }
    bar = window.view_bar
    for kind in ("pca", "separating", "columns"):
        bar.kind.setCurrentIndex([bar.kind.itemData(i) for i in range(bar.kind.count())].index(kind))
        window.views.choose()
    qtbot.wait(200)
    assert window.messages.last_error == "" and not window.compare.last


def test_principal_axes_of_mixed_units_are_standardised_by_default_and_can_be_raw(qtbot, window, tmp_path) -> None:
    """Wine's 13 columns (proline in the hundreds, hue near 1): the principal axes view opens standardised and says
    so; unticking 'standardised' shows the raw axes (PC1 = proline) (issue 22, item 8)."""
    from sklearn.datasets import load_wine

    wine = load_wine()
    path = tmp_path / "wine.csv"
    header = ",".join(n.replace("/", "_") for n in wine.feature_names)
    np.savetxt(path, wine.data, delimiter=",", header=header, comments="")
    _open(qtbot, window, path, list(range(13)))
    bar = window.view_bar
    assert bar.standardised.isChecked()
    bar.kind.setCurrentIndex([bar.kind.itemData(i) for i in range(bar.kind.count())].index("pca"))
    window.views.choose()
    qtbot.waitUntil(lambda: window.state.scene.view.kind == "pca", timeout=30_000)
    assert bar.standardised.isVisible() and bar.loadings.text().startswith("PC1 (standardised) = +0.42·flavanoids")
    bar.standardised.click()  # unticked: the raw axes
    qtbot.waitUntil(lambda: window.state.scene.view.labels[0] == "PC1", timeout=30_000)
    assert bar.loadings.text().startswith("PC1 = +1.00·proline")


def test_the_pairs_matrix_says_it_is_being_laid_out_until_it_is(qtbot, window, four_d_file) -> None:
    """A cell per event-loop turn takes seconds for many columns: the status bar says so meanwhile, and the note
    goes when the matrix is whole (issue 22, item 9)."""
    _open(qtbot, window, four_d_file)
    bar = window.view_bar
    bar.kind.setCurrentIndex(3)  # pairs
    window.views.choose()
    assert window.statusBar().currentMessage() == "laying out the pairs matrix of 4 columns (10 cells)…"
    qtbot.waitUntil(lambda: window.pairs.complete, timeout=30_000)
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "", timeout=5_000)


def test_a_progress_note_of_a_fit_stays_until_the_next_one(qtbot, window) -> None:
    """A cluster's start takes 15-45 s: its note ("connecting to the Dask cluster…") must not time out after 5 s
    while nothing else is said (issue 22, item 9); it stays until the next note or the fit's end."""
    run = window.run_control
    assert run.start_fit(paused=True)
    run._frame_ready(window.state.job.job_id, "connecting to the Dask cluster local…")
    qtbot.wait(5_500)
    assert window.statusBar().currentMessage() == "connecting to the Dask cluster local…"
    run.cancel()
