"""Cancelling a fit with missing values (`--missing em`), its bootstrap (and the parametric bootstrap, whose
replicates each have their own points), or the hierarchical (hc) start takes effect
within a chunk of the E-step or a merge of the agglomeration, not at the end of an iteration or of the whole tree:
they check the CancelToken there and raise errors.Cancelled, as the complete fit's E-step does
(test_cancel_in_memory.py). How soon is counted in chunks and merges, never in seconds."""

from __future__ import annotations

import numpy as np
import pytest
from data_sets import missing_clusters

from engine import CancelToken, FitConfig, chunk_workers_on_this_thread, fit, run_to_end
from engine.errors import Cancelled
from engine.inference import hc, missing
from engine.model import gaussian
from engine.selection import replicate_simulated
from engine.selection.bootstrap import bootstrap


class CancelAt(CancelToken):
    """A token that counts its checks and cancels itself at check number `at` (None: never)."""

    def __init__(self, at: int | None = None) -> None:
        super().__init__()
        self.calls, self.at = 0, at

    def check(self) -> None:
        self.calls += 1
        if self.at is not None and self.calls >= self.at:
            self.cancel()
        super().check()


def spied(monkeypatch, module, name: str) -> list:
    """Replace module.name by a wrapper that records each call (an empty tuple) in the returned list."""
    calls, real = [], getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **kw: calls.append(()) or real(*a, **kw))
    return calls


@pytest.mark.parametrize(
    ("d", "k", "restarts", "path"),
    [(2, 3, 20, "patterned_statistics"), (12, 2, 3, "patterned_whitened")],
)
def test_a_cancel_during_an_iteration_stops_its_missing_values_e_step_at_the_next_chunk(
    monkeypatch, d, k, restarts, path
) -> None:
    """Iteration 2's E-step over 30,000 points with 20% of their cells missing (chunks of about 2^19 numbers) is
    cancelled at its third chunk: it raises Cancelled there, the rest of its chunks never run (it used to finish
    the iteration first)."""
    x = missing_clusters(30_000, d, 0.2, seed=3)
    e_steps = spied(monkeypatch, missing, path)  # the path the fit takes: quadratic features or whitened distances
    token = CancelAt()
    with chunk_workers_on_this_thread(1):  # the window's E-steps run on one chunk worker: the chunks in order
        snapshots = fit(x, FitConfig(n_components=k, restarts=restarts, max_iter=50, tol=0.0), token, missing="em")
        assert next(snapshots).iteration == 0
        before = token.calls
        assert next(snapshots).iteration == 1
        per_e_step = token.calls - before  # one check a chunk
        assert per_e_step >= 4 and len(e_steps) == 2
        token.at = token.calls + 3
        with pytest.raises(Cancelled):
            next(snapshots)
    assert token.calls - before - per_e_step == 3  # 3 chunks of per_e_step begun: the rest never ran


def test_a_token_never_set_leaves_the_missing_values_fit_bit_for_bit() -> None:
    """Checked before every chunk (the token counts its checks), never set: every array the same to the bit as
    the fit without a token."""
    x = missing_clusters(3_000, 3, 0.2, seed=5)
    cfg = FitConfig(n_components=3, restarts=4, max_iter=30, tol=0.0, seed=1)
    token = CancelAt()
    with_token, without = run_to_end(x, cfg, token, missing="em"), run_to_end(x, cfg, missing="em")
    assert token.calls >= 30  # the starts' blocks and at least one chunk an E-step
    for name in ("weights", "means", "covariances", "mean_log_likelihood"):
        np.testing.assert_array_equal(getattr(with_token, name), getattr(without, name), err_msg=name)


