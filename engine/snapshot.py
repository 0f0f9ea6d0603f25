"""Immutable per-iteration snapshots of a fit: NumPy copies in data units, never live tensors."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .config import FitConfig


class CancelToken:
    """Set from any thread; the fit checks it once per iteration and stops (a pass over data read by chunks, exact
    EM's E-step over points in memory and the starts also between their chunks: they raise errors.Cancelled)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise errors.Cancelled once cancelled (between a pass's or an E-step's chunks): one Event.is_set."""
        if self._event.is_set():
            from .errors import Cancelled

            raise Cancelled("the fit was cancelled during a pass")


# Where a fit stands: still iterating, or why it stopped. The engine's own; the window keeps its own states
# (a replayed iteration, a failed run) apart.
Status = Literal["running", "converged", "max_iter", "cancelled"]


@dataclass(frozen=True)
class RestartTable:
    """One entry per restart (R,). n_iter is -1 and log-likelihoods NaN for restarts never run
    (select-by initial trains only the chosen one). Parameters are in data units.

    last_change, previous_change (R,): how much the mean log-likelihood changed in the restart's last iteration
    and in the one before (NaN where it ran fewer): whether it was still climbing when it stopped (see
    solutions.still_to_gain). None in a table built without them.
    """

    seeds: np.ndarray
    initial_loss: np.ndarray
    mean_log_likelihood: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    weights: np.ndarray  # (R, K)
    means: np.ndarray  # (R, K, D)
    covariances: np.ndarray  # (R, K, D, D)
    last_change: np.ndarray | None = None
    previous_change: np.ndarray | None = None


@dataclass(frozen=True)
class Snapshot:
    """The state of a fit after `iteration` updates, for the shown restart `restart`.

    weights (K,), means (K, D), covariances (K, D, D): the shown restart, data units.
    status: "running", "converged", "max_iter" or "cancelled".
    """

    iteration: int
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    mean_log_likelihood: float
    n_samples: int
    status: Status
    elapsed: float
    restart: int
    restarts: RestartTable
    reseeded: tuple[int, ...]
    empty: tuple[int, ...]
    warnings: tuple[str, ...]
    config: FitConfig
    reg_floor: np.ndarray  # (D,) what reg_covar added to each column's variance, in data units
    # sum w of a fit with frequency weights (mean_log_likelihood is then per unit of weight); None: unweighted
    n_effective: float | None = None

    @property
    def n_counted(self) -> float:
        """How many points the fit counts: sum w with weights, else n_samples (the n of BIC)."""
        return self.n_samples if self.n_effective is None else self.n_effective

    @property
    def log_likelihood(self) -> float:
        """Total log-likelihood of the data (sum_n w_n log p(x_n) with weights)."""
        return self.mean_log_likelihood * self.n_counted

    @property
    def done(self) -> bool:
        return self.status != "running"

    @property
    def converged(self) -> bool:
        """The whole batch converged (every restart); see restart_converged for the shown restart."""
        return self.status == "converged"

    @property
    def restart_iterations(self) -> int:
        """The shown restart's own iterations: in a batch each restart stops on its own, and `iteration` counts the
        batch's (the slowest restart's) iterations."""
        own = int(self.restarts.n_iter[self.restart])
        return own if own >= 0 else self.iteration

    @property
    def restart_converged(self) -> bool:
        """Whether the shown restart converged (it may have, though the batch ran on to max_iter)."""
        return bool(self.restarts.converged[self.restart])

    @property
    def n_components(self) -> int:
        return self.weights.shape[0]
