"""The Compare tab's verdict says what is so: an algorithm that ended higher than exact EM is not "on its way"."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from gui.views.compare import explain, reference_algorithm


def _frame(ll: float, means: np.ndarray) -> SimpleNamespace:
    cov = np.broadcast_to(np.eye(2), (len(means), 2, 2)).copy()
    snap = SimpleNamespace(mean_log_likelihood=ll, iteration=50, elapsed=1.0, means=means, covariances=cov)
    path = np.stack([means + 1.0, means + 0.5, means])  # (T, K, 2): three kept iterations
    return SimpleNamespace(snapshot=snap, trajectory=path, entries=[SimpleNamespace(iteration=i) for i in (0, 25, 50)])


def test_an_algorithm_that_ended_higher_is_called_another_optimum_not_still_on_its_way() -> None:
    """issue 22, item 4: marginal "is still 0.07 away" from EM when marginal's log-likelihood was the higher one."""
    reference = reference_algorithm()
    other = "marginal" if reference != "marginal" else "gradient-em"
    em_means = np.array([[0.0, 0.0], [5.0, 5.0]])
    moved = em_means + [[0.07, 0.0], [0.0, 0.0]]
    higher = explain({reference: _frame(-2.0, em_means), other: _frame(-1.9, moved)})
    assert f"{other} ended at least as high as {reference} (+0.10000 per point)" in higher
    assert "is still" not in higher
    lower = explain({reference: _frame(-2.0, em_means), other: _frame(-2.1, moved)})
    assert "and is still 0.07 away." in lower
