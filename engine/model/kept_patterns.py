"""The patterns' algebra kept from one chunk of a pass to the next (missing values read by passes, issue 25;
inference/missing_chunks.py): every chunk of a pass is fitted at the same parameters and holds mostly the same
missingness patterns, so the algebra of the patterns seen so far (model/pattern_algebra.py) is solved once per pass
and each chunk takes its own patterns' rows of it, where each chunk solved its own before (docs/performance.md,
'Missing values').

One KeptPatterns per thread (a Dask worker runs parts on several): its algebra is made afresh when a chunk brings a
pattern it lacks (or other log scales), and solved again when the parameters change (a new pass). It is kept only
while its arrays hold at most KEEP_NUMBERS numbers (8 MiB; 50 patterns of 9 components at D = 10 take 3.8 MB), so
what a thread keeps stays bounded; beyond that a chunk makes its own algebra, as before.
"""

from __future__ import annotations

import threading

import numpy as np
import torch

from .pattern_algebra import PatternAlgebra, numbers_per_pair

# the most float64 numbers of a patterns' algebra (pattern_algebra.numbers_per_pair a pattern and restart-component) a
# thread keeps between the chunks of a pass
KEEP_NUMBERS = 2**20


class KeptPatterns:
    """The algebra of every pattern a thread's chunks have shown at one set of log scales, and the parameters it was
    last solved at."""

    def __init__(self) -> None:
        self._reset(np.zeros(0))
        self.log_scale: np.ndarray | None = None  # no chunk yet: the first one's log scales make it afresh

    def _reset(self, log_scale: np.ndarray) -> None:
        """No pattern kept, for these log scales (D,)."""
        self.codes: dict[bytes, int] = {}  # a pattern's packed bits -> its place in the algebra
        self.observed = np.zeros((0, len(log_scale)), dtype=bool)
        self.log_scale = log_scale.copy()
        self.algebra: PatternAlgebra | None = None
        self.solved_at: bytes | None = None  # the parameters' bytes of the last prepare
        self.coef: np.ndarray | None = None  # the coefficients at solved_at, once asked for

    def subset(self, observed: np.ndarray, log_scale: np.ndarray, restart_components: int) -> PatternSubset | None:
        """The algebra of a chunk's patterns observed (n, D) bool (True: observed) with the working units' log scales
        (D,), as rows of the kept one; None where keeping them all would pass KEEP_NUMBERS (the chunk makes its own)."""
        if self.log_scale is None or not np.array_equal(self.log_scale, log_scale):
            self._reset(log_scale)
        keys = [row.tobytes() for row in np.packbits(observed, axis=1)]
        new = [p for p, key in enumerate(keys) if key not in self.codes]
        # checked at every chunk: another fit on this thread may have more restart-components for the same patterns
        if (len(self.codes) + len(new)) * restart_components * numbers_per_pair(len(log_scale)) > KEEP_NUMBERS:
            return None
        if new:
            for p in new:
                self.codes[keys[p]] = len(self.codes)
            self.observed = np.concatenate([self.observed, observed[new]])
            offsets = np.where(self.observed, 0.0, log_scale).sum(1)  # Pattern.offset: the missing columns' log scales
            self.algebra, self.solved_at, self.coef = PatternAlgebra(self.observed, offsets), None, None
        return PatternSubset(self, np.array([self.codes[key] for key in keys]))


class PatternSubset:
    """A chunk's patterns as rows `rows` (n,) of a thread's kept algebra, with PatternAlgebra's E-step methods:
    prepare solves the kept algebra only at new parameters; the rest take the chunk's rows of it."""

    def __init__(self, kept: KeptPatterns, rows: np.ndarray) -> None:
        self.kept, self.rows = kept, rows

    def prepare(self, log_weights: np.ndarray, means: np.ndarray, cov: np.ndarray) -> None:
        """PatternAlgebra.prepare, once for all the chunks of a pass (the same parameters: the same bytes)."""
        at = b"".join(np.ascontiguousarray(a).tobytes() for a in (log_weights, means, cov)) + str(means.shape).encode()
        if self.kept.solved_at != at:
            self.kept.algebra.prepare(log_weights, means, cov)
            self.kept.solved_at, self.kept.coef = at, None

    def coefficients(self) -> np.ndarray:
        """The chunk's patterns' log-joint coefficients (n, M, K, P) (PatternAlgebra.coefficients)."""
        kept = self.kept
        if kept.coef is None:
            kept.coef = kept.algebra.coefficients().copy()  # its array is rewritten by the next prepare's
        return kept.coef[self.rows]

    def whitened(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The chunk's patterns' rows of PatternAlgebra.whitened."""
        return tuple(np.ascontiguousarray(a[self.rows]) for a in self.kept.algebra.whitened())

    def completed(self, stats: np.ndarray) -> torch.Tensor:
        """PatternAlgebra.completed of the chunk's patterns' statistics (n, M, K, P): the kept patterns the chunk
        lacks count zero (each adds exact zeros)."""
        algebra = self.kept.algebra
        every = np.zeros((algebra.n_patterns, *stats.shape[1:]))
        every[self.rows] = stats
        return algebra.completed(every)


_threads = threading.local()


def kept_patterns() -> KeptPatterns:
    """This thread's KeptPatterns (made at its first chunk)."""
    kept = getattr(_threads, "kept", None)
    if kept is None:
        kept = _threads.kept = KeptPatterns()
    return kept
