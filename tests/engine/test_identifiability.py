"""How often a solution's components are identifiable (issue 25): constructed cases with known answers, and the
shares recounted independently from the bootstrap's replicates (components shuffled, matched again by SciPy's
linear_sum_assignment on a Bhattacharyya distance written here, the mutual nearest neighbours counted)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy import linalg
from scipy.optimize import linear_sum_assignment

from engine import FitConfig, run_to_end
from engine.errors import UserError
from engine.selection.bootstrap import bootstrap
from engine.selection.gallery import build_gallery, with_identifiability, write_gallery
from engine.selection.identifiability import (
    MARGIN,
    Identifiability,
    describe_identifiability,
    gallery_identifiability,
    identifiability,
    identified,
)
from engine.selection.solutions import OPTIMUM, PLATEAU, Solution

TWO = FitConfig(n_components=2)


def _bhattacharyya(m1, c1, m2, c2) -> float:
    """The textbook's 1/8 dm' S^-1 dm + 1/2 ln(det S / sqrt(det S1 det S2)), S = (S1 + S2) / 2, one pair."""
    s = (c1 + c2) / 2.0
    dm = m1 - m2
    return float(
        dm @ linalg.solve(s, dm) / 8.0 + 0.5 * np.log(linalg.det(s) / np.sqrt(linalg.det(c1) * linalg.det(c2)))
    )


def test_a_replicate_identifies_a_component_when_its_match_is_clearly_nearest() -> None:
    """1-D, the fit's components at 0 and 4 (unit variance): a replicate near them identifies both; one with both
    components midway identifies neither; one with one component midway loses that one only (it is as near to
    the other fit component: d = 0.5 against 0.5), and the other keeps its own (d(0, 0.2) = 0.005 is far less
    than half of d(0, 2) = 0.5). A lone component is always identified."""
    means, covs = np.array([[0.0], [4.0]]), np.ones((2, 1, 1))
    reps = np.array([[[0.2], [3.9]], [[2.0], [2.01]], [[0.2], [2.0]]])
    assert identified(means, covs, reps, np.ones((3, 2, 1, 1))).tolist() == [
        [True, True],
        [False, False],
        [True, False],
    ]
    lone = identified(means[:1], covs[:1], np.array([[[9.0]]]), np.ones((1, 1, 1, 1)))
    assert lone.tolist() == [[True]]


def test_the_margin_is_a_ratio_of_distances() -> None:
    """Component 1 of the replicate at x: d(4, x) = (4 - x)^2 / 8 against d(0, x) = x^2 / 8. Identified iff
    MARGIN (4 - x)^2 < x^2 (x < 4), i.e. x > 4 sqrt(2) / (1 + sqrt(2)) = 2.343 for MARGIN 2: either side of it."""
    edge = 4.0 * np.sqrt(MARGIN) / (1.0 + np.sqrt(MARGIN))
    means, covs = np.array([[0.0], [4.0]]), np.ones((2, 1, 1))
    reps = np.array([[[0.0], [edge - 0.01]], [[0.0], [edge + 0.01]]])
    assert identified(means, covs, reps, np.ones((2, 2, 1, 1)))[:, 1].tolist() == [False, True]


def test_well_separated_components_are_always_identified() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + 6.0])
    fitted = (np.array([0.5, 0.5]), np.array([[0.0, 0.0], [6.0, 6.0]]), np.stack([np.eye(2)] * 2))
    got = identifiability(x, fitted, TWO, replicates=30)
    assert got.solution == 1.0 and got.components.tolist() == [1.0, 1.0]
    assert (got.used, got.failed, got.requested) == (30, 0, 30)


@pytest.mark.parametrize("half", [0.1, 0.8])  # two components at one place; one Gaussian split into its halves
def test_two_components_of_one_cluster_are_rarely_identified(half: float) -> None:
    """One round Gaussian fitted with two components: replicates move them anywhere around the circle (measured:
    0% and 4% of 50 replicates identify both)."""
    x = np.random.default_rng(1).normal(size=(500, 2))
    cov = np.diag([1.0 - half**2, 1.0])  # the halves' covariance, so that the mixture's is about the data's
    fitted = (np.array([0.5, 0.5]), np.array([[-half, 0.0], [half, 0.0]]), np.stack([cov, cov]))
    assert identifiability(x, fitted, TWO).solution < 0.2


def test_the_shares_are_the_mutual_nearest_neighbours_counted_independently() -> None:
    """Old Faithful, K = 3 (measured: 35% of 40 replicates identify all three, component 2 alone in 35%: both
    outcomes occur): the replicates' components shuffled, matched again by linear_sum_assignment, and counted by
    the definition."""
    x = np.loadtxt("tests/data/old_faithful.csv", delimiter=",", skiprows=1, usecols=(1, 2))
    cfg = FitConfig(n_components=3, restarts=5, seed=3)
    snap = run_to_end(x, cfg)
    fitted = (snap.weights, snap.means, snap.covariances)
    got = identifiability(x, fitted, cfg, replicates=40, seed=7)
    boot = bootstrap(x, fitted, cfg, 40, seed=7)  # the same replicates
    rng = np.random.default_rng(0)
    hits = np.zeros((40, 3), dtype=bool)
    for b in range(40):
        shuffle = rng.permutation(3)
        m, c = boot.means[b][shuffle], boot.covariances[b][shuffle]
        d = np.array(
            [[_bhattacharyya(snap.means[k], snap.covariances[k], m[j], c[j]) for j in range(3)] for k in range(3)]
        )
        rows, cols = linear_sum_assignment(d)
        assert (shuffle[cols] == rows).all()  # the bootstrap's own matching, found again
        for k, j in zip(rows, cols, strict=True):
            hits[b, k] = all(MARGIN * d[k, j] < d[other, j] for other in range(3) if other != k) and all(
                MARGIN * d[k, j] < d[k, i] for i in range(3) if i != j
            )
    assert 0.0 < hits.all(axis=1).mean() < 1.0
    assert got.solution == hits.all(axis=1).mean()
    np.testing.assert_array_equal(got.components, hits.mean(axis=0))


def test_the_gallery_bootstraps_its_optima_from_one_seed() -> None:
    """Optima only (a plateau is no answer), each as identifiability from config.seed alone would give it."""
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(size=(200, 1)), rng.normal(size=(200, 1)) + 5.0])
    cfg = FitConfig(n_components=2, seed=11)

    def solution(label: str, kind: str, means: list[float]) -> Solution:
        return Solution(label, (0,), 0.0, np.array([0.5, 0.5]), np.array(means)[:, None], np.ones((2, 1, 1)), "", kind)

    sols = [solution("A", OPTIMUM, [0.0, 5.0]), solution("B", OPTIMUM, [2.4, 2.6]), solution("C", PLATEAU, [1, 4])]
    calls = []
    got = gallery_identifiability(x, sols, cfg, replicates=20, progress=lambda i, n: calls.append((i, n)))
    assert list(got) == ["A", "B"] and calls == [(0, 2), (1, 2)]
    for s in sols[:2]:
        alone = identifiability(x, (s.weights, s.means, s.covariances), cfg, replicates=20, seed=11)
        assert got[s.label].solution == alone.solution
        np.testing.assert_array_equal(got[s.label].components, alone.components)
    assert got["A"].solution == 1.0 and got["B"].solution < 0.5


def test_the_gallery_gives_each_restart_its_solutions_share(tmp_path) -> None:
    """The gallery's rows (and CSV) carry the share of their solution's label; the JSON each optimum's meta."""
    x = np.loadtxt("tests/data/old_faithful.csv", delimiter=",", skiprows=1, usecols=(1, 2))
    snap = run_to_end(x, FitConfig(n_components=2, restarts=3))
    labels = {s.label for s in build_gallery(snap).solutions}
    shares = {"A": Identifiability(np.array([1.0, 0.75]), 0.75, 4, 0, 4, "weighted", 0)}
    gallery = build_gallery(snap, shares)
    assert with_identifiability(build_gallery(snap), shares).rows == gallery.rows
    want = [0.75 if row["solution"] == "A" else None for row in gallery.rows]
    assert [row["identifiable"] for row in gallery.rows] == want and "A" in labels
    write_gallery(tmp_path / "g.csv", gallery)
    got = [row["identifiable"] for row in csv.DictReader((tmp_path / "g.csv").open())]
    assert got == ["" if w is None else "0.75" for w in want]
    write_gallery(tmp_path / "g.json", gallery)
    solutions = json.loads((tmp_path / "g.json").read_text())["solutions"]
    assert [s["identifiable"] for s in solutions] == [
        shares[s.label].meta() if s.label == "A" else None for s in gallery.solutions
    ]
    assert solutions[0]["identifiable"]["components"] == [1.0, 0.75]


