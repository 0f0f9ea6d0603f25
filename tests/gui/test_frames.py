"""What the plot draws, against closed forms: ellipse radii, contour levels and lines, the data scene."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from gui.scene import frames


def test_ellipse_rings_are_at_mahalanobis_radius_1_2_3() -> None:
    mean = np.array([2.0, -1.0])
    cov = np.array([[3.0, 1.2], [1.2, 0.8]])
    rings = frames.ellipse_rings(mean, cov)
    breaks = np.flatnonzero(np.isnan(rings[:, 0]))
    assert len(breaks) == 3
    inv = np.linalg.inv(cov)
    start = 0
    for sigma, stop in zip(frames.SIGMAS, breaks, strict=True):
        d = rings[start:stop] - mean
        np.testing.assert_allclose(np.sqrt(np.einsum("ni,ij,nj->n", d, inv, d)), sigma, rtol=1e-12)
        start = stop + 1


def _mixture():
    w = np.array([0.3, 0.7])
    m = np.array([[0.0, 0.0], [4.0, 1.0]])
    c = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.7, -0.2], [-0.2, 1.5]]])
    return w, m, c


def _scipy_density(xy, w, m, c) -> np.ndarray:
    return sum(wk * np.atleast_1d(multivariate_normal(mk, ck).pdf(xy)) for wk, mk, ck in zip(w, m, c, strict=True))


def test_mixture_density_matches_scipy() -> None:
    w, m, c = _mixture()
    xy = np.random.default_rng(0).normal(size=(500, 2)) * 3
    log_p, joint = frames.mixture_log_density(xy, w, m, c)
    np.testing.assert_allclose(np.exp(log_p), _scipy_density(xy, w, m, c), rtol=1e-10)
    assert joint.shape == (500, 2)


def test_contour_levels_enclose_the_chosen_shares_of_points() -> None:
    w, m, c = _mixture()
    rng = np.random.default_rng(1)
    comp = rng.choice(2, 20_000, p=w)
    xy = np.array([rng.multivariate_normal(m[k], c[k]) for k in comp])
    log_p, _ = frames.mixture_log_density(xy, w, m, c)
    levels = frames.contour_levels(log_p)
    inside = [(np.exp(log_p) >= level).mean() for level in levels]
    np.testing.assert_allclose(sorted(inside), frames.CONTOUR_MASS, atol=1e-3)


def test_contour_lines_lie_on_their_level() -> None:
    w, m, c = _mixture()
    bounds = (-4.0, 8.0, -4.0, 5.0)
    level = float(_scipy_density(np.array([[1.5, 0.5]]), w, m, c)[0])
    lines = frames.contour_lines(bounds, w, m, c, np.array([level]), grid=200)
    pts = lines[~np.isnan(lines[:, 0])]
    assert len(pts) > 50
    # linear interpolation on a 200x200 grid: measured worst relative error 0.16%
    np.testing.assert_allclose(_scipy_density(pts, w, m, c), level, rtol=0.01)


def test_small_data_is_drawn_point_by_point() -> None:
    xy = np.random.default_rng(2).normal(size=(1000, 2))
    scene = frames.build_scene(xy)
    assert scene.image is None and not scene.sampled
    np.testing.assert_array_equal(scene.shown_points, xy)
    x0, x1, y0, y1 = scene.bounds
    assert x0 < xy[:, 0].min() and x1 > xy[:, 0].max() and y0 < xy[:, 1].min() and y1 > xy[:, 1].max()


def test_large_data_is_an_image_plus_a_sample() -> None:
    rng = np.random.default_rng(3)
    n = frames.SCATTER_LIMIT + 1
    # every point on the line y = 1 (x spread over [0, 10]): the image must be one column of cells at
    # y = 1, x running along axis 0
    xy = np.column_stack([rng.uniform(0, 10, n), np.ones(n)])
    xy[0] = [0.0, 0.0]
    xy[1] = [10.0, 2.0]
    scene = frames.build_scene(xy)
    assert scene.sampled and len(scene.shown) == frames.DOTS_SHOWN
    assert len(np.unique(scene.shown)) == frames.DOTS_SHOWN
    np.testing.assert_array_equal(scene.shown_points, xy[scene.shown])
    assert scene.image.shape == (frames.IMAGE_BINS, frames.IMAGE_BINS)
    assert scene.image.max() == pytest.approx(1.0) and scene.image.min() == 0.0
    x0, x1, y0, y1 = scene.bounds
    filled = np.count_nonzero(scene.image, axis=0)  # non-empty cells per y row
    row = int(np.argmax(filled))
    assert y0 + row * (y1 - y0) / frames.IMAGE_BINS <= 1.0 <= y0 + (row + 1) * (y1 - y0) / frames.IMAGE_BINS
    assert filled[row] > 0.7 * frames.IMAGE_BINS  # x spread along axis 0
    assert sorted(filled)[-2] == 1  # the two lone points


def test_empty_data_has_a_scene() -> None:
    scene = frames.build_scene(np.empty((0, 2)))
    assert len(scene.shown) == 0 and scene.bounds == (-1.0, 1.0, -1.0, 1.0)


def test_nice_ticks() -> None:
    from gui.scene.svg_export import nice_ticks

    np.testing.assert_allclose(nice_ticks(-2.3, 11.2), [-2, 0, 2, 4, 6, 8, 10])
    np.testing.assert_allclose(nice_ticks(0.0, 1.0), [0, 0.2, 0.4, 0.6, 0.8, 1.0])
