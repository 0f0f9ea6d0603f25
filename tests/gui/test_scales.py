"""Data at extreme scales in the window (issue 22 item 7): near 1e-140 the view kept its old range (only a '+'
showed), near 1e145 ellipses and contours had stray straight lines and every mean read '1e+145', 1e8 + tiny
noise was framed a hundred times too wide. Every item is now drawn in display units (gui.scene.display_map) and read
back through the same map; these tests check the drawing against the data in data units (offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import run_fit
from PySide6.QtCore import QPointF, Qt

import engine
from engine.config import FitConfig

# name -> data (N, 2) of three clusters at unit scale mapped there
SCALES = {
    "1e-140": lambda x: x * 1e-140,
    "1e145": lambda x: 1e145 * (1.0 + 1e-6 * x),  # near 1e145, spread 1e139: the means differ in digit 7
    "huge": lambda x: x * 1e145,
    "1e8+noise": lambda x: 1e8 + 1e-4 * x,
}
DRAWABLE = 1e4  # display coordinates stay this near 0: what pyqtgraph and Qt's raster engine draw exactly


def _blobs(d: int = 2) -> np.ndarray:
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0, 0.0, 0.0], [6.0, 3.0, 1.0, -2.0], [2.0, 7.0, -3.0, 1.0]])[:, :d]
    return np.concatenate([rng.normal(c, s, (120, d)) for c, s in zip(centres, (1.0, 0.7, 0.5), strict=True)])


def _drawn(qtbot, x: np.ndarray):
    """A PlotView showing data x (N, 2) and its 3-component fit: (plot, scene, frame)."""
    from gui.scene.frames import build_frame, build_scene
    from gui.views.plot_view import PlotView

    plot = PlotView()
    qtbot.addWidget(plot)
    plot.resize(600, 450)
    plot.show()
    scene = build_scene(x)
    plot.show_scene(scene, ("x0", "x1"))
    snap = engine.run_to_end(x, FitConfig(n_components=3, seed=1))
    frame = build_frame(scene, snap, np.zeros((1, 2)), trajectory=np.stack([snap.means, snap.means]))
    plot.show_frame(frame)
    return plot, scene, frame


@pytest.mark.parametrize("scale", SCALES)
def test_the_view_frames_the_data_at_any_scale(qtbot, scale: str) -> None:
    """The view's range, in data units, holds every point and is no wider than the padded data (the old view at
    1e-140 was a unit window around 0; at 1e8 + 1e-4 noise 0.017 wide for data 0.0011 wide)."""
    x = SCALES[scale](_blobs())
    plot, _, _ = _drawn(qtbot, x)
    for axis, r in enumerate(plot.view_box.viewRange()):
        lo, hi = plot.display.range_to_data(axis, *r)
        span = np.ptp(x[:, axis])
        assert lo <= x[:, axis].min() and x[:, axis].max() <= hi, (axis, lo, hi)
        assert hi - lo <= 1.5 * span, (axis, (hi - lo) / span)
    # the axes read true values: ticks scaled by the unit, the offset (if any) in the label
    for axis, side in enumerate(("bottom", "left")):
        assert plot.plotItem.getAxis(side).scale == plot.display.unit[axis]
        offset = plot.display.offset[axis]
        assert (" − " in plot.plotItem.getAxis(side).labelText) == (offset != 0.0)


@pytest.mark.parametrize("scale", SCALES)
def test_ellipses_contours_and_means_are_drawn_where_the_fit_is(qtbot, scale: str) -> None:
    """Every drawn coordinate is finite and near 0 (drawable); mapped back to data units each ellipse ring lies
    at Mahalanobis radius 1, 2 and 3 of its component in data units, the means marker on the means, the contours
    inside the view, the paths' start circles on their starts."""
    x = SCALES[scale](_blobs())
    plot, _, frame = _drawn(qtbot, x)
    snap = frame.snapshot
    to_data = plot.display.to_data
    for k, item in enumerate(plot.ellipses[:3]):
        drawn = np.column_stack(item.getData())
        ring = drawn[np.isfinite(drawn).all(axis=1)]
        assert len(ring) == 3 * 72 and np.abs(ring).max() < DRAWABLE
        # ring - mean in data units: unit * display - (mean - offset), without rounding to 1e8's last digits
        unit, offset = np.array(plot.display.unit), np.array(plot.display.offset)
        dev = ring * unit - (snap.means[k] - offset)
        # the Mahalanobis radius with the covariance in units of the data's spread (no overflow near 1e145)
        s = np.sqrt(np.diagonal(snap.covariances[k]))
        z = dev / s
        radius = np.sqrt(np.einsum("ni,ij,nj->n", z, np.linalg.inv(snap.covariances[k] / np.outer(s, s)), z))
        np.testing.assert_allclose(np.sort(radius), np.repeat([1.0, 2.0, 3.0], 72), rtol=1e-6)
    means = np.column_stack(plot.means.getData())
    assert np.abs(means).max() < DRAWABLE
    np.testing.assert_allclose((to_data(means) - snap.means) / np.ptp(x, axis=0), 0.0, atol=1e-12)
    contours = np.column_stack(plot.contours.getData())
    contours = contours[np.isfinite(contours).all(axis=1)]
    assert len(contours) > 0 and np.abs(contours).max() < DRAWABLE
    (vx0, vx1), (vy0, vy1) = plot.view_box.viewRange()
    assert vx0 <= contours[:, 0].min() and contours[:, 0].max() <= vx1
    starts = plot.starts.getData()
    np.testing.assert_allclose((to_data(np.column_stack(starts)) - snap.means) / np.ptp(x, axis=0), 0.0, atol=1e-12)
    points = plot.points._xy
    assert np.abs(points).max() < DRAWABLE
    np.testing.assert_allclose((to_data(points) - x) / np.ptp(x, axis=0), 0.0, atol=1e-12)


