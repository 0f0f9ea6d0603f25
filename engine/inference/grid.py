"""Model selection's grid of fits, in as few batched EM runs as the engine allows.

Every (K, covariance type) cell of a selection runs exact EM on the same points. On small data an iteration
costs the fixed overhead of its torch calls, not arithmetic, so a grid of cells one by one pays that
overhead once per cell and iteration. Batched, the cells' restarts are the rows of one ExactEM: the
components padded to the largest K (a padded component has weight 0, so it takes no responsibility and no
update), each row with its own covariance type (any registered one: a pad-safe type, every registered model,
runs one padded update per iteration for all its K; any other on each K's real components, see
CovarianceType.pad_safe), each row stopping by the same rule as `fit`. Cells of
an isotropic type (spherical = VII, and any other that keeps one scale on every axis) run as a batch of their
own: they need one common scale on every axis. Each cell's snapshot is the one `fit` gives for that cell alone,
to rounding (tests compare them).

On large data the arithmetic dominates and the padding adds work (K = 1..9 padded to 9 is 1.8 times the
components), so the cells then run one by one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..config import FitConfig
from ..errors import UserError
from ..io.stream import Survey
from ..model.covariances import COVARIANCE_TYPES
from ..model.scaling import column_moments
from ..snapshot import CancelToken, Snapshot
from .bookkeeping import Bookkeeping
from .em import ExactEM, all_failed_error
from .fitting import fit
from .missing import has_missing
from .pipeline import (
    Setup,
    Stopping,
    book,
    check_weights,
    checked_data,
    initial_losses,
    iterations,
    prepare_points,
    prepare_survey,
    starts,
)
from .sources import ChunkSource, PassedPoints, PassRunner, PointsInMemory
from .streaming import missing_sample

# The grid runs batched while points x rows x padded components (the E-step's elements per iteration) stay at
# or below this: where `bench/bench_select.py --sizes` finds the batch still ahead of one fit at a time, with room
# (the README has the table). At the bound the batch's (rows, N) log-likelihoods take at most 160 MB.
BATCH_MAX_ELEMENTS = 20_000_000


@dataclass(frozen=True)
class CellResult:
    """One cell's fit: its last snapshot and its trace [(iteration, mean log-likelihood per restart (R,))],
    or the error that stopped it."""

    config: FitConfig
    snapshot: Snapshot | None
    trace: list
    error: UserError | None = None


@dataclass(frozen=True)
class Streamed:
    """Data read by chunks (engine/stream.py) for the grid: the source, its first pass's survey (moments and the
    initialisation's sample), and run_pass(plan) -> PassSums, one E-step pass here or on a Dask cluster."""

    source: ChunkSource
    survey: Survey
    run_pass: PassRunner

    @property
    def shape(self) -> tuple[int, int]:
        return self.survey.n_samples, self.source.n_features

    @property
    def weighted(self) -> bool:
        """Whether the source's chunks carry the points' frequency weights as their last column."""
        return self.survey.n_effective is not None

    @property
    def n_counted(self) -> float:
        """sum w with weights, else the number of points."""
        return self.survey.n_samples if not self.weighted else self.survey.n_effective


def fit_cells(
    data: np.ndarray | Streamed,
    cells: list[FitConfig],
    cancel: CancelToken | None = None,
    weights: np.ndarray | None = None,
    missing: str | None = None,
) -> Iterator[CellResult]:
    """Fit every cell (configs that differ only in K and covariance type) on data (N, D) (weights (N,): the
    points' frequency weights, in memory); yield the results in the order of cells, batched where that pays. Stops
    yielding when cancel is set. missing "em" (data in memory): data with missing values (NaN) is fitted a cell at
    a time, each cell the fit(missing="em") of its K and model (their starts depend on K: from the complete rows
    when there are K (D + 1) of them). Streamed data says itself whether it holds missing values (its survey's
    missing_cells): the batch's passes and each cell's start rows then take them.

    Streamed data always runs batched (one pass per iteration for the whole grid): exact EM from generated
    starts only."""
    if isinstance(data, Streamed):
        if not _streamable(cells):
            raise UserError("a selection over data read by chunks runs exact EM from k-means++ starts (em, final)")
        results = {}
        for group in _scaling_groups(cells):
            done = _batch(data, [(i, cells[i]) for i in group], cancel)
            if done is None:
                return
            results.update(done)
        yield from (results[i] for i in range(len(cells)))
        return
    if missing is not None and has_missing(data):
        yield from _each_alone(data, cells, cancel, weights, missing)
        return
    x, moments = checked_data(data)
    weights = check_weights(weights, x.shape[0])
    if not batchable(x.shape[0], cells):
        for cfg in cells:
            if cancel is not None and cancel.cancelled:
                return
            yield _alone(x, cfg, cancel, weights)
        return
    results: dict[int, CellResult] = {}
    for group in _scaling_groups(cells):
        done = _batch(x, [(i, cells[i]) for i in group], cancel, moments, weights)
        if done is None:  # cancelled
            return
        results.update(done)
    for i in range(len(cells)):
        yield results[i]


