"""Exact 2-D views of D-dimensional mixtures (engine/projection.py) against SciPy and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import multivariate_normal

from engine.model.projection import columns_view, moved_mean, pca_view, reshaped_covariance, separating_view


def _mixture(d: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(0.0, 3.0, (k, d))
    a = rng.normal(size=(k, d, d))
    cov = a @ np.swapaxes(a, 1, 2) / d + 0.3 * np.eye(d)
    return weights, means, cov


def _view_density(view, weights, means, cov, y: np.ndarray) -> float:
    vm, vc = view.means(means), view.covariances(cov)
    return float(sum(w * multivariate_normal(m, c).pdf(y) for w, m, c in zip(weights, vm, vc, strict=True)))


def _mixture_pdf(weights, means, cov, x: np.ndarray) -> float:
    return float(sum(w * multivariate_normal(m, c).pdf(x) for w, m, c in zip(weights, means, cov, strict=True)))


@pytest.mark.parametrize("columns", [(0, 2), (2, 1)])
def test_a_columns_view_is_the_marginal_density(columns) -> None:
    """The view's density at a point equals the 3-D mixture's density integrated over the third column
    (SciPy's quadrature: an independent route to the marginal)."""
    weights, means, cov = _mixture(3, 3, seed=1)
    view = columns_view(3, *columns)
    other = ({0, 1, 2} - set(columns)).pop()
    for y in ([0.5, -1.0], [2.0, 3.0], [-3.0, 0.0]):

        def full(t, y=y):
            x = np.empty(3)
            x[list(columns)] = y
            x[other] = t
            return _mixture_pdf(weights, means, cov, x)

        marginal, _ = integrate.quad(full, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-10)
        assert _view_density(view, weights, means, cov, np.array(y)) == pytest.approx(marginal, rel=1e-8)


def test_an_oblique_view_is_the_density_of_the_projected_points() -> None:
    """Principal axes of 3-D data (orthonormal, centred): the view's density at y is the integral of the 3-D
    density along the line x = c + A y + t u (u orthogonal to the plane, Jacobian 1)."""
    weights, means, cov = _mixture(3, 2, seed=4)
    x = np.random.default_rng(0).normal(size=(400, 3)) @ np.array([[2.0, 0.3, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 0.4]])
    view = pca_view(x)
    u = np.cross(view.axes[:, 0], view.axes[:, 1])
    for y in ([0.0, 0.0], [1.5, -0.5], [-2.0, 1.0]):
        base = view.center + view.axes @ np.array(y)
        marginal, _ = integrate.quad(
            lambda t, base=base: _mixture_pdf(weights, means, cov, base + t * u), -np.inf, np.inf, epsrel=1e-10
        )
        assert _view_density(view, weights, means, cov, np.array(y)) == pytest.approx(marginal, rel=1e-7)


def test_principal_axes_are_scikit_learns() -> None:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 5)) @ rng.normal(size=(5, 5))
    view = pca_view(x)
    reference = PCA(2).fit(x)
    for j in range(2):  # the same axes up to sign
        assert abs(view.axes[:, j] @ reference.components_[j]) == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(view.points(x), (x - x.mean(0)) @ view.axes)


def test_the_separating_axes_find_the_direction_the_components_differ_in() -> None:
    """Two components that differ along one oblique direction in 6-D, with the most spread elsewhere:
    LD1 is that direction (its loadings name it), though PC1 is not."""
    direction = np.array([1.0, -2.0, 0.0, 0.5, 0.0, 0.0])
    direction /= np.linalg.norm(direction)
    cov = np.diag([1.0, 1.0, 25.0, 1.0, 1.0, 1.0])  # most spread along column 2, shared by both
    means = np.stack([-2.0 * direction, 2.0 * direction])
    view = separating_view(np.array([0.5, 0.5]), means, np.stack([cov, cov]))
    # Fisher's direction is W^-1 (mu1 - mu0), here proportional to the direction (W is the identity on it)
    fisher = np.linalg.solve(cov, means[1] - means[0])
    assert abs(view.axes[:, 0] @ fisher / np.linalg.norm(fisher)) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="two or more components"):
        separating_view(np.array([1.0]), means[:1], cov[None])


