"""The patterns' algebra kept between the chunks of a pass (engine/model/kept_patterns.py): each chunk's rows of it
give the numbers of the chunk's own algebra (engine/model/pattern_algebra.py, checked against SciPy in
test_pattern_algebra.py), across chunks at the same parameters, new parameters and patterns it had not seen."""

from __future__ import annotations

import threading

import numpy as np

from engine.model import kept_patterns
from engine.model.kept_patterns import KeptPatterns
from engine.model.pattern_algebra import PatternAlgebra, numbers_per_pair

D = 4
PATTERNS = np.array(
    [[1, 1, 1, 1], [1, 0, 1, 1], [0, 1, 0, 1], [1, 0, 0, 0], [0, 1, 1, 1], [0, 0, 1, 0]], dtype=bool
)  # observed (True): the complete rows' pattern, then one, two and three missing coordinates
LOG_SCALE = np.array([0.1, -0.4, 0.25, 0.7])
P = 1 + D + D * (D + 1) // 2


def _mixture(seed: int, m: int = 1, k: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-weights (M, K), means (M, K, D) and covariances (M, K, D, D), correlated, float64."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(m, k, D, D))
    return (
        np.log(rng.dirichlet(np.ones(k), size=m)),
        rng.normal(size=(m, k, D)),
        a @ a.swapaxes(-1, -2) + 0.5 * np.eye(D),
    )


def _own(observed: np.ndarray, params: tuple, stats: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
    """A chunk's own algebra's coefficients, completed sums and whitened parameters (what a chunk computed before)."""
    algebra = PatternAlgebra(observed, np.where(observed, 0.0, LOG_SCALE).sum(1))
    algebra.prepare(*params)
    coef = algebra.coefficients().copy()
    whitened = tuple(a.copy() for a in algebra.whitened())
    return coef, algebra.completed(stats).numpy(), whitened


def _check(kept: KeptPatterns, observed: np.ndarray, params: tuple, seed: int) -> None:
    """The kept algebra's rows for a chunk's patterns against the chunk's own algebra: the same numbers, to rounding
    (the completed sums add the kept patterns the chunk lacks as exact zeros, in another order)."""
    stats = np.random.default_rng(seed).uniform(0.5, 2.0, (len(observed), *params[0].shape, P))
    subset = kept.subset(observed, LOG_SCALE, params[0].size)
    subset.prepare(*params)
    coef, completed, whitened = _own(observed, params, stats)
    np.testing.assert_allclose(subset.coefficients(), coef, rtol=1e-13, atol=1e-13)  # measured: bit for bit
    for ours, theirs in zip(subset.whitened(), whitened, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(subset.completed(stats).numpy(), completed, rtol=1e-13)  # measured: 3.4e-16


def test_each_chunks_patterns_get_their_own_algebras_numbers_from_the_kept_one() -> None:
    kept, first, second = KeptPatterns(), _mixture(0), _mixture(1, m=2, k=2)
    _check(kept, PATTERNS[[0, 2, 4, 5]], first, seed=0)  # the first chunk: its algebra made and solved
    _check(kept, PATTERNS[[5, 0, 2]], first, seed=1)  # a chunk of fewer patterns, in another order: not solved again
    _check(kept, PATTERNS[[1, 0, 3]], first, seed=2)  # two patterns it had not seen: made again for all five
    _check(kept, PATTERNS[[3, 4]], second, seed=3)  # the next pass (other parameters, restart rows): solved again
    _check(kept, PATTERNS[[0, 3]], second, seed=4)  # and completed again from the same solve


def test_a_chunk_at_the_same_parameters_is_not_solved_again(monkeypatch) -> None:
    kept, params = KeptPatterns(), _mixture(2)
    solves = []
    real = PatternAlgebra.prepare
    monkeypatch.setattr(PatternAlgebra, "prepare", lambda self, *a: solves.append(1) or real(self, *a))
    for rows in ([0, 1, 2], [2, 1], [0]):
        kept.subset(PATTERNS[rows], LOG_SCALE, 3).prepare(*params)
    assert len(solves) == 1
    kept.subset(PATTERNS[[0]], LOG_SCALE + 1.0, 3).prepare(*params)  # other log scales: other offsets, made afresh
    assert len(solves) == 2


def test_what_would_pass_its_bound_is_not_kept(monkeypatch) -> None:
    monkeypatch.setattr(kept_patterns, "KEEP_NUMBERS", 3 * 5 * numbers_per_pair(D))  # five patterns of 3 components
    kept = KeptPatterns()
    assert kept.subset(PATTERNS[:5], LOG_SCALE, 3) is not None
    assert kept.subset(PATTERNS[5:], LOG_SCALE, 3) is None  # a sixth pattern: the chunk makes its own
    assert kept.subset(PATTERNS[:5], LOG_SCALE, 3) is not None  # the five kept still serve
    assert kept.subset(PATTERNS[:2], LOG_SCALE, 9) is None  # the same patterns for more restart-components: its own


def test_each_thread_keeps_its_own() -> None:
    seen = []
    thread = threading.Thread(target=lambda: seen.append(kept_patterns.kept_patterns()))
    thread.start()
    thread.join()
    here = kept_patterns.kept_patterns()
    assert here is kept_patterns.kept_patterns() and seen[0] is not here