@pytest.mark.parametrize("scale", SCALES)
def test_a_click_in_draw_mode_adds_the_point_under_the_cursor(qtbot, scale: str) -> None:
    """A click on the pixel where a data point is drawn (the one farthest from the means' markers) adds a point
    at that data point, in data units, within a pixel of a view that resolves the data."""
    x = SCALES[scale](_blobs())
    plot, _, _ = _drawn(qtbot, x)
    plot.set_draw_mode(True)
    added: list[np.ndarray] = []
    plot.view_box.points_drawn.connect(added.append)
    drawn, means = plot.points._xy, np.column_stack(plot.means.getData())
    far = int(np.argmax(np.min(np.linalg.norm(drawn[:, None, :] - means[None], axis=2), axis=1)))
    pixel = plot.mapFromScene(plot.view_box.mapViewToScene(QPointF(*drawn[far])))
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=pixel)
    assert len(added) == 1 and added[0].shape == (1, 2)
    (vx0, vx1), (vy0, vy1) = (plot.display.range_to_data(i, *r) for i, r in enumerate(plot.view_box.viewRange()))
    per_pixel = np.array([(vx1 - vx0) / plot.view_box.width(), (vy1 - vy0) / plot.view_box.height()])
    assert np.all(per_pixel < np.ptp(x, axis=0) / 100)  # the view resolves the data (not a unit window at 1e-140)
    assert np.all(np.abs(added[0][0] - x[far]) <= 1.5 * per_pixel), (added[0][0] - x[far]) / per_pixel


