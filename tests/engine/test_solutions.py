"""Solution grouping and component matching against independent references: SciPy's assignment solver,
numerical integration of the Bhattacharyya coefficient, sample moments, and constructed label switches."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from engine import FitConfig, run_to_end
from engine import solutions as S
from engine.gallery import build_gallery, write_gallery
from engine.snapshot import RestartTable


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 12])
def test_linear_assignment_matches_scipy(k) -> None:
    rng = np.random.default_rng(k)
    for _ in range(20):
        cost = rng.exponential(size=(k, k))
        ours = S.linear_assignment(cost)
        rows, cols = linear_sum_assignment(cost)
        assert sorted(ours) == list(range(k))
        assert cost[np.arange(k), ours].sum() == pytest.approx(cost[rows, cols].sum(), rel=1e-12)


def test_bhattacharyya_matches_numerical_integration() -> None:
    m1, c1 = np.array([0.0, 0.0]), np.array([[1.0, 0.4], [0.4, 0.8]])
    m2, c2 = np.array([1.0, -0.5]), np.array([[0.6, -0.1], [-0.1, 1.5]])
    xs = np.linspace(-8, 9, 801)
    gx, gy = np.meshgrid(xs, xs)
    pts = np.stack([gx, gy], axis=-1)

    def pdf(m, c):
        d = pts - m
        maha = np.einsum("...i,ij,...j->...", d, np.linalg.inv(c), d)
        return np.exp(-0.5 * maha) / (2 * np.pi * np.sqrt(np.linalg.det(c)))

    coefficient = np.sqrt(pdf(m1, c1) * pdf(m2, c2)).sum() * (xs[1] - xs[0]) ** 2
    assert S.bhattacharyya(m1, c1, m2, c2) == pytest.approx(-np.log(coefficient), rel=1e-6)
    assert S.bhattacharyya(m1, c1, m1, c1) == pytest.approx(0.0, abs=1e-12)


def test_moment_merge_matches_sample_moments() -> None:
    rng = np.random.default_rng(0)
    w = np.array([0.3, 0.7])
    m = np.array([[0.0, 0.0], [3.0, 1.0]])
    c = np.array([[[1.0, 0.2], [0.2, 0.5]], [[0.5, 0.0], [0.0, 2.0]]])
    n = 400_000
    comp = rng.choice(2, n, p=w)
    x = m[comp] + np.einsum("nij,nj->ni", np.linalg.cholesky(c)[comp], rng.standard_normal((n, 2)))
    total, mean, cov = S.moment_merge(w, m, c)
    assert total == pytest.approx(1.0)
    np.testing.assert_allclose(mean, x.mean(0), atol=0.01)
    np.testing.assert_allclose(cov, np.cov(x.T), atol=0.02)


def _table(params: list[tuple], mean_ll: list[float], initial_loss=None) -> RestartTable:
    r = len(params)
    w = np.stack([p[0] for p in params])
    m = np.stack([p[1] for p in params])
    c = np.stack([p[2] for p in params])
    return RestartTable(
        np.arange(r),
        np.asarray(initial_loss if initial_loss is not None else np.zeros(r), float),
        np.asarray(mean_ll, float),
        np.full(r, 10),
        np.ones(r, bool),
        w,
        m,
        c,
    )


W = np.array([0.3, 0.3, 0.4])
M = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 6.0]])
C = np.array([np.eye(2), np.eye(2) * 0.5, [[1.0, 0.3], [0.3, 0.7]]])


def test_label_switched_restarts_are_one_solution() -> None:
    params = []
    for perm in itertools.permutations(range(3)):
        perm = list(perm)
        params.append((W[perm], M[perm] + 1e-4, C[perm]))
    sols = S.group_restarts(_table(params, [-2.0] * 6), n_samples=100)
    assert len(sols) == 1 and sorted(sols[0].restarts) == list(range(6))
    perm = S.match_components(M, C, params[3][1], params[3][2])
    np.testing.assert_allclose(params[3][1][perm], M + 1e-4)


def test_a_merged_solution_is_told_apart_and_described() -> None:
    # B: components 0 and 1 of A moment-merged into one; component 2 of A split into two halves along y whose
    # equal-weight merge is exactly component 2 (means 3 +- 0.5 in y, covariance C2 - 0.25 e_y e_y^T)
    _, merged_mean, merged_cov = S.moment_merge(W[[0, 1]], M[[0, 1]], C[[0, 1]])
    half_cov = C[2] - np.array([[0.0, 0.0], [0.0, 0.25]])
    wb = np.array([0.2, 0.6, 0.2])
    mb = np.array([M[2] - [0.0, 0.5], merged_mean, M[2] + [0.0, 0.5]])
    cb = np.array([half_cov, merged_cov, half_cov])
    np.testing.assert_allclose(S.moment_merge(wb[[0, 2]], mb[[0, 2]], cb[[0, 2]])[2], C[2])  # the construction
    t = _table([(W, M, C), (wb, mb, cb), (W[::-1], M[::-1], C[::-1])], [-2.0, -2.5, -2.0])
    sols = S.group_restarts(t, n_samples=1000)
    assert [s.label for s in sols] == ["A", "B"]
    assert sols[0].restarts == (0, 2) and sols[1].restarts == (1,)
    assert sols[1].relation == (
        "merges two clusters (components 0 and 1 of solution A); splits a cluster (component 2 of solution A)"
    )
    text = S.summary(sols, 3)
    assert text == (
        "solution A (log-likelihood -2000.00) reached by 2 of 3 restarts; solution B (log-likelihood "
        "-2500.00) merges two clusters (components 0 and 1 of solution A); splits a cluster (component "
        "2 of solution A), reached by 1"
    )


def test_an_unrelated_optimum_is_called_so() -> None:
    other = (W, M * np.array([1.0, -1.0]), C)  # mirrored: no merge, no split
    assert S.describe_relation(W, M, C, *other) == "a different local optimum"


def test_forum_choice_says_whether_the_lowest_initial_loss_won() -> None:
    far = (W, M + 10.0, C)
    t = _table([(W, M, C), far], [-2.0, -3.0], initial_loss=[5.0, 1.0])
    sols = S.group_restarts(t, n_samples=10)
    text = S.forum_choice(t, sols)
    assert "picks restart 1: solution B, not the best final solution (A" in text
    t2 = _table([(W, M, C), far], [-2.0, -3.0], initial_loss=[0.5, 1.0])
    assert S.forum_choice(t2, S.group_restarts(t2, 10)).endswith("solution A, the best final solution")


def test_gallery_of_a_real_fit(tmp_path) -> None:
    from data_sets import blobs

    x = blobs(3, 600)
    snap = run_to_end(x, FitConfig(n_components=3, restarts=12, tol=1e-10, max_iter=5000))
    gallery = build_gallery(snap)
    assert len(gallery.rows) == 12
    assert sum(len(s.restarts) for s in gallery.solutions) == 12
    best = gallery.solutions[0]
    assert snap.restart in best.restarts  # the shown restart is the best log-likelihood
    for s in gallery.solutions:  # members really share parameters up to order
        for r in s.restarts:
            t = snap.restarts
            assert S.same_solution(s.weights, s.means, s.covariances, t.weights[r], t.means[r], t.covariances[r])
    path = tmp_path / "g.csv"
    write_gallery(path, gallery)
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[:3] == ["restart", "seed", "initial_loss"] and len(lines) == 13
    write_gallery(tmp_path / "g.json", gallery)
    assert "NaN" not in (tmp_path / "g.json").read_text()


def test_restarts_stopped_along_one_ridge_are_one_solution() -> None:
    # a chain: each restart's third component a little further along than the last (neighbours 0.02 apart in
    # Bhattacharyya distance), the ends 0.5 apart: one optimum reached up to the tolerance, not eight
    params, lls = [], []
    for i in range(8):
        m = M.copy()
        m[2, 1] += 0.2 * i  # 0.2 sd of a unit-variance axis per step
        params.append((W, m, C))
        lls.append(-2.0 - 1e-4 * i)
    t = _table(params, lls)
    step = S.bhattacharyya(params[0][1], params[0][2], params[1][1], params[1][2]).max()
    ends = S.bhattacharyya(params[0][1], params[0][2], params[-1][1], params[-1][2]).max()
    assert step < S.SAME_SOLUTION < ends
    sols = S.group_restarts(t, n_samples=100)
    assert len(sols) == 1 and sols[0].restarts == tuple(range(8))
    # the chain is joined whatever the order the restarts come in (a late restart can link two chains)
    t2 = _table(
        [params[i] for i in (0, 7, 2, 5, 4, 3, 6, 1)],
        [-2.0, -2.0001, -2.0002, -2.0003, -2.0004, -2.0005, -2.0006, -2.0007],
    )
    assert len(S.group_restarts(t2, n_samples=100)) == 1


def test_fifty_forum_restarts_at_the_default_tolerance_are_a_few_solutions() -> None:
    from engine.data import FORUM_PRESET, sample_mixture

    x = sample_mixture(FORUM_PRESET["weights"], FORUM_PRESET["means"], FORUM_PRESET["covariances"], 1000, 0)[0]
    snap = run_to_end(x, FitConfig(n_components=3, restarts=50))
    sols = build_gallery(snap).solutions
    # measured: A (-4567.75, 7 restarts), B (-4567.85, 25), and two slow ridges near -4576 and -4577; grouping
    # only restarts within 0.01 of the solution's best gave 14 "solutions", most of them near-duplicates
    assert len(sols) == 4 and sum(len(s.restarts) for s in sols) == 50
    assert sols[0].log_likelihood == pytest.approx(-4567.748, abs=0.01)
