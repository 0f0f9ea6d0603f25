"""Weighted points drawn by weight (issue 25): a dot's area is proportional to its weight (the median positive weight
4 px wide, clamped to a readable range), a weight of 0 a small hollow square; in the plot and
in the pairs matrix. The references: the closed form sqrt(w / median) and the pixels painted."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from gui_helpers import run_fit
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

from gui.scene.weights import HOLLOW_PX, LARGEST_PX, SMALLEST_PX, TYPICAL_PX, point_sides
from gui.views.point_cloud import PointCloudItem


def test_a_dots_area_is_proportional_to_its_weight_within_the_clamp() -> None:
    w = np.array([0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 0.001, 1e6])
    sides = point_sides(w)
    median = np.median(w[w > 0])  # 4 (of 7 positive weights): drawn TYPICAL_PX wide
    assert median == 4.0 and sides[3] == TYPICAL_PX and sides[0] == 0.0
    np.testing.assert_allclose(sides[1:6] ** 2 / w[1:6], TYPICAL_PX**2 / median, rtol=1e-15)  # area / weight
    assert sides[6] == SMALLEST_PX and sides[7] == LARGEST_PX  # clamped: visible, and not hiding neighbours
    assert point_sides(np.array([3.0, 3.0])).tolist() == [TYPICAL_PX, TYPICAL_PX]


def _painted(xy: np.ndarray, sides: np.ndarray | None, size: int = 80) -> np.ndarray:
    """The item's dots painted on white (size, size): True where ink is (one item pixel = one image pixel)."""
    scene = QGraphicsScene()
    item = PointCloudItem()
    item.set_points(xy, None, sides)
    scene.addItem(item)
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    scene.render(painter, QRectF(0, 0, size, size), QRectF(0, 0, size, size))
    painter.end()
    rgb = np.frombuffer(image.constBits(), np.uint8).reshape(size, size, 4)[..., :3]
    return (rgb < 250).any(axis=2)


def test_the_painted_dots_have_the_weights_areas_and_a_weight_0_is_hollow(qtbot) -> None:
    # the corner dots keep the others inside the item's rectangle (a scene rendered without a view has no pixel
    # margin around it)
    xy = np.array([[20.0, 20.0], [60.0, 20.0], [20.0, 60.0], [60.0, 60.0], [2.0, 2.0], [78.0, 78.0]])
    w = np.array([1.0, 9.0, 0.0, 1.0, 1.0, 1.0])
    ink = _painted(xy, point_sides(w))

    def area(x: int, y: int) -> int:
        return int(ink[y - 9 : y + 10, x - 9 : x + 10].sum())

    assert area(20, 20) == TYPICAL_PX**2 and area(60, 20) == 9 * TYPICAL_PX**2  # 9 times the weight, 9 times the area
    assert area(20, 60) == 4 * (HOLLOW_PX - 1) and not ink[60, 20]  # an outline, its middle empty
    unweighted = _painted(xy, None)
    assert int(unweighted[11:30, 51:70].sum()) == 9  # without weights: every dot 3 x 3, as before


def _assert_svg_dots(svg: str, sides: np.ndarray) -> None:
    """The SVG export's squares: one per point, the plot's sides, the weight-0 points hollow HOLLOW_PX squares."""
    import xml.etree.ElementTree as ET

    rects = [r for r in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "point"]
    drawn = sorted(float(r.get("width")) for r in rects)
    expected = sorted(np.where(sides > 0, sides, HOLLOW_PX))
    np.testing.assert_allclose(drawn, expected, rtol=1e-5)  # (written with 6 digits)
    assert sum(r.get("fill") == "none" for r in rects) == int((sides == 0).sum())


@pytest.fixture
def weighted_file(tmp_path):
    path = tmp_path / "xyzw.csv"
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0.0, 1.0, (40, 3)), rng.normal(4.0, 0.7, (40, 3))])
    w = rng.integers(0, 5, 80).astype(np.float64)
    np.savetxt(path, np.column_stack([x, w]), delimiter=",", header="a,b,c,w", comments="")
    return path, w


