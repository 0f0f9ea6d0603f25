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
from ..errors import UserError
from ..procedure import Procedure
from ..runtime.limits import restarts_that_fit
from ..runtime.memory import release_free_memory
from ..snapshot import CancelToken, Snapshot
from .batches import MergedRestarts, batch_configs
from .bookkeeping import Bookkeeping, final_status, symmetric
from .em import ExactEM
from .init import Params, generators
from .missing import MISSING_MODES, MissingPoints, check_missing, has_missing, prepare_missing
from .pipeline import (
    SPREAD_RANGE,
    Setup,
    Stopping,
    begin,
    book,
    check_data,
    check_weights,
    checked_data,
    floor_of,
    initial_losses,
    iterations,
    prepare_points,
    resolve_device,
    starts,
    working_points,
)
from .sources import PointsInMemory

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


def _procedure(
    cfg: FitConfig,
    setup: Setup,
    params: Params,
    rng: torch.Generator,
    source: MissingPoints | None = None,
    cancel: CancelToken | None = None,
) -> Procedure:
    """The algorithm's procedure over the setup's points from params; with a prior, exact EM's MAP form (the
    config allows a prior with exact EM only); with weights, exact EM over the weighted points; with missing
    values, exact EM over their source. Exact EM's E-step checks cancel between its chunks (errors.Cancelled)."""
    if source is not None:
        return ExactEM(source, params, cfg.covariance_type, setup.reg, cfg.empty_policy)
    points = setup.points
    if cfg.algorithm == "em":  # the same source ExactEM makes of a tensor, given the token
        points = PointsInMemory(setup.points, setup.weights, cancel)
    if cfg.prior is not None or setup.weights is not None:
        return ExactEM(points, params, cfg.covariance_type, setup.reg, cfg.empty_policy, priors=setup.priors)
    return ALGORITHMS[cfg.algorithm].procedure_class().create(points, params, cfg, setup.reg, rng)


def _select(params: Params, index: int) -> Params:
    return tuple(p[index : index + 1].clone() for p in params)


def fit(
    data: np.ndarray,
    config: FitConfig,
    cancel: CancelToken | None = None,
    every: bool = True,
    trace: list | None = None,
    memory_limit: int | None = None,
    weights: np.ndarray | None = None,
    missing: str | None = None,
) -> Iterator[Snapshot]:
    """Fit a mixture to data (N, D), each point counted weights[n] times (frequency weights (N,) >= 0, not all 0:
    exact EM only; None: once each); missing "em": NaN values are missing at random, fitted by exact EM on each
    point's observed coordinates (missing.py; data without a NaN is fitted as without the flag); None: refused.
    Yield a Snapshot after the initial evaluation and after every update
    (every=False: the last snapshot only, which spares building the others: model selection's many small fits).

    memory_limit (bytes): restarts whose working arrays would exceed it (limits.fit_bytes) run in successive
    batches that fit, with the same starts and the same answer as one batch (see batches.py; not for select_by
    "initial", whose one trained restart is chosen among all starts at once).

    trace: a list that receives (iteration, mean log-likelihood of each restart (R,)) after every update.
    Stops when every restart's mean log-likelihood changes by less than tol, at max_iter, or on cancel: exact EM's
    starts and E-steps raise errors.Cancelled at their next chunk (as a pass by chunks does), else a last snapshot
    with status "cancelled" is yielded. Errors the user can fix raise UserError.
    """
    cfg = config.resolved()
    if missing is not None and missing not in MISSING_MODES:
        raise UserError(f"missing must be one of {', '.join(MISSING_MODES)}, got {missing!r}")
    incomplete = missing is not None and has_missing(data)
    x_data, moments = check_missing(data) if incomplete else checked_data(data)
    n, d = x_data.shape
    weights = check_weights(weights, n)
    if weights is not None and cfg.algorithm != "em":
        raise UserError(f"weights are fitted by exact EM (algorithm em), not {cfg.algorithm}")
    per_batch = _restarts_per_batch(cfg, n, d, memory_limit)
    if per_batch < cfg.restarts:
        yield from _in_batches(x_data, cfg, per_batch, cancel, every, weights, missing)
        return
    work, source = n * cfg.n_components * cfg.restarts, None
    if incomplete:
        moments = check_missing(x_data, weights)[1] if weights is not None else moments
        setup, source = prepare_missing(x_data, moments, cfg, work, weights, cancel)
    else:
        setup = prepare_points(x_data, moments, cfg, work, n, weights)
    # above stream.SAMPLE_SIZE points the start is drawn from the seed's sample, as a fit by chunks draws it
    init = starts(setup, cfg, cancel)
    release_free_memory()  # the checks' and the initialisation's temporaries, before the E-step's own
    rngs = generators(cfg.seed + 1_000_003, cfg.restarts)  # sampling streams, apart from the init streams
    proc = _procedure(cfg, setup, init, rngs[0], source, cancel)
    mean_ll = begin(proc)
    initial_loss = initial_losses(proc)
    ran = np.arange(cfg.restarts)
    if cfg.select_by == "initial" and cfg.restarts > 1:
        # the forum's way: keep the restart with the lowest initial loss, re-initialise with it, train it
        chosen = int(np.argmin(initial_loss))
        ran = np.array([chosen])
        proc = _procedure(cfg, setup, _select(init, chosen), rngs[chosen], source, cancel)
        mean_ll = begin(proc)
    table = book(setup, initial_loss, ran)
    yield from iterate(proc, cfg, table, mean_ll, n, setup.started, cancel, every, trace)


def _restarts_per_batch(cfg: FitConfig, n: int, d: int, memory_limit: int | None) -> int:
    """How many restarts run at once: all of them, or as many as memory_limit holds (at least one)."""
    if memory_limit is None or cfg.restarts == 1 or cfg.select_by == "initial":
        return cfg.restarts
    return max(1, restarts_that_fit(n, d, cfg.n_components, cfg.restarts, memory_limit, cfg.memory_factor))


def _in_batches(
    x_data: np.ndarray,
    cfg: FitConfig,
    per_batch: int,
    cancel: CancelToken | None,
    every: bool,
    weights: np.ndarray | None = None,
    missing: str | None = None,
) -> Iterator[Snapshot]:
    """fit's snapshots for restarts run per_batch at a time, merged into the whole fit's (batches.MergedRestarts)."""
    merged = MergedRestarts(cfg, x_data.shape[1])
    batches = batch_configs(cfg, per_batch)
    start = time.perf_counter()
    for i, (first, sub) in enumerate(batches):
        last_batch = i == len(batches) - 1
        last = None
        for last in fit(x_data, sub, cancel, every, weights=weights, missing=missing):
            if i and last.iteration == 0 and not last.done:  # the previous batch's last snapshot has this number
                continue
            status = merged.status(last_batch, last.status)
            if every or status != "running":
                yield merged.snapshot(first, last, status, time.perf_counter() - start)
        merged.finish(first, last)
        if last.status == "cancelled":
            return


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


def run_to_end(
    data: np.ndarray,
    config: FitConfig,
    cancel: CancelToken | None = None,
    weights: np.ndarray | None = None,
    missing: str | None = None,
) -> Snapshot:
    """Drain the fit generator and return its last snapshot (the only one built: every=False)."""
    last = None
    for last in fit(data, config, cancel, every=False, weights=weights, missing=missing):  # noqa: B007
        pass
    return last
