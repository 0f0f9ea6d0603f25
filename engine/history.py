"""A fit's history in bounded memory: the parameters of every kept iteration, for replay and trajectories.

It keeps every iteration until it holds `capacity` entries; then it drops every other entry (never the first)
and from then on keeps every 2nd, then 4th, ... iteration: memory stays under capacity entries whatever the
number of iterations, the kept iterations stay evenly spread, and the first and the latest are always kept.
An entry is the shown restart's weights (K,), means (K, D), covariances (K, D, D) and mean log-likelihood,
plus every restart's parameters (R, K, ...) and mean log-likelihoods (R,), to replay any restart. In a batch of
restarts the shown restart (the best at that iteration) can change from one iteration to the next, so a path or a
replay follows one restart through the restart_* arrays (its components keep their order over its iterations),
never the shown restart's parameters of each entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_BUDGET_BYTES = 64 * 2**20


@dataclass(frozen=True)
class HistoryEntry:
    iteration: int
    mean_log_likelihood: float
    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    covariances: np.ndarray  # (K, D, D)
    restart_means: np.ndarray  # (R, K, D)
    restart: int  # which restart is shown
    restart_weights: np.ndarray  # (R, K)
    restart_covariances: np.ndarray  # (R, K, D, D)
    restart_mean_log_likelihood: np.ndarray  # (R,) NaN for restarts that did not run


class History:
    """Bounded history of a fit's snapshots (see the module docstring)."""

    def __init__(self, capacity: int | None = None, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.capacity = capacity
        self.budget_bytes = budget_bytes
        self.stride = 1
        self.entries: list[HistoryEntry] = []
        self._latest: HistoryEntry | None = None  # the newest snapshot, kept even between strides

    @staticmethod
    def entry_bytes(k: int, d: int, r: int) -> int:
        return 8 * (k + k * d + k * d * d + r * (1 + k + k * d + k * d * d)) + 64

    def append(self, snap) -> None:
        """Record a snapshot (engine Snapshot)."""
        t = snap.restarts
        entry = HistoryEntry(
            snap.iteration,
            snap.mean_log_likelihood,
            snap.weights,
            snap.means,
            snap.covariances,
            t.means,
            snap.restart,
            t.weights,
            t.covariances,
            t.mean_log_likelihood,
        )
        if self.capacity is None:
            k, d = snap.means.shape
            self.capacity = max(16, self.budget_bytes // self.entry_bytes(k, d, len(snap.restarts.seeds)))
        self._latest = entry
        if self.entries and entry.iteration % self.stride:
            return
        self.entries.append(entry)
        if len(self.entries) >= self.capacity:
            self.stride *= 2
            self.entries = [e for e in self.entries if e.iteration % self.stride == 0]

    @classmethod
    def of_entries(cls, entries) -> History:
        """A history holding the given (already kept) entries, e.g. the ones a window received."""
        h = cls(capacity=max(len(entries) + 1, 16))
        h.entries = list(entries)
        return h

    def kept(self) -> list[HistoryEntry]:
        """The kept entries in order, the latest snapshot last (even when it falls between strides)."""
        if self._latest is not None and (not self.entries or self.entries[-1] is not self._latest):
            return [*self.entries, self._latest]
        return list(self.entries)

    def at(self, iteration: int) -> HistoryEntry:
        """The kept entry nearest to iteration (at or before it when possible)."""
        kept = self.kept()
        iterations = np.array([e.iteration for e in kept])
        i = int(np.searchsorted(iterations, iteration, side="right")) - 1
        return kept[max(i, 0)]

    def trajectory(self, restart: int | None = None) -> np.ndarray:
        """One restart's own means over the kept iterations (T, K, D): of the given restart, or (None) of the
        latest snapshot's shown restart (the fit's answer once it ended)."""
        kept = self.kept()
        if restart is None:
            restart = kept[-1].restart
        return np.stack([e.restart_means[restart] for e in kept])

    def log_likelihoods(self, restart: int | None = None) -> np.ndarray:
        """(T, 2): iteration and mean log-likelihood of the kept entries: of each entry's shown restart, or of the
        given restart's own run."""
        kept = self.kept()
        if restart is None:
            return np.array([(e.iteration, e.mean_log_likelihood) for e in kept], dtype=np.float64)
        return np.array([(e.iteration, e.restart_mean_log_likelihood[restart]) for e in kept], dtype=np.float64)

    @property
    def nbytes(self) -> int:
        arrays = (
            "weights",
            "means",
            "covariances",
            "restart_means",
            "restart_weights",
            "restart_covariances",
            "restart_mean_log_likelihood",
        )
        return sum(sum(getattr(e, a).nbytes for a in arrays) + 64 for e in self.kept())