def test_a_dragged_handle_moves_the_mean_to_the_data_value_under_it(qtbot) -> None:
    """Edit start near 1e-140: the mean's handle dragged to a drawn point sets the start's mean to that point
    (data units), and the shape handle keeps an ellipse, not a circle (an absolute floor of 1e-12 made the
    minor axis as long as the major one)."""
    x = SCALES["1e-140"](_blobs())
    plot, scene, frame = _drawn(qtbot, x)
    starts: list = []
    plot.start_edited.connect(lambda w, m, c: starts.append((w, m, c)))
    plot.set_edit_mode(True)
    mean_handle, tip_handle = plot.handles[0], plot.handles[1]
    target = plot._shown_display[5]  # a drawn point, in display units
    mean_handle.setPos(QPointF(*target))
    mean_handle.sigPositionChangeFinished.emit(mean_handle)
    np.testing.assert_allclose(starts[-1][1][0] / 1e-140, x[5] / 1e-140, rtol=0, atol=1e-12)
    tip = np.array([tip_handle.pos().x(), tip_handle.pos().y()])
    tip_handle.setPos(QPointF(*(target + 1.5 * (tip - target))))  # stretch the major axis by half
    tip_handle.sigPositionChangeFinished.emit(tip_handle)
    cov = starts[-1][2][0]
    old = np.linalg.eigvalsh(frame.snapshot.covariances[0])
    new = np.linalg.eigvalsh(cov)
    np.testing.assert_allclose(new / 1e-280, [old[0] / 1e-280, 2.25 * old[1] / 1e-280], rtol=1e-6)


def test_the_table_shows_means_that_differ_where_they_differ(qtbot) -> None:
    """Means near 1e145 that differ in their 7th digit: each mean's text is distinct and reads back as the
    mean to within a tenth of its column's spread; headers name the data's columns; ordinary data keeps 5
    digits."""
    from gui.views.param_table import ParamTable

    table = ParamTable()
    qtbot.addWidget(table)
    table.set_column_names(("alpha", "beta"))
    x = _blobs()
    for data in (SCALES["1e145"](x), SCALES["1e8+noise"](x), x):
        snap = engine.run_to_end(data, FitConfig(n_components=3, seed=1))
        table.set_params(snap.weights, snap.means, snap.covariances)
        headers = [table.horizontalHeaderItem(c).text() for c in range(7)]
        assert headers[2:] == ["mean alpha", "mean beta", "var alpha", "cov alpha beta", "var beta"]
        for col in (0, 1):
            texts = [table.item(k, 2 + col).text() for k in range(3)]
            assert len(set(texts)) == 3, texts
            read = np.array([float(t) for t in texts])
            assert np.all(np.abs(read - snap.means[:, col]) < 0.1 * data[:, col].std())
    assert table.item(1, 2).text() == f"{snap.means[1, 0]:.5g}"  # unit scale: as before


def test_the_window_fits_and_shows_data_near_1e145(qtbot, window, tmp_path) -> None:
    """The window driven as a user would: open a file near 1e145, fit; the plot frames the data and the table's
    means differ (both 4-D in the vector table and 2-D)."""
    for d in (2, 4):
        path = tmp_path / f"huge{d}.csv"
        data = SCALES["1e145"](_blobs(d))
        np.savetxt(path, data, delimiter=",", fmt="%.17g", header=",".join(f"x{j}" for j in range(d)), comments="")
        window.data.open_path(str(path), None, ask_columns=False)
        qtbot.waitUntil(lambda p=path: window.state.scene is not None and window.state.dataset.source == str(p))
        assert run_fit(qtbot, window, k=3) in ("converged", "max iter")
        plot = window.plot
        (x0, x1), _ = (plot.display.range_to_data(i, *r) for i, r in enumerate(plot.view_box.viewRange()))
        assert x0 <= data[:, 0].min() and data[:, 0].max() <= x1 and x1 - x0 < 1.5 * np.ptp(data[:, 0])
        texts = [window.table.item(k, 2).text() for k in range(3)]
        assert len(set(texts)) == 3, texts


def _label_rects(view) -> list:
    """Scene rectangles of every visible name in the pairs matrix: axis labels and the diagonal's names (the
    latter as far as their cell shows them: the view box clips them)."""
    import pyqtgraph as pg

    rects = []
    for plot in [item for item in view.ci.items if isinstance(item, pg.PlotItem)]:
        for side in ("left", "bottom"):
            label = plot.getAxis(side).label
            if plot.getAxis(side).isVisible() and label.isVisible() and label.toPlainText():
                rects.append((label.toPlainText(), label.sceneBoundingRect()))
        for item in plot.items:
            if isinstance(item, pg.TextItem):
                rect = item.sceneBoundingRect().intersected(plot.vb.sceneBoundingRect())
                rects.append((item.textItem.toPlainText(), rect))
    return rects


