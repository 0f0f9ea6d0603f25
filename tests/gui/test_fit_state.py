"""The status bar's fit state is the answer's (the shown restart's), not the batch's (issue 22 leftover: a fit
loaded from model selection, or a batch whose slowest restart hit max_iter, said 'max iter' for a restart that had
converged)."""

from __future__ import annotations

from data_sets import OLD_FAITHFUL

from engine import FitConfig, run_to_end
from engine.io.data import load
from gui.scene.frames import fit_state_text


def test_a_converged_answer_of_a_batch_that_hit_max_iter_says_converged() -> None:
    x = load(OLD_FAITHFUL).points
    snap = run_to_end(x, FitConfig(n_components=3, restarts=12, tol=1e-6, max_iter=100, seed=0))
    assert snap.status == "max_iter" and snap.restart_converged  # the case: the batch ran on, its answer had stopped
    assert fit_state_text(snap) == "converged"
    unfinished = run_to_end(x, FitConfig(n_components=3, restarts=2, tol=1e-12, max_iter=3, seed=0))
    assert fit_state_text(unfinished) == "max iter"
