"""The fit: a generator of immutable snapshots, one per iteration, shared by the CLI, tests and window.

A fit of points in memory through the shared pipeline (pipeline.py): prepare_points, starts, the procedure the
algorithms' registry names (exact EM: over PointsInMemory), begin, book, and `iterate` (the loop with snapshots),
which the streamed and cluster fits (streaming.fit_stream) share.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import torch

from ..algorithms import ALGORITHMS
from ..config import FitConfig
from ..procedure import Procedure
from ..runtime.memory import release_free_memory
from ..snapshot import CancelToken, Snapshot
from .bookkeeping import Bookkeeping, final_status, symmetric
from .init import Params, generators
from .pipeline import (
    SPREAD_RANGE,
    Stopping,
    begin,
    book,
    check_data,
    checked_data,
    floor_of,
    initial_losses,
    iterations,
    prepare_points,
    resolve_device,
    starts,
    working_points,
)

# the names this module has always offered (tests, benches and the selection import them from here)
__all__ = [
    "SPREAD_RANGE",
    "Bookkeeping",
    "Stopping",
    "check_data",
    "checked_data",
    "fit",
    "floor_of",
    "iterate",
    "resolve_device",
    "run_to_end",
    "symmetric",
    "working_points",
]


def _procedure(cfg: FitConfig, x: torch.Tensor, params: Params, reg: torch.Tensor, rng: torch.Generator) -> Procedure:
    return ALGORITHMS[cfg.algorithm].procedure_class().create(x, params, cfg, reg, rng)


def _select(params: Params, index: int) -> Params:
    return tuple(p[index : index + 1].clone() for p in params)


def fit(
    data: np.ndarray,
    config: FitConfig,
    cancel: CancelToken | None = None,
    every: bool = True,
    trace: list | None = None,
) -> Iterator[Snapshot]:
    """Fit a mixture to data (N, D); yield a Snapshot after the initial evaluation and after every update
    (every=False: the last snapshot only, which spares building the others: model selection's many small fits).

    trace: a list that receives (iteration, mean log-likelihood of each restart (R,)) after every update.
    Stops when every restart's mean log-likelihood changes by less than tol, at max_iter, or when cancel is
    set (then a last snapshot with status "cancelled" is yielded). Errors the user can fix raise UserError.
    """
    cfg = config.resolved()
    x_data, moments = checked_data(data)
    n = x_data.shape[0]
    setup = prepare_points(x_data, moments, cfg, n * cfg.n_components * cfg.restarts, n)
    # above stream.SAMPLE_SIZE points the start is drawn from the seed's sample, as a fit by chunks draws it
    init = starts(setup, cfg)
    release_free_memory()  # the checks' and the initialisation's temporaries, before the E-step's own
    rngs = generators(cfg.seed + 1_000_003, cfg.restarts)  # sampling streams, apart from the init streams
    proc = _procedure(cfg, setup.points, init, setup.reg, rngs[0])
    mean_ll = begin(proc)
    initial_loss = initial_losses(proc)
    ran = np.arange(cfg.restarts)
    if cfg.select_by == "initial" and cfg.restarts > 1:
        # the forum's way: keep the restart with the lowest initial loss, re-initialise with it, train it
        chosen = int(np.argmin(initial_loss))
        ran = np.array([chosen])
        proc = _procedure(cfg, setup.points, _select(init, chosen), setup.reg, rngs[chosen])
        mean_ll = begin(proc)
    table = book(setup, initial_loss, ran)
    yield from iterate(proc, cfg, table, mean_ll, n, setup.started, cancel, every, trace)


def iterate(
    proc: Procedure,
    cfg: FitConfig,
    table: Bookkeeping,
    mean_ll: torch.Tensor,
    n: int,
    start: float,
    cancel: CancelToken | None = None,
    every: bool = True,
    trace: list | None = None,
) -> Iterator[Snapshot]:
    """The snapshots of a fit whose procedure has evaluated its start (mean log-likelihood mean_ll (R,)), booked
    in table: one per iteration of pipeline.iterations (every=False: the last only; see fit). The streamed and
    cluster fits share it; a fit run as successive restart batches calls it once per batch."""
    stopping = Stopping(len(table.ran), cfg.tol, proc.failed)
    for tick in iterations(proc, stopping, mean_ll, cfg.max_iter, cancel):
        table.record_progress(tick.mean_ll, stopping.converged, tick.running, tick.iteration)
        if trace is not None:
            trace.append((tick.iteration, table.mean_ll.copy()))
        status = "running" if stopping.running else final_status(tick.cancelled, stopping.done)
        if every or status != "running":
            table.record_params(proc.params(), tick.iteration)
            yield table.snapshot(tick.iteration, status, time.perf_counter() - start, proc, n)


def run_to_end(data: np.ndarray, config: FitConfig, cancel: CancelToken | None = None) -> Snapshot:
    """Drain the fit generator and return its last snapshot (the only one built: every=False)."""
    last = None
    for last in fit(data, config, cancel, every=False):  # noqa: B007
        pass
    return last