def test_the_pairs_matrix_of_wine_names_each_column_once_without_overlap_or_prefix(qtbot) -> None:
    """Wine (13 columns, the first 8 shown): every column named once, no two names over each other (the rows'
    axis labels ran into each other), and no SI prefix such as "(x0.001)" on any cell's axis (cells show no
    ticks; pyqtgraph's prefix was computed once and kept)."""
    from sklearn.datasets import load_wine

    from gui.scene.frames import build_scene
    from gui.views.pairs_view import PairsView

    wine = load_wine()
    view = PairsView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    view.show_scene(build_scene(wine.data), tuple(wine.feature_names), tuple(range(13)))
    qtbot.waitUntil(lambda: not view.building, timeout=30_000)
    qtbot.wait(50)  # the layout settles
    rects = _label_rects(view)
    names = sorted(text for text, _ in rects)
    assert names == sorted(wine.feature_names[:8]), names
    for i, (a, ra) in enumerate(rects):
        for b, rb in rects[i + 1 :]:
            assert not ra.intersects(rb), (a, b)
    import pyqtgraph as pg

    for plot in [item for item in view.ci.items if isinstance(item, pg.PlotItem)]:
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            assert axis.autoSIPrefixScale == 1.0 and axis.labelUnitPrefix == "", axis.labelText


def test_both_axes_loadings_are_shown_however_long(qtbot) -> None:
    """The loadings label shows one line per axis, each cut to the label's width with '…' (the first axis's
    long line hid the second's); the tooltip has them in full."""
    from gui.controllers.view_control import ViewBar

    bar = ViewBar()
    qtbot.addWidget(bar)
    for widget in (bar.x, bar.y, bar.standardised):  # as the separating view shows the bar
        widget.hide()
    bar.resize(800, 60)
    bar.show()
    qtbot.waitUntil(lambda: bar.loadings.width() > 300)
    text = "LD1 = " + " ".join(f"+0.1·{'long_column_name_' * 3}{j}" for j in range(4)) + "\nLD2 = +0.9·x0 -0.1·x1"
    bar.loadings.set_loadings(text)
    lines = bar.loadings.text().split("\n")
    assert len(lines) == 2 and lines[0].startswith("LD1 = ") and lines[0].endswith("…")
    assert lines[1] == "LD2 = +0.9·x0 -0.1·x1" and bar.loadings.toolTip() == text
    metrics = bar.loadings.fontMetrics()
    assert all(metrics.horizontalAdvance(line) <= bar.loadings.width() for line in lines)


@pytest.mark.parametrize("scale", ["1e-140", "1e145", "1e8+noise"])
def test_one_column_data_draws_its_histogram_and_curves_at_any_scale(qtbot, scale: str) -> None:
    """1-D data: the histogram (its x one value longer than its y) and each component's density curve are drawn
    in display units, and the view's range in data units holds the data and the histogram's top."""
    from gui.scene.frames import build_frame, build_scene
    from gui.views.plot_view import PlotView

    x = SCALES[scale](_blobs(1))
    plot = PlotView()
    qtbot.addWidget(plot)
    plot.resize(600, 450)
    plot.show()
    scene = build_scene(x)
    plot.show_scene(scene, ("x0",))
    plot.show_frame(build_frame(scene, engine.run_to_end(x, FitConfig(n_components=3, seed=1)), np.zeros((1, 2))))
    edges, density = scene.histogram
    hx, hy = plot.histogram.getData()
    assert len(hx) == len(edges) and np.abs(hx).max() < DRAWABLE and np.abs(hy).max() < DRAWABLE
    (x0, x1), (y0, y1) = (plot.display.range_to_data(i, *r) for i, r in enumerate(plot.view_box.viewRange()))
    assert x0 <= x.min() and x.max() <= x1 and x1 - x0 <= 1.5 * np.ptp(x)
    assert y0 < 0 < density.max() <= y1
    for item in plot.ellipses[:3]:
        cx, cy = item.getData()
        assert np.isfinite(cx).all() and np.abs(cx).max() < DRAWABLE and np.abs(cy).max() < DRAWABLE
