"""Degenerate components are judged on what the data gave them, in reg_covar's units (issue 22 items 5 and 17):
collinear data is not a collapse, a component on too few points says so, repeated values name their direction."""

from __future__ import annotations

import numpy as np
import pytest

from engine import FitConfig, run_to_end
from engine.inference.collapse import collapses, describe_direction, snapshot_collapses
from engine.selection.select import best_entry, select_models


def _m_step(x: np.ndarray, resp: np.ndarray, floor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (K,), means (K, D) and full covariances with the floor (K, D, D) from responsibilities (N, K):
    the closed-form M-step, independent of the engine's."""
    nk = resp.sum(0)
    means = resp.T @ x / nk[:, None]
    cov = np.stack([(resp[:, k, None] * (x - means[k])).T @ (x - means[k]) / nk[k] for k in range(len(nk))])
    return nk / len(x), means, cov + np.diag(floor)


def _nearly_collinear(n: int = 1000, c_scale: float = 1.0) -> np.ndarray:
    """x ~ N(0, 1), b = x + 0.01 noise, c = 0.002 noise (times c_scale): the issue's small case."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n)
    return np.c_[x, x + 0.01 * rng.standard_normal(n), c_scale * 0.002 * rng.standard_normal(n)]


@pytest.mark.parametrize("units", ["relative", "data"])
def test_collinear_columns_make_no_fit_spurious(units: str) -> None:
    """Old code: K=1 full marked spurious (a collinearity's small eigenvalue against the floor of the column with
    the smallest variance)."""
    entries = list(
        select_models(_nearly_collinear(), [1, 2], ["full", "tied", "diag"], FitConfig(reg_covar_units=units))
    )
    assert [(e.k, e.covariance_type, e.reason) for e in entries if e.spurious] == []


def test_the_pick_does_not_depend_on_a_columns_units() -> None:
    """Old code: multiplying c by 1000 changed the pick (reg_covar's floor was in data units)."""
    picks = []
    for scale in (1.0, 1000.0):
        entries = list(select_models(_nearly_collinear(c_scale=scale), [1, 2], ["full", "tied", "diag"], FitConfig()))
        best = best_entry(entries)
        picks.append((best.k, best.covariance_type))
    assert picks[0] == picks[1]


def test_breast_cancer_fits_are_not_called_collapsed() -> None:
    """scikit-learn's breast_cancer (30 columns, strongly collinear): old code marked every full and tied fit
    spurious, the single Gaussian included, and picked K=1 diag."""
    from sklearn.datasets import load_breast_cancer

    x = load_breast_cancer().data
    entries = list(select_models(x, [1, 2, 3], ["full", "tied", "diag"], FitConfig(seed=0)))
    assert [(e.k, e.covariance_type) for e in entries if e.spurious] == []
    best = best_entry(entries)
    assert (best.k, best.covariance_type) != (1, "diag")
    assert best.covariance_type == "full"


def test_a_component_on_too_few_points_says_so_not_repeated_values() -> None:
    """Item 5: continuous 3-D normal data has no repeated values; a component on 2 points is too few for a full
    covariance in 3-D (old code: 'collapsed onto repeated values')."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((60, 3))
    floor = np.full(3, 1e-6)
    resp = np.zeros((60, 2))
    resp[:2, 0] = 1.0  # component 0 owns two points
    resp[2:, 1] = 1.0
    weights, means, cov = _m_step(x, resp, floor)
    found = collapses(cov, weights, means, 60, floor, "full")
    assert [c.component for c in found] == [0]
    assert "holds 2 points" in found[0].text and "needs 4" in found[0].text
    assert "repeated" not in found[0].text
    entries = list(select_models(x, [3, 4, 5], ["full"], FitConfig(seed=0, restarts=3)))
    reasons = " ".join(e.reason for e in entries)
    assert "repeated values" not in reasons


def test_a_one_point_component_at_reg_covar_zero_is_flagged() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 2))
    resp = np.full((50, 2), 1e-9)
    resp[0] = [1.0, 1e-9]  # one point, and far points' tiny shares: its covariance is small but not zero
    resp[1:, 1] = 1.0
    weights, means, cov = _m_step(x, resp, np.zeros(2))
    assert np.linalg.eigvalsh(cov[0]).min() > 0  # positive definite: the old eigenvalue test passed it
    found = collapses(cov, weights, means, 50, np.zeros(2), "full")
    assert [c.component for c in found] == [0] and "holds 1 point:" in found[0].text


def test_repeated_values_name_their_column() -> None:
    """Rounded data: one cluster's points share one value of x1. The component is flagged, along x1."""
    rng = np.random.default_rng(3)
    a = np.c_[rng.normal(0, 1, 200), np.full(200, 5.0)]  # x1 repeated
    b = rng.normal([6.0, 0.0], 1.0, (200, 2))
    x = np.r_[a, b]
    snap = run_to_end(x, FitConfig(n_components=2, seed=0))
    found = snapshot_collapses(snap, ("time", "height"))
    assert len(found) == 1
    assert "repeated values" in found[0].text and found[0].text.endswith("along height")
    assert abs(found[0].direction[1]) == pytest.approx(1.0, abs=1e-6)
    assert any("repeated values" in w for w in snap.warnings)


def test_a_combination_is_described_by_its_largest_terms() -> None:
    assert describe_direction(np.array([0.0, 1.0, 0.01]), ("a", "b", "c")) == "b"
    assert describe_direction(np.array([-0.7, 0.7, 0.1]), ("a", "b", "c")) == "(0.70 a -0.70 b -0.10 c)"


def test_a_count_just_short_of_what_a_component_needs_never_reads_as_enough() -> None:
    """'component 4 holds 2 points: too few for a VVE covariance in 2-D (it needs 2)' (seen with 1.96 points: the
    count was rounded to 3 digits). A count is rounded down, and one within rounding of a whole number is that
    number: exactly two points' responsibility is enough for a diagonal covariance."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((40, 2))
    floor = np.full(2, 1e-6)
    for share, expected in ((1.996, "holds 1.99 points"), (2.0, None)):
        resp = np.zeros((40, 2))
        resp[:3, 0] = share / 3
        resp[:, 1] = 1.0 - resp[:, 0]
        weights, means, cov = _m_step(x, resp, floor)
        found = [c.text for c in collapses(cov, weights, means, 40, floor, "diag") if c.component == 0]
        if expected is None:
            assert not [t for t in found if "too few" in t], found
        else:
            assert any(expected in t and "needs 2" in t for t in found), found
