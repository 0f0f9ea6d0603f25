"""The bootstrap of frequency-weighted data (issue 25): a point of weight w is w repeated rows, so each kind's
replicates of the weighted data must spread as the same kind's replicates of the expanded data (every row repeated
w times, no weights). The reference is that expanded data's bootstrap, run by the unweighted path."""

from __future__ import annotations

import numpy as np
import pytest

from engine import FitConfig, run_to_end
from engine.selection.bootstrap import bootstrap


def _weighted_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """250 points (2 overlapping clusters), integer weights 0 to 4 (493 in all), and the rows repeated w times."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal([0, 0], [1, 1], size=(150, 2)), rng.normal([3, 1], [1, 0.5], size=(100, 2))])
    w = rng.integers(0, 5, size=len(x)).astype(float)
    return x, w, np.repeat(x, w.astype(int), axis=0)


def _setting() -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, ...], FitConfig]:
    x, w, expanded = _weighted_data()
    cfg = FitConfig(n_components=2, covariance_type="full", init="kmeans")
    snap = run_to_end(x, cfg, weights=w)
    return x, w, expanded, (snap.weights, snap.means, snap.covariances), cfg


def _ratios(ours: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> np.ndarray:
    """Every standard error's ratio to the reference's (14 numbers at K = 2, D = 2)."""
    return np.concatenate([(ours[name] / reference[name]).ravel() for name in ours])


@pytest.mark.parametrize("kind", ["nonparametric", "weighted"])
def test_weighted_data_spreads_as_the_expanded_data(kind: str) -> None:
    """B = 1000 of each, independent draws: a standard error's relative Monte-Carlo error is about 1 / sqrt(2B)
    (2.2%), a ratio of two about 3.2%, so 15% is 4.7 of them. Measured over seeds 0 to 4: 0.92 to 1.10 for
    both kinds. The Bayesian bootstrap weighted each point w g, g ~ Exp(1), before: 1.5 to 1.9 times the expanded
    data's (w rows of Exp(1) weights sum to Gamma(w), whose spread is sqrt(w), not w)."""
    x, w, expanded, fitted, cfg = _setting()
    ours = bootstrap(x, fitted, cfg, 1000, kind, seed=0, weights=w).standard_errors()
    reference = bootstrap(expanded, fitted, cfg, 1000, kind, seed=100).standard_errors()
    ratios = _ratios(ours, reference)
    assert 0.85 <= ratios.min() and ratios.max() <= 1.15, np.round(ratios, 3)


def test_parametric_replicates_of_weighted_data_are_the_expanded_datas() -> None:
    """The parametric replicates simulate round(sum w) = 493 points from the fit, as many as the expanded data's
    rows: from one seed they are the same points, so the replicates and their standard errors are the same up to
    rounding (measured: 2.8e-14 absolute in the replicates' parameters, 8e-15 relative in the standard errors)."""
    x, w, expanded, fitted, cfg = _setting()
    ours = bootstrap(x, fitted, cfg, 100, "parametric", seed=0, weights=w)
    reference = bootstrap(expanded, fitted, cfg, 100, "parametric", seed=0)
    np.testing.assert_allclose(ours.means, reference.means, rtol=0, atol=1e-10)
    np.testing.assert_allclose(_ratios(ours.standard_errors(), reference.standard_errors()), 1.0, rtol=1e-9)
