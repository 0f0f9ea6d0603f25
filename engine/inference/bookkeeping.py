"""A fit's bookkeeping, per restart and in data units: what its snapshots report (fitting, streaming, the grid)."""

from __future__ import annotations

import numpy as np
import torch

from ..config import FitConfig
from ..fixed import put_pinned
from ..model.scaling import Scaling
from ..procedure import Procedure
from ..snapshot import RestartTable, Snapshot
from .collapse import collapses
from .em import failure_warning
from .init import Params


def symmetric(cov: np.ndarray) -> np.ndarray:
    """cov (..., D, D) with its lower triangle replaced by the upper one: exactly symmetric, and unchanged
    when it already was (averaging would round)."""
    d = cov.shape[-1]
    upper = np.triu(np.ones((d, d), dtype=bool))
    return np.where(upper, cov, np.swapaxes(cov, -1, -2))


def final_status(cancelled: bool, converged: torch.Tensor) -> str:
    """A finished fit's status: cancelled, or converged when every restart finished (converged (R,)), else
    max_iter."""
    if cancelled:
        return "cancelled"
    return "converged" if bool(converged.all()) else "max_iter"


class Bookkeeping:
    """Per-restart bookkeeping in data units; builds the snapshots."""

    def __init__(
        self,
        cfg: FitConfig,
        seeds: np.ndarray,
        initial_loss: np.ndarray,
        ran: np.ndarray,
        scaling: Scaling,
        floor: np.ndarray,
        exact_start: tuple[np.ndarray, ...] | None = None,
        n_effective: float | None = None,
    ) -> None:
        self.cfg = cfg
        self.n_effective = n_effective  # sum w of a weighted fit (its snapshots' n); None: unweighted
        self.floor = floor  # (D,) reg_covar's floor in data units
        self.exact_start = exact_start
        self.seeds = seeds
        self.initial_loss = initial_loss
        self.ran = ran
        self.scaling = scaling
        r = len(seeds)
        self.mean_ll = np.full(r, np.nan)
        self.n_iter = np.full(r, -1)
        self.converged = np.zeros(r, dtype=bool)
        self.last_change = np.full(r, np.nan)  # the mean log-likelihood's last two steps of each restart
        self.previous_change = np.full(r, np.nan)
        self.params: tuple[np.ndarray, ...] = ()
        self.log_det = scaling.log_det

    def record_progress(
        self, mean_ll: torch.Tensor, converged: torch.Tensor, running: torch.Tensor, iteration: int
    ) -> None:
        """Each restart's log-likelihood and state; restarts that ran this iteration get n_iter = iteration and
        their step (the change of their mean log-likelihood) recorded."""
        now = mean_ll.numpy() - self.log_det
        if iteration > 0:
            moved = self.ran[running.numpy()]
            self.previous_change[moved] = self.last_change[moved]
            self.last_change[moved] = now[running.numpy()] - self.mean_ll[moved]
        self.mean_ll[self.ran] = now
        self.converged[self.ran] = converged.numpy()
        self.n_iter[self.ran] = np.where(running.numpy(), iteration, self.n_iter[self.ran])

    def record_params(self, params: Params, iteration: int) -> None:
        """Store the current parameters (data units) for the next snapshot.

        In NumPy: these are arrays of R*K*D*D numbers, where each torch call costs more than its arithmetic.
        """
        weights, means, cov = (p.detach().cpu().numpy().astype(np.float64) for p in params)  # fresh copies
        self.params = (weights, self.scaling.means_to_data(means), symmetric(self.scaling.cov_to_data(cov)))
        if iteration == 0 and self.exact_start is not None:  # the given start, bit for bit
            self.params = tuple(
                np.broadcast_to(a, p.shape).copy() for a, p in zip(self.exact_start, self.params, strict=True)
            )
        self.params = put_pinned(self.cfg, self.params)  # pinned values: the init file's, bit for bit

    def part(self, cfg: FitConfig, rows: np.ndarray, k: int) -> Bookkeeping:
        """Rows (M,) of this book, every one of which ran, as the book of a fit of their own with k components
        (the padded components of a batched grid dropped): a cell of model selection's grid."""
        ran = np.arange(len(rows))
        book = Bookkeeping(
            cfg, self.seeds[rows], self.initial_loss[rows], ran, self.scaling, self.floor, n_effective=self.n_effective
        )
        book.mean_ll, book.n_iter, book.converged = self.mean_ll[rows], self.n_iter[rows], self.converged[rows]
        book.last_change, book.previous_change = self.last_change[rows], self.previous_change[rows]
        book.params = tuple(p[rows][:, :k] for p in self.params)
        return book

    def snapshot(self, iteration: int, status: str, elapsed: float, proc: Procedure, n_samples: int) -> Snapshot:
        # the best restart by log-likelihood, among those that did not fail (a collapsing component sends the
        # log-likelihood of a failed restart towards infinity: it is never the answer while another exists)
        ll = self.mean_ll[self.ran]
        failed = proc.failed
        if bool(failed.any()) and not bool(failed.all()):
            ll = np.where(failed.numpy(), np.nan, ll)
        local = int(np.argmax(np.where(np.isnan(ll), -np.inf, ll)))
        shown = int(self.ran[local])
        weights, means, cov = (p[local].copy() for p in self.params)
        r = len(self.seeds)
        if len(self.ran) == r:  # every restart ran: the recorded arrays are the table's (never written again)
            full = self.params
        else:
            full = [np.full((r, *p.shape[1:]), np.nan) for p in self.params]
            for arr, p in zip(full, self.params, strict=True):
                arr[self.ran] = p
        table = RestartTable(
            self.seeds.copy(),
            self.initial_loss.copy(),
            self.mean_ll.copy(),
            self.n_iter.copy(),
            self.converged.copy(),
            *full,
            self.last_change.copy(),
            self.previous_change.copy(),
        )
        return Snapshot(
            iteration=iteration,
            weights=weights,
            means=means,
            covariances=cov,
            mean_log_likelihood=float(self.mean_ll[shown]),
            n_samples=n_samples,
            status=status,
            elapsed=elapsed,
            restart=shown,
            restarts=table,
            reseeded=tuple(proc.reseeded[local]),
            empty=tuple(proc.empty[local]),
            warnings=self._warnings(
                (weights, means, cov),
                n_samples if self.n_effective is None else self.n_effective,
                proc.reseeded[local],
                proc.empty[local],
                proc.failures,
            ),
            config=self.cfg,
            reg_floor=self.floor.copy(),
            n_effective=self.n_effective,
        )

    def _warnings(
        self, params: tuple[np.ndarray, ...], n_samples: float, reseeded: list[int], empty: list[int], failures: dict
    ) -> tuple[str, ...]:
        weights, means, cov = params
        out = [failure_warning(r, failures[r]) for r in sorted(failures)]  # restarts that stopped (the others went on)
        out += [f"component {k} lost all its points and was re-seeded" for k in reseeded]
        out += [f"component {k} has lost all its points" for k in empty if k not in reseeded]
        found = collapses(cov, weights, means, n_samples, self.floor, self.cfg.covariance_type)
        out += [c.text for c in found if c.component not in empty]  # an empty one is said above
        return tuple(out)
