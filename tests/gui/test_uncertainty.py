"""Fit > Uncertainty (issue 25): the bootstrap of the fit on screen, run in the background, drawn as clouds of the
replicates' means and bands around the ellipses, with the standard errors in the parameter table; dropped with
new data or a new fit."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import brentq

import engine
from gui.scene.uncertainty import BAND_SIGMA, band_rings, fitted_rays
from gui.views.palette import component_color
from gui.views.uncertainty_dialog import TYPES
from gui.views.uncertainty_layer import band_path
from tests.gui.gui_helpers import FIT_TIMEOUT_MS, run_fit, two_clusters


def fitted_window(qtbot, window, n: int = 300):
    """The window with two clusters fitted (K = 2, full) to the end; the fit's job."""
    window.data.set_dataset(engine.Dataset(two_clusters(5, n), ("x", "y"), (0, 1), "two clusters"))
    assert run_fit(qtbot, window, k=2, covariance="full", tol="1e-8") == "converged"
    return window.state.job


def bootstrapped(qtbot, window, replicates: int = 40, kind: str = "nonparametric"):
    unc = window.uncertainty
    assert unc.start(replicates, kind), window.messages.last_error
    qtbot.waitUntil(lambda: unc.result is not None, timeout=FIT_TIMEOUT_MS)
    return unc.result


def test_the_dialog_offers_the_engines_types() -> None:
    from engine.selection.bootstrap import KINDS

    assert TYPES == KINDS


def test_the_action_bootstraps_the_fit_with_its_settings_data_and_weights(qtbot, window) -> None:
    job = fitted_window(qtbot, window)
    snap = window.state.latest.snapshot
    fitted = (snap.weights, snap.means, snap.covariances)
    result = bootstrapped(qtbot, window, 30, "weighted")
    expected = engine.bootstrap(job.scene.points, fitted, job.config, 30, "weighted", job.config.seed)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(getattr(result.boot, name), getattr(expected, name))
    # a fit of data with frequency weights (its scene's) is bootstrapped with them
    w = np.random.default_rng(1).integers(1, 4, len(job.scene.points)).astype(float)
    job.scene = dataclasses.replace(job.scene, weights=w)
    result = bootstrapped(qtbot, window, 30, "nonparametric")
    weighted = engine.bootstrap(job.scene.points, fitted, job.config, 30, "nonparametric", job.config.seed, w)
    np.testing.assert_array_equal(result.boot.means, weighted.means)
    unweighted = engine.bootstrap(job.scene.points, fitted, job.config, 30, "nonparametric", job.config.seed)
    assert not np.array_equal(result.boot.means, unweighted.means)


def test_the_clouds_hold_each_replicates_mean_in_its_components_colour(qtbot, window) -> None:
    fitted_window(qtbot, window)
    boot = bootstrapped(qtbot, window, 25).boot
    clouds = window.uncertainty.layer.clouds
    shown = window.plot.display.to_display(window.state.scene.view.means(boot.means))  # (B', K, 2)
    assert shown.shape == (25, 2, 2)
    for k in range(2):
        xy = np.column_stack([clouds[k].data["x"], clouds[k].data["y"]])
        np.testing.assert_allclose(xy, shown[:, k], rtol=0, atol=1e-12)
        colour = clouds[k].opts["brush"].color()
        assert colour.rgb() == component_color(k).rgb() and 0 < colour.alpha() < 255
        assert clouds[k].isVisible()