def test_three_components_give_two_separating_axes_in_their_plane() -> None:
    """Three means in a plane of 5-D space with a shared spherical covariance: LD1 and LD2 span that plane."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(5, 2)))[0]
    means = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 3.0]]) @ basis.T
    view = separating_view(np.full(3, 1 / 3), means, np.broadcast_to(np.eye(5), (3, 5, 5)))
    inside = basis @ (basis.T @ view.axes)  # the axes' part in the means' plane
    np.testing.assert_allclose(inside, view.axes, atol=1e-12)


def test_moving_a_mean_in_a_view_changes_only_its_plane() -> None:
    weights, means, cov = _mixture(5, 1, seed=2)
    x = np.random.default_rng(1).normal(size=(300, 5)) * [3, 2, 1, 1, 0.5]
    for view in (columns_view(5, 1, 3), pca_view(x), separating_view(*_mixture(5, 3, seed=7))):
        target = np.array([1.25, -0.75])
        new = moved_mean(view, means[0], target)
        np.testing.assert_allclose(view.means(new), target, atol=1e-12)
        u = np.linalg.qr(view.axes)[0]
        rest = np.eye(5) - u @ u.T  # the part orthogonal to the view's plane
        np.testing.assert_allclose(rest @ new, rest @ means[0], atol=1e-12)
    exact = moved_mean(columns_view(5, 1, 3), means[0], target)
    assert exact[1] == 1.25 and exact[3] == -0.75 and np.array_equal(exact[[0, 2, 4]], means[0][[0, 2, 4]])


def test_reshaping_a_covariance_in_a_view_changes_only_its_plane() -> None:
    """Its view becomes the target exactly (to rounding), its block orthogonal to the plane is unchanged, and it
    stays positive definite."""
    _, _, cov = _mixture(6, 1, seed=5)
    x = np.random.default_rng(2).normal(size=(300, 6)) * [3, 2, 1, 1, 0.5, 0.2]
    target = np.array([[2.0, 0.6], [0.6, 0.5]])
    for view in (columns_view(6, 4, 0), pca_view(x), separating_view(*_mixture(6, 3, seed=8))):
        new = reshaped_covariance(view, cov[0], target)
        np.testing.assert_allclose(view.covariances(new), target, rtol=1e-10, atol=1e-12)
        full = np.linalg.qr(np.column_stack([view.axes, np.random.default_rng(0).normal(size=(6, 4))]))[0]
        rest = full[:, 2:]  # an orthonormal basis of the plane's complement
        np.testing.assert_allclose(rest.T @ new @ rest, rest.T @ cov[0] @ rest, rtol=1e-10, atol=1e-12)
        assert np.linalg.eigvalsh(new).min() > 0
        np.testing.assert_array_equal(new, new.T)
    two_d = reshaped_covariance(columns_view(2, 1, 0), cov[0][:2, :2], target)  # 2-D data: the target itself
    np.testing.assert_array_equal(two_d, target[::-1, ::-1])


def test_standardised_principal_axes_are_scikit_learns_pca_of_the_scaled_columns() -> None:
    """Columns in mixed units (wine: proline in the hundreds beside hue near 1): the raw principal axes are the
    large-unit columns; the standardised ones are scikit-learn's PCA of StandardScaler's columns (scores equal up to
    each axis's sign and the ddof of the two standard deviations), the default there, and said in the labels."""
    from sklearn.datasets import load_wine
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    from engine.model.projection import mixed_units

    wine = load_wine()
    x, names = wine.data, tuple(wine.feature_names)
    raw = pca_view(x, standardised=False)
    assert raw.loadings(names).startswith("PC1 = +1.00·proline") and mixed_units(x)
    view = pca_view(x)  # the default here
    assert view.labels == ("PC1 (standardised)", "PC2 (standardised)")
    assert view.loadings(names).startswith("PC1 (standardised) = +0.42·flavanoids")
    n = len(x)
    theirs = PCA(2).fit_transform(StandardScaler().fit_transform(x)) * np.sqrt((n - 1) / n)
    ours = view.points(x)
    signs = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours, theirs * signs, rtol=1e-9, atol=1e-9)
    assert not mixed_units(x[:, [0, 1, 3]] / x[:, [0, 1, 3]].std(0))  # one scale: raw axes by default
    assert pca_view(x[:, [0, 1, 3]] / x[:, [0, 1, 3]].std(0)).labels == ("PC1", "PC2")