def test_a_solution_whose_bootstrap_fails_is_unknown_and_the_others_go_on() -> None:
    """Ten copies of one point, reg_covar 0: a component on them is singular at once, in every replicate (each
    holds some of the copies; measured 10 of 10), too many for the bootstrap; the solution that splits the other
    points in two is bootstrapped as usual (3 iterations: too few to find the copies, which EM left longer always
    ends on). Every solution failing is the user's error, said once."""
    x = np.concatenate([np.random.default_rng(0).normal(size=(200, 2)), np.full((10, 2), 10.0)])
    cfg = FitConfig(n_components=2, reg_covar=0.0, max_iter=3)
    w, half = np.array([200.0, 10.0]) / 210.0, np.diag([0.36, 1.0])
    spike = solution_of("A", w, [[0.0, 0.0], [10.0, 10.0]], [np.eye(2), np.eye(2) * 1e-2])
    broad = solution_of("B", np.array([0.5, 0.5]), [[-0.8, 0.0], [0.8, 0.0]], [half, half])
    got = gallery_identifiability(x, [spike, broad], cfg, replicates=10)
    assert np.isnan(got["A"].solution) and np.isnan(got["A"].components).all() and got["A"].used == 0
    assert got["A"].reason.startswith("10 of 10 bootstrap replicates failed")
    assert got["A"].meta()["share"] is None and got["A"].meta()["reason"] == got["A"].reason
    assert 0.0 <= got["B"].solution <= 1.0 and not got["B"].reason
    assert "solution A unknown (10 of 10 bootstrap replicates failed" in describe_identifiability(got)
    with pytest.raises(UserError, match="10 of 10 bootstrap replicates failed"):
        gallery_identifiability(x, [spike], cfg, replicates=10)


def solution_of(label: str, weights: np.ndarray, means: list, covariances: list) -> Solution:
    """An optimum with these parameters (the gallery's grouping is tested in tests/engine/test_solutions.py)."""
    return Solution(label, (0,), 0.0, weights, np.array(means), np.array(covariances), "", OPTIMUM)