def crossing(center: np.ndarray, ray: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    """The r > 0 where center + r ray meets the BAND_SIGMA ellipse of (mean, cov), by root finding."""
    precision = np.linalg.inv(cov)

    def excess(r: float) -> float:
        d = center + r * ray - mean
        return d @ precision @ d - BAND_SIGMA**2

    return brentq(excess, 0.0, 10.0, xtol=1e-14)


def test_the_band_lies_between_the_quantile_ellipses() -> None:
    """band_rings against each replicate's ellipse crossed by root finding along each ray, then R's type-7
    quantiles (NumPy's default)."""
    rng = np.random.default_rng(3)
    center, cov = np.array([1.0, -2.0]), np.array([[2.0, 0.6], [0.6, 0.5]])
    means = center + rng.normal(0, 0.1, (50, 2))
    covs = np.stack([cov * s for s in rng.uniform(0.8, 1.25, 50)]) + rng.normal(0, 0.02, (50, 1, 1)) * np.eye(2)
    lower, upper = band_rings(center, cov, means, covs)
    rays = fitted_rays(cov)
    for t in range(0, len(rays), 7):
        radii = [crossing(center, rays[t], m, c) for m, c in zip(means, covs, strict=True)]
        lo, hi = np.quantile(radii, [0.025, 0.975])
        np.testing.assert_allclose(lower[t], center + lo * rays[t], rtol=0, atol=1e-10)
        np.testing.assert_allclose(upper[t], center + hi * rays[t], rtol=0, atol=1e-10)
    assert np.all(np.linalg.norm(upper - center, axis=1) > np.linalg.norm(lower - center, axis=1))
    # the shaded path fills between them: a ring halfway is inside, rings beyond either edge are not
    path = band_path(lower, upper)
    from PySide6.QtCore import QPointF

    half = (lower + upper) / 2
    inner = center + 0.9 * (lower - center)
    outer = center + 1.1 * (upper - center)
    assert all(path.contains(QPointF(*p)) for p in half[:-1])
    assert not any(path.contains(QPointF(*p)) for p in np.concatenate([inner, outer]))


def test_the_table_shows_the_standard_errors_while_the_uncertainty_is_shown(qtbot, window) -> None:
    fitted_window(qtbot, window)
    result = bootstrapped(qtbot, window, 30)
    se, snap, table = result.boot.standard_errors(), result.snapshot, window.table
    for j in range(2):
        weight = table.item(j, 1).text()
        assert weight == f"{snap.weights[j]:.5g} ± {se['weights'][j]:.2g}"
        assert table.item(j, 2).text().endswith(f" ± {se['means'][j, 0]:.2g}")
        assert table.item(j, 6).text() == f"{snap.covariances[j, 1, 1]:.5g} ± {se['covariances'][j, 1, 1]:.2g}"
    window.menus.uncertainty_shown.setChecked(False)  # hidden: no clouds, no errors
    assert not any(c.isVisible() for c in window.uncertainty.layer.clouds)
    assert "±" not in table.item(0, 1).text()
    window.menus.uncertainty_shown.setChecked(True)
    assert "±" in table.item(0, 1).text()


def test_cancel_new_data_and_a_new_fit_drop_the_uncertainty(qtbot, window) -> None:
    unc = window.uncertainty
    fitted_window(qtbot, window)
    assert unc.start(5000, "nonparametric")  # long: cancelled at once, its result never shown
    unc.drop()
    qtbot.waitUntil(lambda: not unc.background.busy, timeout=FIT_TIMEOUT_MS)
    assert unc.result is None and unc.layer.shown is None and not unc.running
    bootstrapped(qtbot, window, 20)
    assert [len(c.data) for c in unc.layer.clouds] == [20, 20]
    assert run_fit(qtbot, window, k=2, covariance="full", tol="1e-8") == "converged"  # a new fit
    assert (
        unc.result is None
        and not any(len(c.data) for c in unc.layer.clouds)
        and "±" not in window.table.item(0, 1).text()
    )
    bootstrapped(qtbot, window, 20)
    window.data.set_dataset(engine.Dataset(two_clusters(6, 200), ("x", "y"), (0, 1), "other data"))
    assert unc.result is None and not any(len(c.data) for c in unc.layer.clouds)
    assert all(item.path().isEmpty() for item in unc.layer.bands)
    assert not unc.start(20, "nonparametric")  # no fit of these data yet: nothing to bootstrap


def test_the_menu_asks_b_and_the_type_then_runs_it(qtbot, window) -> None:
    from PySide6.QtCore import Qt

    from gui.views.uncertainty_dialog import DEFAULT_REPLICATES, TYPE_TIPS, TYPES, UncertaintyDialog

    window.menus.uncertainty_action.trigger()  # no fit yet: a note, no dialog
    assert window.findChild(UncertaintyDialog) is None
    fitted_window(qtbot, window)
    window.menus.uncertainty_action.trigger()
    dialog = window.findChild(UncertaintyDialog)
    assert dialog.choice() == (DEFAULT_REPLICATES, "nonparametric")
    tip = dialog.kind.itemData(TYPES.index("parametric"), Qt.ItemDataRole.ToolTipRole)
    assert tip == TYPE_TIPS["parametric"]  # complete data: no word of missing cells
    dialog.replicates.setValue(12)
    dialog.kind.setCurrentText("parametric")
    dialog.accept()
    qtbot.waitUntil(lambda: window.uncertainty.result is not None, timeout=FIT_TIMEOUT_MS)
    boot = window.uncertainty.result.boot
    assert (boot.requested, boot.kind) == (12, "parametric")


def test_closing_the_window_cancels_and_awaits_the_bootstrap(qtbot, window) -> None:
    fitted_window(qtbot, window)
    unc = window.uncertainty
    assert unc.start(5000, "nonparametric")
    token = unc._token
    assert window.shutdown()
    assert token.cancelled and not unc.background.busy and unc.result is None


def test_other_views_draw_the_clouds_in_their_plane(qtbot, window) -> None:
    """3-D data: the principal axes' view draws the replicates' means projected there; the pairs matrix draws
    each pair's columns of them (clouds only)."""
    rng = np.random.default_rng(2)
    points = np.concatenate([rng.normal(0, 1, (150, 3)), rng.normal([5, 3, -2], 0.8, (150, 3))])
    window.data.set_dataset(engine.Dataset(points, ("a", "b", "c"), (0, 1, 2), "3-D"))
    assert run_fit(qtbot, window, k=2, covariance="full", tol="1e-8") == "converged"
    boot = bootstrapped(qtbot, window, 15).boot
    se, table = boot.standard_errors(), window.table  # in D dimensions: the weight's, and the mean's in its tip
    assert table.item(1, 1).text().endswith(f" ± {se['weights'][1]:.2g}")
    assert all(f"<td>± {e:.2g}</td>" in table.item(1, 2).toolTip() for e in se["means"][1])
    bar, unc = window.view_bar, window.uncertainty
    bar.kind.setCurrentIndex([bar.kind.itemData(i) for i in range(bar.kind.count())].index("pca"))
    window.views.choose()
    view = window.state.scene.view
    assert view.kind == "pca"
    qtbot.waitUntil(lambda: unc.layer.shown is not None and unc._view_key[1] is view, timeout=30_000)
    shown = window.plot.display.to_display(view.means(boot.means))
    for k in range(2):
        np.testing.assert_allclose(unc.layer.clouds[k].getData()[0], shown[:, k, 0], rtol=0, atol=1e-12)
    bar.kind.setCurrentIndex(3)  # pairs
    window.views.choose()
    qtbot.waitUntil(lambda: window.pairs.complete, timeout=30_000)
    pairs = window.pairs
    assert set(pairs._clouds) == set(pairs.cells) and len(pairs.cells) == 3
    for (ci, cj), clouds in pairs._clouds.items():
        for k in range(2):
            expected = pairs.maps[(ci, cj)].to_display(boot.means[:, k][:, [cj, ci]])
            np.testing.assert_allclose(np.column_stack(clouds[k].getData()), expected, rtol=0, atol=1e-12)
    window.data.set_dataset(engine.Dataset(points[:50], ("a", "b", "c"), (0, 1, 2), "other 3-D"))
    assert pairs.cloud_means is None


def test_a_replayed_iteration_hides_it_and_the_fits_end_shows_it_again(qtbot, window) -> None:
    fitted_window(qtbot, window)
    bootstrapped(qtbot, window, 15)
    unc, end = window.uncertainty, window.state.frame
    window.replay.show_entry(window.state.latest.entries[0])  # iteration 0: not what was bootstrapped
    qtbot.waitUntil(lambda: window.state.frame is not end, timeout=30_000)
    assert unc.layer.shown is None and not any(len(c.data) for c in unc.layer.clouds)
    assert "±" not in window.table.item(0, 1).text() and unc.result is not None  # kept: the fit is the same
    window.replay.go_live()
    qtbot.waitUntil(lambda: window.state.frame.snapshot is unc.result.snapshot, timeout=30_000)
    assert [len(c.data) for c in unc.layer.clouds] == [15, 15] and "±" in window.table.item(0, 1).text()


def test_typed_parameters_read_past_the_standard_errors(qtbot, window) -> None:
    """Edit start: a cell typed while the errors are shown is read as its number (the ± part left out)."""
    fitted_window(qtbot, window)
    bootstrapped(qtbot, window, 15)
    table, typed = window.table, []
    table.params_typed.connect(lambda w, m, c: typed.append(m))
    table.set_editable(True)
    table.item(0, 2).setText("1.25")
    assert typed and typed[-1][0, 0] == 1.25
    assert typed[-1][1, 0] == float(table.item(1, 2).text().split(" ± ")[0])


def test_the_pairs_view_of_earlier_wider_data_does_not_stop_the_drawing(qtbot, window) -> None:
    """A user's steps: 4-D data shown as pairs, then 2-D data fitted and bootstrapped. The hidden pairs view still
    held the 4-D cells, and drawing the 2-D clouds in them raised IndexError in the slot: nothing was drawn."""
    rng = np.random.default_rng(3)
    wide = np.concatenate([rng.normal(0, 1, (100, 4)), rng.normal(4, 1, (100, 4))])
    window.data.set_dataset(engine.Dataset(wide, ("a", "b", "c", "d"), (0, 1, 2, 3), "4-D"))
    bar = window.view_bar
    bar.kind.setCurrentIndex(3)  # pairs
    window.views.choose()
    qtbot.waitUntil(lambda: window.pairs.complete, timeout=30_000)
    fitted_window(qtbot, window)
    assert window.state.scene.n_features == 2
    boot = bootstrapped(qtbot, window, 15).boot
    qtbot.waitUntil(lambda: window.uncertainty.layer.shown is not None, timeout=30_000)
    assert len(window.uncertainty.layer.clouds[0].getData()[0]) == len(boot.means)
    assert window.table.item(1, 1).text().endswith(f" ± {boot.standard_errors()['weights'][1]:.2g}")


def test_cancel_the_uncertainty_is_offered_only_while_one_runs_or_is_shown(qtbot, window) -> None:
    action = window.menus.cancel_uncertainty_action
    assert not action.isEnabled()
    fitted_window(qtbot, window)
    assert not action.isEnabled()
    bootstrapped(qtbot, window, 10)
    assert action.isEnabled()
    action.trigger()
    assert window.uncertainty.result is None and not action.isEnabled()


def test_the_note_says_how_many_replicates_stopped_at_max_iterations(qtbot, window) -> None:
    """Replicates that max_iter stopped before their ends are named in the note, as fit --bootstrap names them (the
    note said '40 of 40 replicates' alone)."""
    from engine.io.data import FORUM_PRESET, sample_mixture

    # the forum preset's overlapping components: EM creeps there, 5 iterations end no replicate (measured: 10 of 10)
    points, _ = sample_mixture(FORUM_PRESET["weights"], FORUM_PRESET["means"], FORUM_PRESET["covariances"], 2000, 0)
    window.data.set_dataset(engine.Dataset(points, ("x", "y"), (0, 1), "forum"))
    assert run_fit(qtbot, window, k=3, covariance="full", max_iter="5") == "max_iter"
    boot = bootstrapped(qtbot, window, 10).boot
    assert boot.not_converged > 0  # the engine's count, which the note must carry
    message = window.statusBar().currentMessage()
    assert message.startswith("bootstrap: 10 of 10 nonparametric replicates in ")
    assert message.endswith(f" s ({boot.not_converged} stopped at Max iterations)")
