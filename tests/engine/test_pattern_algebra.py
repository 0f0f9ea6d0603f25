"""The patterns' algebra of the missing-values E-step (engine/model/pattern_algebra.py) against the textbook, one
pattern and one component at a time: SciPy's log-density of the observed coordinates, and the sums of the points
completed by their conditional means plus the conditional covariance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from engine.model import pattern_algebra
from engine.model.features import pair_tables, quadratic_features
from engine.model.pattern_algebra import PatternAlgebra

D = 4
PATTERNS = np.array(
    [[1, 1, 1, 1], [1, 0, 1, 1], [0, 1, 0, 1], [1, 0, 0, 0], [0, 1, 1, 1], [0, 0, 1, 0]], dtype=bool
)  # the complete rows' pattern, one, two and three missing coordinates
OFFSETS = np.array([0.0, 0.3, -0.2, 1.1, 0.05, -0.7])


def _mixture(m: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-weights (M, K), means (M, K, D) and covariances (M, K, D, D), correlated, float64."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(m, k, D, D))
    weights = rng.dirichlet(np.ones(k), size=m)
    return np.log(weights), rng.normal(size=(m, k, D)), a @ a.swapaxes(-1, -2) + 0.5 * np.eye(D)


def _points(pattern: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points (n, D) with the pattern's missing coordinates at 0, as MissingPoints holds them."""
    return rng.normal(size=(n, D)) * pattern


def _pair_stats(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """[sum r, sum r x, sum r x_i x_j (i <= j)] (K, P) of points x (n, D) with responsibilities r (K, n)."""
    i, j = (t.numpy() for t in pair_tables(D)[:2])
    return np.concatenate([r.sum(1)[:, None], r @ x, r @ (x[:, i] * x[:, j])], axis=1)


@pytest.mark.parametrize("m, k", [(1, 3), (2, 2)])
def test_coefficients_are_scipys_log_density_of_the_observed_coordinates(m: int, k: int) -> None:
    lw, mu, cov = _mixture(m, k, seed=m + k)
    algebra = PatternAlgebra(PATTERNS, OFFSETS)
    algebra.prepare(lw, mu, cov)
    coef = algebra.coefficients()  # (n_pat, M, K, P)
    rng = np.random.default_rng(1)
    for p, pattern in enumerate(PATTERNS):
        x = _points(pattern, 5, rng)
        ours = np.einsum("np,mkp->mkn", quadratic_features(torch.from_numpy(x)).numpy(), coef[p])
        o = np.flatnonzero(pattern)
        for row in range(m):
            for c in range(k):
                law = multivariate_normal(mu[row, c, o], cov[row, c][np.ix_(o, o)])
                expected = lw[row, c] + law.logpdf(x[:, o]) + OFFSETS[p]
                np.testing.assert_allclose(ours[row, c], expected, rtol=1e-12, atol=1e-11)  # measured: 2.3e-13


def _completed_reference(
    stats_points: list[tuple[np.ndarray, np.ndarray]], mu: np.ndarray, cov: np.ndarray
) -> np.ndarray:
    """The completed sums (M, K, P): each pattern's points (n, D) and responsibilities (M, K, n), every point's
    missing coordinates replaced by E[x_m | x_o, k], plus sum r times Cov[x_m | x_o, k] on (m, m)."""
    m, k = mu.shape[:2]
    i, j = (t.numpy() for t in pair_tables(D)[:2])
    total = np.zeros((m, k, 1 + D + len(i)))
    for pattern, (x, r) in zip(PATTERNS, stats_points, strict=True):
        o, mis = np.flatnonzero(pattern), np.flatnonzero(~pattern)
        for row in range(m):
            for c in range(k):
                s = cov[row, c]
                gain = np.linalg.solve(s[np.ix_(o, o)], s[np.ix_(o, mis)]).T  # S_mo S_oo^-1
                filled = x.copy()
                filled[:, mis] = mu[row, c, mis] + (x[:, o] - mu[row, c, o]) @ gain.T
                second = np.zeros((D, D))
                second[np.ix_(mis, mis)] = s[np.ix_(mis, mis)] - gain @ s[np.ix_(o, mis)]
                w = r[row, c]
                outer = (w[:, None] * filled).T @ filled + w.sum() * second
                total[row, c] += np.concatenate([[w.sum()], w @ filled, outer[i, j]])
    return total


@pytest.mark.parametrize("m, k", [(1, 3), (2, 2)])
def test_completed_sums_are_the_points_completed_by_their_conditional_means(m: int, k: int) -> None:
    lw, mu, cov = _mixture(m, k, seed=10 + m)
    rng = np.random.default_rng(2)
    stats, points = [], []
    for pattern in PATTERNS:
        x = _points(pattern, 7, rng)
        r = rng.dirichlet(np.ones(k), size=(m, 7)).transpose(0, 2, 1)  # (M, K, n)
        stats.append(np.stack([_pair_stats(x, r[row]) for row in range(m)]))
        points.append((x, r))
    algebra = PatternAlgebra(PATTERNS, OFFSETS)
    algebra.prepare(lw, mu, cov)
    ours = algebra.completed(np.stack(stats)).numpy()
    expected = _completed_reference(points, mu, cov)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-13 * np.abs(expected).max())  # measured: 1.9e-16


def test_arrays_kept_across_e_steps_of_fewer_rows_give_a_fresh_algebras_numbers() -> None:
    """Restart rows stop (M shrinks) and a new fit can grow it again: every E-step's numbers are those of an
    algebra made for it alone."""
    rng = np.random.default_rng(3)
    kept = PatternAlgebra(PATTERNS, OFFSETS)
    for m, seed in [(3, 0), (2, 1), (2, 2), (3, 3)]:
        lw, mu, cov = _mixture(m, 2, seed)
        stats = rng.normal(size=(len(PATTERNS), m, 2, 1 + D + D * (D + 1) // 2))
        fresh = PatternAlgebra(PATTERNS, OFFSETS)
        for algebra in (kept, fresh):
            algebra.prepare(lw, mu, cov)
        np.testing.assert_array_equal(kept.coefficients(), fresh.coefficients())
        np.testing.assert_array_equal(kept.completed(stats).numpy(), fresh.completed(stats).numpy())
        for a, b in zip(kept.whitened(), fresh.whitened(), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("whitened", [False, True])
def test_patterns_in_blocks_give_the_numbers_of_one_block(monkeypatch, whitened: bool) -> None:
    """Many patterns (times restart-components) are taken in blocks, each solved for the coefficients and again
    for the completed sums: the numbers of all patterns at once, to rounding (the sums over the patterns add in
    another order)."""
    rng = np.random.default_rng(4)
    lw, mu, cov = _mixture(2, 3, seed=5)
    stats = rng.normal(size=(len(PATTERNS), 2, 3, 1 + D + D * (D + 1) // 2))
    one = PatternAlgebra(PATTERNS, OFFSETS)
    one.prepare(lw, mu, cov)
    monkeypatch.setattr(pattern_algebra, "BLOCK_NUMBERS", 4 * 6 * (D + 1) ** 2)  # 4 patterns a block, then 2
    blocks = PatternAlgebra(PATTERNS, OFFSETS)
    blocks.prepare(lw, mu, cov)
    assert len(blocks._blocks) == 2
    if whitened:
        for a, b in zip(one.whitened(), blocks.whitened(), strict=True):
            np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_array_equal(one.coefficients(), blocks.coefficients())
    expected = one.completed(stats).numpy()
    np.testing.assert_allclose(blocks.completed(stats).numpy(), expected, rtol=0, atol=1e-14 * np.abs(expected).max())