@pytest.mark.parametrize("kind", ["nonparametric", "parametric"])
@pytest.mark.parametrize("share", [0.2, 0.0])
def test_a_cancel_stops_the_bootstraps_e_step_at_the_next_chunk(monkeypatch, share, kind) -> None:
    """The bootstrap of a fit with missing values (share 0.2: replicate_missing; parametric: replicate_simulated's
    points missing the same cells) and of complete data (0.0), in E-step chunks of 64-256 rows: a token set at its
    25th check raises Cancelled there, of the hundreds of chunks the whole run checks (its accelerator's E-steps
    used to end their iteration first; the parametric kind's never checked); never set, the replicates are those
    without a token to the bit."""
    monkeypatch.setattr(gaussian, "CHUNK_ELEMENTS", {"cpu": 2**10, "cuda": 2**10})
    monkeypatch.setattr(gaussian, "MIN_CHUNK_ROWS", 64)
    x = missing_clusters(600, 3, share, seed=2)
    cfg = FitConfig(n_components=3, covariance_type="full", seed=0, restarts=2, max_iter=40)
    last = run_to_end(x, cfg, missing="em")
    fitted = (last.weights, last.means, last.covariances)
    whole = CancelAt()
    with chunk_workers_on_this_thread(1):
        checked = bootstrap(x, fitted, cfg, 5, kind, seed=4, cancel=whole)
        assert whole.calls >= 40  # measured: 81 with missing values, 45 without (99, 63 with exact EM's check)
        stopped = CancelAt(at=25)
        with pytest.raises(Cancelled):
            bootstrap(x, fitted, cfg, 5, kind, seed=4, cancel=stopped)
    assert stopped.calls == 25
    plain = bootstrap(x, fitted, cfg, 5, kind, seed=4)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(getattr(checked, name), getattr(plain, name), err_msg=name)


def test_a_cancel_stops_the_parametric_bootstraps_e_step_within_a_replicate(monkeypatch) -> None:
    """The parametric bootstrap's E-step runs each replicate over its own 600 simulated points (ReplicatePoints), here
    in chunks of 64-256 rows: it checks the token before each chunk of each replicate, several checks an E-step (it
    used to check once an iteration, between E-steps). Set in the middle of a late E-step, it raises Cancelled at that
    very check; never set, the replicates are those without a token to the bit."""
    monkeypatch.setattr(gaussian, "CHUNK_ELEMENTS", {"cpu": 2**10, "cuda": 2**10})
    monkeypatch.setattr(gaussian, "MIN_CHUNK_ROWS", 64)
    e_steps = spied(monkeypatch, replicate_simulated.ReplicatePoints, "e_step")
    x = missing_clusters(600, 3, 0.0, seed=2)
    cfg = FitConfig(n_components=3, covariance_type="full", seed=0, restarts=2, max_iter=40)
    last = run_to_end(x, cfg)
    fitted = (last.weights, last.means, last.covariances)
    whole = CancelAt()
    with chunk_workers_on_this_thread(1):
        checked = bootstrap(x, fitted, cfg, 4, kind="parametric", seed=4, cancel=whole)
        assert len(e_steps) >= 5 and whole.calls >= 3 * len(e_steps)  # measured: 64 checks in 8 E-steps
        at = whole.calls * 2 // 3 + whole.calls // (3 * len(e_steps))  # a third of an E-step into a late one
        e_steps.clear()
        stopped = CancelAt(at=at)
        with pytest.raises(Cancelled):
            bootstrap(x, fitted, cfg, 4, kind="parametric", seed=4, cancel=stopped)
    assert stopped.calls == at and len(e_steps) >= 3
    plain = bootstrap(x, fitted, cfg, 4, kind="parametric", seed=4)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(getattr(checked, name), getattr(plain, name), err_msg=name)


def test_a_cancel_stops_the_agglomeration_at_the_next_merge(monkeypatch) -> None:
    """hc.merges checks before each merge: set at the 50th check, 49 merges of the 399 were made, none after, and
    nothing is cached (the next start grows the whole tree); never set, the merges are those without a check."""
    monkeypatch.setattr(hc, "_CACHE", hc._Cache())
    made = spied(monkeypatch, hc, "_merge")
    z = hc.transformed(np.random.default_rng(0).normal(size=(400, 3)))
    token = CancelAt(at=50)
    with pytest.raises(Cancelled):
        hc.hc_classes(z, 3, "VARS", token.check)
    assert token.calls == 50 and len(made) == 49 and not hc._CACHE.items
    never = CancelAt()
    np.testing.assert_array_equal(hc.merges(z, check=never.check), hc.merges(z))
    assert never.calls == 399


def test_a_cancel_during_the_hc_start_of_a_fit_stops_it_at_the_next_merge(monkeypatch) -> None:
    """A fit (missing values too) whose hc start is cancelled at its 10th check raises Cancelled there: 9 merges of
    the sample's 599, no snapshot."""
    monkeypatch.setattr(hc, "_CACHE", hc._Cache())
    made = spied(monkeypatch, hc, "_merge")
    x = missing_clusters(600, 2, 0.1, seed=6)
    for kind in (None, "em"):
        made.clear()
        token = CancelAt(at=10)
        data = x if kind == "em" else np.nan_to_num(x)
        with pytest.raises(Cancelled):
            next(fit(data, FitConfig(n_components=3, init="hc"), token, missing=kind))
        assert token.calls == 10 and len(made) == 9, kind