def batchable(n_points: int, cells: list[FitConfig]) -> bool:
    """Whether the cells can and should run batched: exact EM from a generated start (an explicit start has
    one K), the restarts' final log-likelihood choosing the answer, and little arithmetic per iteration."""
    try:
        cfgs = [c.resolved() for c in cells]
    except UserError:  # each cell then reports its own error
        return False
    if not cfgs or any(c.algorithm != "em" or c.init == "params" or c.select_by != "final" for c in cfgs):
        return False
    rows = sum(c.restarts for c in cfgs)
    return n_points * rows * max(c.n_components for c in cfgs) <= BATCH_MAX_ELEMENTS


def _streamable(cells: list[FitConfig]) -> bool:
    cfgs = [c.resolved() for c in cells]
    return all(c.algorithm == "em" and c.init != "params" and c.select_by == "final" for c in cfgs)


def _scaling_groups(cells: list[FitConfig]) -> list[list[int]]:
    """Indices of the cells that share working units and reg_covar floor: isotropic ones (spherical, ...) apart."""
    # apart whether or not the data is standardised: a relative reg_covar floor differs too (spherical: the
    # geometric mean of the columns' variances on every axis; the others: each column's own)
    isotropic = [COVARIANCE_TYPES[c.covariance_type].isotropic for c in cells]
    return [g for g in ([i for i, s in enumerate(isotropic) if not s], [i for i, s in enumerate(isotropic) if s]) if g]


def _each_alone(
    x: np.ndarray, cells: list[FitConfig], cancel: CancelToken | None, weights: np.ndarray | None, missing: str
) -> Iterator[CellResult]:
    """Every cell fitted alone, in order, until cancel is set."""
    for cfg in cells:
        if cancel is not None and cancel.cancelled:
            return
        yield _alone(x, cfg, cancel, weights, missing)


def _alone(
    x: np.ndarray,
    cfg: FitConfig,
    cancel: CancelToken | None,
    weights: np.ndarray | None,
    missing: str | None = None,
) -> CellResult:
    trace: list = []
    try:
        # every=False: only the last snapshot is built
        *_, snap = fit(x, cfg, cancel, every=False, trace=trace, weights=weights, missing=missing)
    except UserError as exc:
        return CellResult(cfg, None, [], exc)
    return CellResult(cfg, snap, trace)


@dataclass(frozen=True)
class _CellProcedure:
    """What a snapshot reads from the procedure, for one cell's rows (in the cell's own restart numbers)."""

    failed: torch.Tensor
    failures: dict[int, int]
    reseeded: list[list[int]]
    empty: list[list[int]]


@dataclass(frozen=True)
class _Layout:
    """The batch's rows: cells [(index, resolved config)] that have a start, and each one's rows (R_c,) among
    the batch's R = sum R_c."""

    cells: list[tuple[int, FitConfig]]
    rows: list[np.ndarray]

    @staticmethod
    def of(cells: list[tuple[int, FitConfig]]) -> _Layout:
        offsets = np.cumsum([0, *(cfg.restarts for _, cfg in cells)])
        return _Layout(cells, [np.arange(offsets[c], offsets[c + 1]) for c in range(len(cells))])

    def per_row(self, attribute: str) -> list:
        """A config attribute (covariance_type, n_components) for each row (R,)."""
        return [getattr(cfg, attribute) for _, cfg in self.cells for _ in range(cfg.restarts)]


def _batch(
    data: np.ndarray | Streamed,
    cells: list[tuple[int, FitConfig]],
    cancel: CancelToken | None,
    moments: tuple[np.ndarray, np.ndarray] | None = None,
    weights: np.ndarray | None = None,
) -> dict[int, CellResult] | None:
    """Fit cells [(index, config)] that share their working units as one ExactEM through the shared pipeline;
    None when cancelled. moments: the data's column_moments, computed by its check (in memory); weights (N,): the
    points' checked frequency weights (in memory)."""
    given = dict(cells)
    cells = [(i, cfg.resolved()) for i, cfg in cells]
    base = cells[0][1]
    n = data.shape[0]
    work = n * max(cfg.n_components for _, cfg in cells) * sum(cfg.restarts for _, cfg in cells)
    if isinstance(data, Streamed):  # the starts from the survey's sample, the passes over the source
        setup = prepare_survey(data.survey, base, work, time.perf_counter())
    else:
        # n too: a batch on at most ONE_CHUNK_ROWS points is one E-step chunk, where one torch thread is faster
        # up to a larger work (threads.threads_for; docs/performance.md, 'The fourteen-model grid')
        moments = moments if moments is not None else column_moments(data)
        setup = prepare_points(data, moments, base, work, n, weights)
    results: dict[int, CellResult] = {}
    inits = []
    missing = isinstance(data, Streamed) and data.survey.missing_cells > 0
    for i, cfg in cells:
        try:  # with missing values, the start rows depend on K (missing.start_rows)
            inits.append((i, cfg, starts(replace(setup, **missing_sample(setup, cfg)) if missing else setup, cfg)))
        except UserError as exc:  # more components than points
            results[i] = CellResult(given[i], None, [], exc)
    if not inits:
        return results
    layout = _Layout.of([(i, cfg) for i, cfg, _ in inits])
    k_max = max(cfg.n_components for _, cfg in layout.cells)
    params = tuple(torch.cat([_pad(p[j], k_max, j) for _, _, p in inits]) for j in range(3))
    source = setup.points if setup.weights is None else PointsInMemory(setup.points, setup.weights)
    if isinstance(data, Streamed):
        d = data.shape[1]
        source = PassedPoints(data.run_pass, n, d, setup.scaling, setup.dtype, setup.n_effective, missing)
    setup = setup.without_sample()
    types, ks = layout.per_row("covariance_type"), layout.per_row("n_components")
    proc = ExactEM(source, params, types, setup.reg, base.empty_policy, n_components=ks, priors=setup.priors)
    mean_ll = proc.evaluate().cpu()  # no restart failing the batch: each cell reports its own failures
    seeds = np.concatenate([np.arange(cfg.seed, cfg.seed + cfg.restarts) for _, cfg in layout.cells])
    table = book(setup, initial_losses(proc), np.arange(len(types)), seeds)
    ran = _run(proc, table, mean_ll, layout, setup, cancel)
    if ran is None:
        return None
    results.update(_cell_results(proc, layout, given, n, *ran))
    return results


