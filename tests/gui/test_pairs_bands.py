"""The pairs matrix draws the bootstrap's bands (issue 25) in every cell as the main plot does in its view: each
component's band_rings (tests/gui/test_uncertainty.py checks those against SciPy's brentq) of the replicates'
marginals in the cell's two columns, in the cell's display units (units and offsets: none is the identity). The
band is affine-invariant as a curve, not as a list of points (its rays follow the fitted ellipse's eigenvectors,
which a per-axis scaling turns), so the reference maps the marginals first and compares exactly."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QApplication

import engine
from gui.scene.uncertainty import band_rings
from gui.views.uncertainty_layer import band_path
from tests.gui.gui_helpers import FIT_TIMEOUT_MS, run_fit

# measured: a cell's auto range moves by up to 0.07% of its width as the matrix's layout settles (its points'
# padding is a few pixels in data units); replicates 300 units out made it 30x wider
RANGE_SHARE = 0.01


def _points(path) -> np.ndarray:
    return np.array([[path.elementAt(i).x, path.elementAt(i).y] for i in range(path.elementCount())])


def test_every_cell_draws_each_components_band(qtbot, window) -> None:
    rng = np.random.default_rng(2)
    points = np.concatenate([rng.normal(0, 1, (150, 3)), rng.normal([5, 3, -2], 0.8, (150, 3))])
    points = points * [1.0, 1e8, 1e-6] + [1e6, 0.0, 0.0]  # display maps with units and an offset, none identity
    window.data.set_dataset(engine.Dataset(points, ("a", "b", "c"), (0, 1, 2), "3-D"))
    assert run_fit(qtbot, window, k=2, covariance="full", tol="1e-8") == "converged"
    unc = window.uncertainty
    assert unc.start(15, "nonparametric")
    qtbot.waitUntil(lambda: unc.result is not None, timeout=FIT_TIMEOUT_MS)
    boot, snap = unc.result.boot, unc.result.snapshot
    bar = window.view_bar
    bar.kind.setCurrentIndex([bar.kind.itemData(i) for i in range(bar.kind.count())].index("pairs"))
    window.views.choose()
    pairs = window.pairs
    qtbot.waitUntil(lambda: pairs.complete and pairs.bands_drawn == set(pairs.cells), timeout=30_000)
    assert len(pairs.cells) == 3 and not any(m.identity for m in pairs.maps.values())
    for (ci, cj), items in pairs._bands.items():
        idx, display = [cj, ci], pairs.maps[(ci, cj)]
        for k in range(2):
            rings = band_rings(
                display.to_display(snap.means[k][idx]),
                display.covariance_to_display(snap.covariances[k][np.ix_(idx, idx)]),
                display.to_display(boot.means[:, k][:, idx]),
                display.covariance_to_display(boot.covariances[:, k][:, idx][:, :, idx]),
            )
            got, want = _points(items[k].path()), _points(band_path(*rings))
            assert len(got) > 100
            np.testing.assert_array_equal(got, want)
    unc.set_visible(False)  # hidden: no band
    assert all(item.path().isEmpty() for items in pairs._bands.values() for item in items)
    unc.set_visible(True)
    qtbot.waitUntil(lambda: pairs.bands_drawn == set(pairs.cells), timeout=30_000)
    window.data.set_dataset(engine.Dataset(points[:50], ("a", "b", "c"), (0, 1, 2), "other 3-D"))
    assert pairs.cloud_covariances is None and not pairs.bands_drawn


def test_replicates_far_out_leave_each_cells_range_to_its_points_and_ellipses(qtbot, window) -> None:
    """A few replicates far out (a component lost in a resample: its mean and covariance anywhere) squashed every
    cell's points into a corner; the cells keep the range of their points and the fit's ellipses, and the clouds and
    bands beyond it are clipped at the cell's edge."""
    rng = np.random.default_rng(3)
    points = np.concatenate([rng.normal(0, 1, (150, 3)), rng.normal([5, 3, -2], 0.8, (150, 3))])
    window.data.set_dataset(engine.Dataset(points, ("a", "b", "c"), (0, 1, 2), "3-D"))
    assert run_fit(qtbot, window, k=2, covariance="full") == "converged"
    bar = window.view_bar
    bar.kind.setCurrentIndex([bar.kind.itemData(i) for i in range(bar.kind.count())].index("pairs"))
    window.views.choose()
    pairs = window.pairs
    qtbot.waitUntil(lambda: pairs.complete, timeout=30_000)

    def ranges() -> dict:
        for plot, *_ in pairs.cells.values():
            plot.vb.updateAutoRange()
        return {cell: np.array(plot.vb.viewRange()) for cell, (plot, *_) in pairs.cells.items()}

    for _ in range(20):  # the layout settled: the points' padding (their pixels in data units) follows it
        QApplication.processEvents()
    before = ranges()
    snap = window.state.frame.snapshot
    means = np.repeat(snap.means[None], 40, axis=0) + rng.normal(0, 0.05, (40, 2, 3))
    covs = np.repeat(snap.covariances[None], 40, axis=0)
    means[:3, 1] += 300.0  # three replicates far out, their covariances wide
    covs[:3, 1] *= 1e4
    pairs.set_clouds(means, covs, (snap.means, snap.covariances))
    qtbot.waitUntil(lambda: pairs.bands_drawn == set(pairs.cells), timeout=30_000)
    after = ranges()
    for cell, rng_before in before.items():
        width = np.ptp(rng_before, axis=1)[:, None]
        assert np.all(np.abs(after[cell] - rng_before) <= RANGE_SHARE * width), (after[cell], rng_before)
        far = pairs.maps[cell].to_display(means[0, 1][[cell[1], cell[0]]])
        assert not (after[cell][0, 0] <= far[0] <= after[cell][0, 1])  # drawn outside the cell: clipped
