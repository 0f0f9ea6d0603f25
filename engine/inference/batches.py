"""Restarts run in successive batches when all of them at once would exceed the memory limit (issue 22 item 12:
100,000 restarts on 1,000 points grew to 6.3 GB).

Restart r starts from its own generator, seeded seed + r (init.generators), so batch [a, b) is the fit with
seed + a and b - a restarts: the same starts as one batch, and EM runs each restart on its own. This module merges
the batches' snapshots into snapshots of the whole fit: one restart table of every restart (a later batch's rows
not yet run: NaN, n_iter -1), the shown restart the best so far across batches, iterations counted across batches.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from ..config import FitConfig
from ..snapshot import RestartTable, Snapshot

_RESTART_WARNING = re.compile(r"^restart (\d+) ")


def batch_configs(cfg: FitConfig, per_batch: int) -> list[tuple[int, FitConfig]]:
    """(first restart, config) of each batch of at most per_batch restarts: the same seeds as one batch, and the
    same starts (hc's restart 0 is in the first batch; its others are k-means++ restarts, init.py)."""
    return [
        (a, replace(cfg, seed=cfg.seed + a, restarts=min(per_batch, cfg.restarts - a), init=_batch_init(cfg, a)))
        for a in range(0, cfg.restarts, per_batch)
    ]


def _batch_init(cfg: FitConfig, first: int) -> str | None:
    """The start of the batch whose first restart is `first`: cfg's, but k-means++ after hc's first batch."""
    return "kmeans++" if cfg.init == "hc" and first > 0 else cfg.init


class MergedRestarts:
    """The whole fit's restart table (R,) filled batch by batch, and the best finished batch's last snapshot."""

    def __init__(self, cfg: FitConfig, n_features: int) -> None:
        r, k, d = cfg.restarts, cfg.n_components, n_features
        self.cfg = cfg
        self.seeds = np.arange(cfg.seed, cfg.seed + r)
        self.initial_loss = np.full(r, np.inf)
        self.mean_ll = np.full(r, np.nan)
        self.n_iter = np.full(r, -1)
        self.converged = np.zeros(r, dtype=bool)
        self.weights = np.full((r, k), np.nan)
        self.means = np.full((r, k, d), np.nan)
        self.covariances = np.full((r, k, d, d), np.nan)
        self.last_change = np.full(r, np.nan)  # each restart's last two steps (the gallery's plateau judgement)
        self.previous_change = np.full(r, np.nan)
        self.best: tuple[int, Snapshot] | None = None  # (first restart of its batch, its last snapshot)
        self.iterations = 0  # the finished batches' iterations
        self.statuses: list[str] = []

    def _write(self, first: int, table: RestartTable) -> None:
        rows = slice(first, first + len(table.seeds))
        self.initial_loss[rows], self.mean_ll[rows] = table.initial_loss, table.mean_log_likelihood
        self.n_iter[rows], self.converged[rows] = table.n_iter, table.converged
        self.weights[rows], self.means[rows], self.covariances[rows] = table.weights, table.means, table.covariances
        if table.last_change is not None:
            self.last_change[rows], self.previous_change[rows] = table.last_change, table.previous_change

    def finish(self, first: int, last: Snapshot) -> None:
        """Keep a finished batch's last snapshot (first: its first restart's number)."""
        self._write(first, last.restarts)
        self.iterations += last.iteration
        self.statuses.append(last.status)
        if self.best is None or last.mean_log_likelihood > self.best[1].mean_log_likelihood:
            self.best = (first, last)

    def status(self, last_batch: bool, current: str) -> str:
        """The whole fit's status: running until the last batch ends; then cancelled, max_iter or converged."""
        if current == "cancelled":
            return "cancelled"
        if current == "running" or not last_batch:
            return "running"
        return "max_iter" if "max_iter" in self.statuses else "converged"

    def snapshot(self, first: int, snap: Snapshot, status: str, elapsed: float) -> Snapshot:
        """The whole fit's snapshot while the batch starting at restart `first` shows snap."""
        self._write(first, snap.restarts)
        shown_first, shown = first, snap
        if self.best is not None and self.best[1].mean_log_likelihood >= snap.mean_log_likelihood:
            shown_first, shown = self.best
        table = RestartTable(
            self.seeds.copy(),
            self.initial_loss.copy(),
            self.mean_ll.copy(),
            self.n_iter.copy(),
            self.converged.copy(),
            self.weights.copy(),
            self.means.copy(),
            self.covariances.copy(),
            self.last_change.copy(),
            self.previous_change.copy(),
        )
        return replace(
            shown,
            iteration=self.iterations + snap.iteration,
            status=status,
            elapsed=elapsed,
            restart=shown_first + shown.restart,
            restarts=table,
            warnings=tuple(_renumbered(w, shown_first) for w in shown.warnings),
            config=self.cfg,
        )


def _renumbered(warning: str, first: int) -> str:
    """A batch's warning about its restart i, about restart first + i of the whole fit."""
    return _RESTART_WARNING.sub(lambda m: f"restart {first + int(m.group(1))} ", warning, count=1)