def _run(
    proc: ExactEM,
    table: Bookkeeping,
    mean_ll: torch.Tensor,
    layout: _Layout,
    setup: Setup,
    cancel: CancelToken | None,
) -> tuple[Bookkeeping, torch.Tensor, dict[int, tuple[int, float]], list] | None:
    """The batch's iterations from its first E-step (mean log-likelihoods mean_ll (R,)): pipeline.iterations,
    no restart failing the whole batch; None when cancelled.
    Returns the book, the restarts that finished (R,), each cell's (last iteration, seconds) and the trace
    [(iteration, mean log-likelihood per row (R,))]."""
    stopping = Stopping(len(table.seeds), setup.cfg.tol, proc.failed)
    finished: dict[int, tuple[int, float]] = {}  # cell -> (its last iteration, seconds)
    trace = []
    tick = None
    active = stopping.active.numpy()  # the same memory: read in NumPy, a torch index per cell cost more (27 a tick)
    cell_of = np.repeat(np.arange(len(layout.rows)), [len(r) for r in layout.rows])  # (R,) each row's cell
    for tick in iterations(proc, stopping, mean_ll, setup.cfg.max_iter, cancel, fail_together=False):
        table.record_progress(tick.mean_ll, stopping.converged, tick.running, tick.iteration)
        trace.append((tick.iteration, table.mean_ll.copy()))
        if tick.cancelled:
            return None
        if len(finished) < len(layout.rows):
            going = set(cell_of[active].tolist())
            for c in range(len(layout.rows)):
                if c not in finished and c not in going:
                    finished[c] = (tick.iteration, time.perf_counter() - setup.started)
    table.record_params(proc.params(), tick.iteration)
    return table, stopping.done, finished, trace


def _cell_results(
    proc: ExactEM,
    layout: _Layout,
    given: dict[int, FitConfig],
    n: int,
    table: Bookkeeping,
    done: torch.Tensor,
    finished: dict[int, tuple[int, float]],
    trace: list,
) -> dict[int, CellResult]:
    """Each cell's result from the batch's end: its snapshot (as `fit` alone gives it) or the error that stopped
    every one of its restarts."""
    results = {}
    done = done.numpy()
    for c, (i, cfg) in enumerate(layout.cells):
        r = layout.rows[c]
        failures = {j - int(r[0]): comp for j, comp in proc.failures.items() if j in r}  # in the order they failed
        part = _CellProcedure(proc.failed[r], failures, [proc.reseeded[j] for j in r], [proc.empty[j] for j in r])
        if bool(part.failed.all()):
            last = next(reversed(part.failures))
            results[i] = CellResult(given[i], None, [], all_failed_error(last, part.failures[last]))
            continue
        last_iteration, seconds = finished[c]
        status = "converged" if bool(done[r].all()) else "max_iter"
        snap = table.part(cfg, r, cfg.n_components).snapshot(last_iteration, status, seconds, part, n)
        results[i] = CellResult(given[i], snap, [(it, lls[r]) for it, lls in trace if it <= last_iteration])
    return results


def _pad(p: torch.Tensor, k: int, which: int) -> torch.Tensor:
    """Parameters (R, K_c, ...) padded to k components: weight 0, mean 0, identity covariance (which: 0 the
    weights, 1 the means, 2 the covariances)."""
    missing = k - p.shape[1]
    if missing == 0:
        return p
    if which == 2:
        fill = torch.eye(p.shape[-1], dtype=p.dtype, device=p.device).expand(p.shape[0], missing, *p.shape[2:])
    else:
        fill = p.new_zeros((p.shape[0], missing, *p.shape[2:]))
    return torch.cat([p, fill], dim=1)
