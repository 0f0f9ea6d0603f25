"""Model selection against the published Old Faithful figures; spurious fits are marked, never best."""

from __future__ import annotations

import numpy as np
import pytest

from engine import COVARIANCE_TYPES, FitConfig, collapsed_components, run_to_end
from engine.selection.select import run_selection


def test_old_faithful_grid_picks_tied_three_like_mclust(faithful) -> None:
    entries, best = run_selection(
        faithful, [1, 2, 3], ["full", "tied"], FitConfig(reg_covar=0.0, restarts=10, tol=1e-8)
    )
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


def test_a_failing_fit_stays_in_the_table_and_the_grid_goes_on() -> None:
    """reg_covar 0 on five distinct points repeated 30 times: with K=3 every restart puts a component on a
    single repeated point (covariance 0, no Cholesky factor), so that fit fails outright; K=1 does not."""
    x = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [5.0, 5.0], [3.0, 1.0]]), 30, axis=0)
    entries, best = run_selection(x, [1, 3], ["full"], FitConfig(reg_covar=0.0, restarts=5))
    failed = [e for e in entries if e.log_likelihood is None]
    assert [(e.k, e.covariance_type) for e in failed] == [(3, "full")]
    assert failed[0].spurious and "fit failed: component" in failed[0].reason
    assert "so did every other restart" in failed[0].reason
    assert failed[0].as_dict()["bic"] is None
    assert (best.k, best.covariance_type) == (1, "full")


def test_a_restart_that_fails_drops_out_and_the_others_go_on() -> None:
    """reg_covar 0, K=4, blobs plus 40 copies of one point: the restarts that put a component on the copies
    lose its Cholesky factor and stop; the batch goes on without them and the answer is restart 1, the one
    that did not fail, exactly as it is alone."""
    from data_sets import blobs

    from engine import run_to_end

    x = np.vstack([blobs(0, 600), np.repeat([[12.0, -6.0]], 40, axis=0)])
    snap = run_to_end(x, FitConfig(n_components=4, reg_covar=0.0, restarts=10))
    assert snap.status == "converged" and snap.restart == 1
    stopped = [w for w in snap.warnings if " stopped: component " in w]
    assert len(stopped) == 9 and stopped[0].startswith("restart 0 stopped")
    np.testing.assert_array_equal(snap.restarts.converged, np.arange(10) == 1)
    alone = run_to_end(x, FitConfig(n_components=4, reg_covar=0.0, restarts=1, seed=1))
    np.testing.assert_allclose(snap.means, alone.means, rtol=1e-10, atol=1e-12)
    assert snap.iteration >= alone.iteration


def test_the_choice_and_the_verdicts_do_not_depend_on_units() -> None:
    # one column in other units (x 1e6), or rescaled and moved: the same model is best and no fit is called
    # collapsed for it (with the old, trace-relative test every full, tied and diag fit of the x 1e6 data was
    # flagged, K=1 too, and spherical K=3 won)
    from data_sets import OLD_FAITHFUL

    from engine import load

    x = load(OLD_FAITHFUL, ["1", "2"]).points
    choices = {}
    for name, y in (("as is", x), ("x 1e6", x * [1.0, 1e6]), ("x 1e-3 + 1e4", x * [1e-3, 1.0] + [1e4, 0.0])):
        entries, best = run_selection(y, [1, 2, 3], list(COVARIANCE_TYPES), FitConfig(restarts=5, reg_covar=0.0))
        assert not any(e.spurious for e in entries), (name, [(e.k, e.covariance_type, e.reason) for e in entries])
        choices[name] = (best.k, best.covariance_type)
    assert set(choices.values()) == {(3, "tied")}, choices  # mclust's EEE with 3 components


def test_points_on_a_line_with_tiny_noise_are_not_collapsed() -> None:
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 10, 500)
    line = np.c_[t, 2 * t + 1 + 1e-6 * rng.standard_normal(500)]
    for k in (1, 2):
        for ct in ("full", "tied"):
            snap = run_to_end(line, FitConfig(n_components=k, covariance_type=ct, reg_covar=0.0))
            assert collapsed_components(snap) == [], (k, ct)