def test_the_plot_and_the_pairs_matrix_draw_the_weights(qtbot, window, weighted_file) -> None:
    path, w = weighted_file
    window.data.open_path(str(path))
    picked = lambda: window.data.column_picker is not None and window.data.column_picker.isVisible()  # noqa: E731
    qtbot.waitUntil(picked, timeout=30_000)
    window.data.column_picker.set_weights(3)
    window.data.column_picker.accept()
    qtbot.waitUntil(lambda: window.state.weights is not None, timeout=30_000)
    np.testing.assert_array_equal(window.plot.points.sides, point_sides(w))
    run_fit(qtbot, window, k=2)
    np.testing.assert_array_equal(window.plot.points.sides, point_sides(w))  # coloured by component, still sized
    assert f"<br>weight {w[7]:.6g}<br>" in window.plot.describe_point(7)  # the hover says how much a point counts
    _assert_svg_dots(window.plot.svg_text(), point_sides(w))
    from gui.controllers.view_control import KINDS

    window.view_bar.kind.setCurrentIndex([k for k, _ in KINDS].index("pairs"))
    window.views.choose()
    qtbot.waitUntil(lambda: bool(window.pairs.cells) and not window.pairs.building, timeout=30_000)
    for _plot, scatter, _xy, _rings in window.pairs.cells.values():
        np.testing.assert_array_equal(scatter.sides, point_sides(w))
    bars = [  # the diagonal's histograms: sums of the weights in each column's 20 bins
        item.getData()[1].tolist()
        for plot in window.pairs.ci.items
        if isinstance(plot, pg.PlotItem)
        for item in plot.items
        if isinstance(item, pg.PlotCurveItem) and item.opts.get("stepMode") == "center"
    ]
    x = np.loadtxt(path, delimiter=",", skiprows=1)
    assert sorted(bars) == sorted(np.histogram(x[:, j], bins=20, weights=w)[0].tolist() for j in range(3))
    window.data.show_demo()  # other data: plain dots again
    qtbot.waitUntil(lambda: window.state.weights is None and window.state.scene is not None, timeout=30_000)
    assert window.plot.points.sides is None


def test_the_contours_enclose_shares_of_the_weight() -> None:
    """With weights, a contour at mass m is the lowest density with more than m of the weight at or above it and at
    most m strictly above it (the shares counted by weight, as the fit counts the points); a fit's frame uses them."""
    import engine
    from gui.scene.frames import CONTOUR_MASS, build_frame, build_scene, contour_levels, mixture_log_density

    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(0.0, 1.0, (100, 2)), rng.normal(4.0, 0.5, (100, 2))])
    w = np.where(np.arange(200) < 100, 5.0, 1.0) * rng.integers(0, 3, 200)  # the first cluster weighs more
    snap = engine.run_to_end(x, engine.FitConfig(n_components=2, max_iter=50), weights=w)
    log_p = mixture_log_density(x, snap.weights, snap.means, snap.covariances)[0]
    weighted = contour_levels(log_p, counts=w)
    levels = np.log(weighted)
    for level, m in zip(levels, sorted(CONTOUR_MASS, reverse=True), strict=True):  # levels rise as the mass falls
        assert w[log_p >= level].sum() / w.sum() > m >= w[log_p > level].sum() / w.sum()
    assert not np.allclose(levels, np.log(contour_levels(log_p)))  # the weights moved them
    frame = build_frame(build_scene(x, weights=w), snap, np.zeros((1, 2)))
    np.testing.assert_array_equal(frame.levels, weighted)
    plain = build_frame(build_scene(x), snap, np.zeros((1, 2)))
    np.testing.assert_array_equal(plain.levels, contour_levels(log_p))  # without weights: as before


def test_the_histogram_and_the_density_image_count_the_weights() -> None:
    """1-D data's histogram and the density image under more than SCATTER_LIMIT points are those of the rows
    repeated w times (whole weights), on the scene's own bins."""
    import engine
    from gui.scene.frames import IMAGE_BINS, SCATTER_LIMIT, build_scene, image_of

    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 1))
    w = rng.integers(0, 4, 300).astype(np.float64)
    edges, density = build_scene(x, weights=w).histogram
    np.testing.assert_allclose(
        density, np.histogram(np.repeat(x[:, 0], w.astype(int)), edges, density=True)[0], rtol=1e-14
    )
    plain = build_scene(x).histogram[1]
    assert not np.allclose(plain, density) and np.array_equal(plain, np.histogram(x[:, 0], edges, density=True)[0])
    xy = rng.normal(size=(SCATTER_LIMIT + 10_000, 2))
    w = rng.integers(0, 3, len(xy)).astype(np.float64)
    scene = build_scene(xy, weights=w)
    repeated = engine.bin_counts(np.repeat(xy, w.astype(int), axis=0), scene.bounds, IMAGE_BINS)
    np.testing.assert_array_equal(scene.image, image_of(repeated))
    assert np.array_equal(build_scene(xy).image, image_of(engine.bin_counts(xy, scene.bounds, IMAGE_BINS)))
