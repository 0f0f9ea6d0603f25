"""Model selection against the published Old Faithful figures; spurious fits are marked, never best."""

from __future__ import annotations

import numpy as np
import pytest

from engine import FitConfig
from engine.select import run_selection


def test_old_faithful_grid_picks_tied_three_like_mclust(faithful) -> None:
    entries, best = run_selection(faithful, [1, 2, 3], ["full", "tied"], FitConfig(reg_covar=0.0, restarts=10,
                                                                                   tol=1e-8))
    table = {(e.k, e.covariance_type): e for e in entries}
    assert table[2, "full"].bic == pytest.approx(2322.192, abs=2e-3)
    assert table[3, "tied"].bic == pytest.approx(2314.296, abs=3e-3)
    assert (best.k, best.covariance_type) == (3, "tied")


def test_collapsed_fit_is_spurious_and_never_best() -> None:
    rng = np.random.default_rng(0)
    # rounded data: a cluster whose second coordinate takes a single repeated value
    a = rng.normal([0, 0], 1.0, size=(200, 2))
    b = np.column_stack([rng.normal(6, 0.5, 30), np.full(30, 4.0)])
    x = np.concatenate([a, b])
    entries, best = run_selection(x, [1, 2, 3], ["full", "diag"], FitConfig(restarts=5))
    spurious = [e for e in entries if e.spurious]
    assert spurious, "the repeated-value cluster must collapse in some fit"
    assert all("collapsed onto repeated values" in e.reason for e in spurious)
    assert not best.spurious
    ok_bics = [e.bic for e in entries if not e.spurious]
    assert best.bic == min(ok_bics) and best.bic > min(e.bic for e in entries)


def test_a_failing_fit_stays_in_the_table_and_the_grid_goes_on(faithful) -> None:
    """reg_covar 0 on rounded data: K=9 full collapses a component onto repeated values (no Cholesky)."""
    entries, best = run_selection(faithful, [2, 9], ["full"], FitConfig(reg_covar=0.0, restarts=5))
    failed = [e for e in entries if e.log_likelihood is None]
    assert [(e.k, e.covariance_type) for e in failed] == [(9, "full")]
    assert failed[0].spurious and "fit failed: component" in failed[0].reason
    assert failed[0].as_dict()["bic"] is None
    assert (best.k, best.covariance_type) == (2, "full")
