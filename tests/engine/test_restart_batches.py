"""Restarts in batches that fit the memory limit (issue 22 item 12: 100,000 restarts on 1,000 points grew to 6.3 GB):
the same restarts, the same chosen one and the same answer as one batch, with never more than a batch's restarts
held at once."""

from __future__ import annotations

import numpy as np
import pytest

import engine.inference.fitting as fitting
from engine import FitConfig, fit, run_to_end
from engine.io.data import forum_sample
from engine.runtime.limits import fit_bytes

N, K, R, PER_BATCH = 600, 3, 23, 7  # 4 batches, the last one short


def _largest_batch(monkeypatch) -> list[int]:
    """The restarts of each procedure the fit creates (its working arrays are that many restarts' own)."""
    seen: list[int] = []
    real = fitting._procedure

    def watched(cfg, setup, params, rng, *rest):
        seen.append(params[0].shape[0])
        return real(cfg, setup, params, rng, *rest)

    monkeypatch.setattr(fitting, "_procedure", watched)
    return seen


@pytest.mark.parametrize("init", ["kmeans++", "hc"])
def test_batched_restarts_give_the_one_batch_answer_within_the_limit(monkeypatch, init: str) -> None:
    """hc: restart 0 alone is the hierarchical start (before, every batch began with one)."""
    x = forum_sample(N, 1)
    cfg = FitConfig(n_components=K, restarts=R, init=init, tol=1e-6, seed=5)
    one = run_to_end(x, cfg)
    sizes = _largest_batch(monkeypatch)
    limit = fit_bytes(N, 2, K, PER_BATCH)  # room for 7 restarts, not 8
    snaps = list(fit(x, cfg, memory_limit=limit))
    last = snaps[-1]
    assert sizes == [7, 7, 7, 2]  # the working arrays held at most 7 restarts at a time (one batch held 23)
    assert last.restart == one.restart and last.status == one.status == "converged"
    assert abs(last.log_likelihood - one.log_likelihood) <= 1e-9 * abs(one.log_likelihood)  # measured: 0 or 1 ulp
    a, b = last.restarts, one.restarts  # the gallery's table: every restart, by its own number
    np.testing.assert_array_equal(a.seeds, b.seeds)
    np.testing.assert_array_equal(a.n_iter, b.n_iter)
    np.testing.assert_array_equal(a.converged, b.converged)
    np.testing.assert_allclose(a.initial_loss, b.initial_loss, rtol=1e-12)
    np.testing.assert_allclose(a.mean_log_likelihood, b.mean_log_likelihood, rtol=1e-12)
    np.testing.assert_allclose(a.means, b.means, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(last.means, one.means, rtol=1e-8, atol=1e-10)
    # snapshots along the way: iterations counted across batches, running until the last batch ends
    iterations = [s.iteration for s in snaps]
    per_batch = [int(b.n_iter[i : i + PER_BATCH].max()) for i in range(0, R, PER_BATCH)]
    assert iterations == sorted(set(iterations)) and iterations[-1] == sum(per_batch)
    assert all(s.status == "running" for s in snaps[:-1])


def test_a_limit_that_holds_every_restart_runs_one_batch(monkeypatch) -> None:
    sizes = _largest_batch(monkeypatch)
    run_to_end(forum_sample(N, 1), FitConfig(n_components=K, restarts=R, seed=5))
    assert sizes == [R]


def test_the_command_line_splits_restarts_by_memory_limit_and_says_the_expected_time(tmp_path, capsys) -> None:
    """fit --memory-limit smaller than the restarts' working arrays: batches, said up front with their count, the
    expected time once the first batch ran, and the same summary figures and gallery as one batch."""
    from cli.main import main

    path = tmp_path / "x.npy"
    np.save(path, forum_sample(N, 1))
    base = ["fit", str(path), "-k", "3", "--restarts", str(R), "--seed", "5", "--init", "kmeans++"]
    assert main([*base, "--gallery", str(tmp_path / "one.csv")]) == 0
    one = capsys.readouterr()
    limit = fit_bytes(N, 2, K, PER_BATCH) + 100  # bytes
    assert main([*base, "--memory-limit", str(limit), "--gallery", str(tmp_path / "batched.csv")]) == 0
    batched = capsys.readouterr()
    assert "batch" not in one.err
    assert f"{R} restarts need about " in batched.err and ": 4 batches of at most 7 restarts" in batched.err
    expected = [line for line in batched.err.splitlines() if line.startswith("batch 1 of 4 (7 restarts) took ")]
    assert len(expected) == 1 and expected[0].endswith(f" s for all {R} restarts")
    figures = one.out.split("log-likelihood ")[1].split(";")[0]  # total, mean, BIC, AIC
    assert figures in batched.out and "4 batches of at most 7 restarts ran" in batched.out
    rows = [(tmp_path / f).read_text().splitlines() for f in ("one.csv", "batched.csv")]
    assert len(rows[0]) == len(rows[1]) == R + 1
    cut = [[line.split(",")[i] for line in r[1:] for i in (0, 1, 5, 6)] for r in rows]  # restart, seed, n_iter, conv
    assert cut[0] == cut[1]


def test_batched_restarts_keep_each_restarts_last_steps_for_the_gallery() -> None:
    """The merged restart table dropped last_change and previous_change: a batched fit's gallery could not tell a
    plateau from an optimum. Each restart's last two steps are now the one batch's (measured: equal or 1 ulp)."""
    x = forum_sample(N, 1)
    cfg = FitConfig(n_components=K, restarts=R, init="kmeans++", tol=1e-6, seed=5)
    one = run_to_end(x, cfg).restarts
    *_, last = fit(x, cfg, memory_limit=fit_bytes(N, 2, K, PER_BATCH))
    batched = last.restarts
    assert batched.last_change is not None and batched.previous_change is not None
    np.testing.assert_allclose(batched.last_change, one.last_change, rtol=1e-6, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(batched.previous_change, one.previous_change, rtol=1e-6, atol=1e-12, equal_nan=True)
