"""One fit pipeline (issue 23): a single fit, a streamed fit, a cluster-like fit and the model-selection grid run
the same loop (engine/inference/pipeline.py), with the E-step's sums from a strategy (engine/inference/sources.py)."""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest

from engine import FitConfig
from engine.inference.em import ExactEM
from engine.inference.fitting import fit, iterate
from engine.inference.grid import Streamed, fit_cells
from engine.inference.pipeline import begin, book, initial_losses, prepare_points, starts
from engine.inference.sources import PassPlan, PassSums, chunk_sums, local_pass, summed
from engine.inference.streaming import fit_stream
from engine.io.npy import NpySource
from engine.io.stream import survey
from engine.model.scaling import column_moments


def _data(n: int = 3000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]])
    return centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 2))


class _PartsRunner:
    """A PassRunner as the Dask cluster's (engine/scale/cluster.py) without Dask: the chunk E-step mapped over
    parts held in memory, the sums added in the parts' order."""

    def __init__(self, x: np.ndarray, parts: int) -> None:
        self.parts = np.array_split(x, parts)
        self.passes = 0

    def __call__(self, plan: PassPlan, cancel=None) -> PassSums:
        self.passes += 1
        return summed(chunk_sums(part, plan) for part in self.parts)


def test_every_kind_of_fit_steps_in_the_one_loop(tmp_path, monkeypatch) -> None:
    """Every M-step of a single fit, a streamed fit, a cluster-like fit and the grid (in memory and by chunks) is
    taken by pipeline.iterations: no kind of fit has a loop of its own."""
    x = _data()
    np.save(tmp_path / "x.npy", x)
    source = NpySource(tmp_path / "x.npy")
    callers: list[tuple[str, str]] = []
    step = ExactEM.step

    def recorded(self, active):
        caller = inspect.stack()[1]
        callers.append((caller.frame.f_globals["__name__"], caller.function))
        return step(self, active)

    monkeypatch.setattr(ExactEM, "step", recorded)
    cfg = FitConfig(n_components=3, restarts=2, max_iter=8, tol=0.0, seed=3)
    runner = _PartsRunner(x, 4)
    streamed = Streamed(source, survey(source, 700, len(x), 0), functools.partial(local_pass, source, 700))
    cells = [FitConfig(n_components=k, covariance_type="diag", max_iter=8) for k in (1, 2)]
    counts = {}
    for name, run in [
        ("single", lambda: list(fit(x, cfg))),
        ("streamed", lambda: list(fit_stream(source, cfg, rows=700))),
        ("cluster", lambda: list(fit_stream(source, cfg, rows=700, run_pass=runner))),
        ("grid", lambda: list(fit_cells(x, cells))),
        ("grid by chunks", lambda: list(fit_cells(streamed, cells))),
    ]:
        before = len(callers)
        run()
        counts[name] = len(callers) - before
    assert all(counts.values()), counts  # every kind stepped
    assert set(callers) == {("engine.inference.pipeline", "iterations")}
    assert runner.passes == 9  # the start's E-step and one per update: the cluster's runner did every pass


def test_a_cluster_like_runner_gives_the_local_passes_fit(tmp_path) -> None:
    """A PassRunner over parts in memory (as the cluster's) and local_pass over the file's chunks: the same fit,
    to the order of the sums (1e-12 relative on every iteration's log-likelihood)."""
    x = _data(seed=1)
    np.save(tmp_path / "x.npy", x)
    cfg = FitConfig(n_components=3, restarts=3, max_iter=30, tol=0.0, seed=5)
    local = list(fit_stream(NpySource(tmp_path / "x.npy"), cfg, rows=500))
    parts = list(fit_stream(NpySource(tmp_path / "x.npy"), cfg, rows=500, run_pass=_PartsRunner(x, 3)))
    assert len(local) == len(parts) == 31
    for a, b in zip(local, parts, strict=True):
        assert b.mean_log_likelihood == pytest.approx(a.mean_log_likelihood, rel=1e-12)
    np.testing.assert_allclose(parts[-1].means, local[-1].means, rtol=1e-10)


def test_a_fit_runs_as_successive_restart_batches() -> None:
    """The loop takes the procedure and bookkeeping it is given: restarts 0..3 run as two batches of two give each
    restart the log-likelihood, iterations and parameters of the single batch of four (EM's restarts are
    independent; 1e-12 relative, the E-step's sums over a different batch shape round differently)."""
    x = _data(seed=2)
    cfg = FitConfig(n_components=3, restarts=4, max_iter=40, seed=11).resolved()
    setup = prepare_points(x, column_moments(x), cfg, len(x) * 12, len(x))
    init = starts(setup, cfg)

    def run(rows: slice):
        params = tuple(p[rows] for p in init)
        proc = ExactEM(setup.points, params, cfg.covariance_type, setup.reg, cfg.empty_policy)
        mean_ll = begin(proc)
        seeds = np.arange(cfg.seed, cfg.seed + cfg.restarts)[rows]
        table = book(setup, initial_losses(proc), np.arange(len(seeds)), seeds)
        *_, last = iterate(proc, cfg, table, mean_ll, len(x), setup.started, every=False)
        return last.restarts

    whole, first, second = run(slice(0, 4)), run(slice(0, 2)), run(slice(2, 4))
    assert list(whole.n_iter) == [*first.n_iter, *second.n_iter]
    np.testing.assert_allclose(
        whole.mean_log_likelihood, [*first.mean_log_likelihood, *second.mean_log_likelihood], rtol=1e-12
    )
    np.testing.assert_allclose(whole.means, np.concatenate([first.means, second.means]), rtol=1e-9, atol=1e-9)
