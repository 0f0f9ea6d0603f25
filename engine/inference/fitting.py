"""The fit: a generator of immutable snapshots, one per iteration, shared by the CLI, tests and window."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import torch

from ..algorithms import ALGORITHMS
from ..config import FitConfig
from ..errors import DataError, UserError
from ..model import gaussian
from ..model.covariances import COVARIANCE_TYPES
from ..model.scaling import Scaling, column_moments, reg_floor
from ..procedure import Procedure
from ..runtime.limits import restarts_that_fit
from ..runtime.memory import release_free_memory
from ..runtime.threads import use_threads_for
from ..snapshot import CancelToken, RestartTable, Snapshot
from .batches import MergedRestarts, batch_configs
from .collapse import collapses
from .em import all_failed_error, failure_warning
from .init import Params, generators, initial_parameters, initial_points

# A column's spread must keep its square (a variance) and the products of two spreads (a covariance) inside the
# normal float64 range (2.2e-308 .. 1.8e308), with room for sums over points and components.
SPREAD_RANGE = (1e-150, 1e150)


def check_data(data: np.ndarray, columns: tuple[str, ...] = ()) -> np.ndarray:
    """The data as a finite float64 array (N, D), or a DataError saying what is wrong (and what to do)."""
    return checked_data(data, columns)[0]


def checked_data(data: np.ndarray, columns: tuple[str, ...] = ()) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """check_data's array (N, D) and its column_moments (the check computes them: a fit reuses them)."""
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"data must be a non-empty table of points (N, D), got shape {x.shape}")
    moments = column_moments(x)  # not finite exactly where a column holds a NaN or an infinity
    if not (np.isfinite(moments[0]).all() and np.isfinite(moments[1]).all()):
        row, col = np.argwhere(~np.isfinite(x))[0]
        raise DataError(f"data row {row}, column {col} is {x[row, col]}: remove or fill non-finite values")
    spread = moments[1]
    lo, hi = SPREAD_RANGE
    for j in np.nonzero((spread > 0) & ((spread < lo) | (spread > hi)))[0]:
        name = f" ({columns[j]!r})" if j < len(columns) else ""
        row = int(np.argmax(np.abs(x[:, j])))
        value = x[row, j]
        factor = "1e-150" if spread[j] > hi else "1e150"
        raise DataError(
            f"column {j}{name} spreads over {spread[j]:.3g} (its largest value, {value:.6g}, is in data row {row}, "
            "counted from 0 without the header), outside what a "
            f"covariance can hold in float64 ({lo:g} to {hi:g}): rescale that column (multiply it by "
            f"{factor}, say) and fit again"
        )
    return x, moments


def working_points(x_data: np.ndarray, scaling: Scaling, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The standardised points (N, D) a fit works on, in `dtype` on `device`: on the CPU from D = 3 a view of the
    E-step's lifted layout (gaussian.lifted_points), written there in one pass."""
    n, d = x_data.shape
    if not gaussian.wants_lifted(d, device):
        return torch.as_tensor(scaling.data_to_std(x_data), dtype=dtype, device=device)
    z = gaussian.lifted_points(n, d, dtype)
    scaling.write_std_transposed(x_data, z[1:])
    return z[1:].T


def resolve_device(cfg: FitConfig) -> torch.device:
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("device 'cuda' was asked for but torch sees no CUDA GPU here: use --device cpu")
    return torch.device(cfg.device)


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
    memory_limit: int | None = None,
) -> Iterator[Snapshot]:
    """Fit a mixture to data (N, D); yield a Snapshot after the initial evaluation and after every update
    (every=False: the last snapshot only, which spares building the others: model selection's many small fits).

    memory_limit (bytes): restarts whose working arrays would exceed it (limits.fit_bytes) run in successive
    batches that fit, with the same starts and the same answer as one batch (see batches.py; not for select_by
    "initial", whose one trained restart is chosen among all starts at once).

    trace: a list that receives (iteration, mean log-likelihood of each restart (R,)) after every update.
    Stops when every restart's mean log-likelihood changes by less than tol, at max_iter, or when cancel is
    set (then a last snapshot with status "cancelled" is yielded). Errors the user can fix raise UserError.
    """
    cfg = config.resolved()
    x_data, moments = checked_data(data)
    n, d = x_data.shape
    per_batch = _restarts_per_batch(cfg, n, d, memory_limit)
    if per_batch < cfg.restarts:
        yield from _in_batches(x_data, cfg, per_batch, cancel, every)
        return
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    device = resolve_device(cfg)
    if device.type == "cpu":
        use_threads_for(n * cfg.n_components * cfg.restarts, n)
    if cfg.standardize:
        scaling = Scaling.fit(x_data, COVARIANCE_TYPES[cfg.covariance_type].isotropic, moments)
    else:
        scaling = Scaling.identity(d)
    x = working_points(x_data, scaling, dtype, device)
    floor = floor_of(cfg, moments[1])
    reg = scaling.reg_to_std(floor, x)
    start = time.perf_counter()
    # above stream.SAMPLE_SIZE points the start is drawn from the seed's sample, as a fit by chunks draws it
    init = tuple(p.to(dtype) for p in initial_parameters(initial_points(x, cfg.seed), cfg, scaling, reg))
    release_free_memory()  # the checks' and the initialisation's temporaries, before the E-step's own
    seeds = np.arange(cfg.seed, cfg.seed + cfg.restarts)
    rngs = generators(cfg.seed + 1_000_003, cfg.restarts)  # sampling streams, apart from the init streams
    proc = _procedure(cfg, x, init, reg, rngs[0])
    _check_running(proc)
    mean_ll = proc.evaluate().cpu()
    initial_loss = proc.initial_loss().detach().cpu().numpy().astype(np.float64)
    ran = np.arange(cfg.restarts)
    if cfg.select_by == "initial" and cfg.restarts > 1:
        # the forum's way: keep the restart with the lowest initial loss, re-initialise with it, train it
        chosen = int(np.argmin(initial_loss))
        ran = np.array([chosen])
        proc = _procedure(cfg, x, _select(init, chosen), reg, rngs[chosen])
        _check_running(proc)
        mean_ll = proc.evaluate().cpu()
    exact_start = _exact_start(cfg) if dtype == torch.float64 else None
    table = Bookkeeping(cfg, seeds, initial_loss, ran, scaling, floor, exact_start)
    yield from iterate(proc, cfg, table, mean_ll, n, start, cancel, every, trace)


def floor_of(cfg: FitConfig, std: np.ndarray) -> np.ndarray:
    """cfg's reg_covar floor in data units (D,), for data whose columns have standard deviations std (D,)."""
    return reg_floor(cfg.reg_covar, cfg.reg_covar_units, std, COVARIANCE_TYPES[cfg.covariance_type].isotropic)


def _restarts_per_batch(cfg: FitConfig, n: int, d: int, memory_limit: int | None) -> int:
    """How many restarts run at once: all of them, or as many as memory_limit holds (at least one)."""
    if memory_limit is None or cfg.restarts == 1 or cfg.select_by == "initial":
        return cfg.restarts
    return max(1, restarts_that_fit(n, d, cfg.n_components, cfg.restarts, memory_limit, cfg.memory_factor))


def _in_batches(
    x_data: np.ndarray, cfg: FitConfig, per_batch: int, cancel: CancelToken | None, every: bool
) -> Iterator[Snapshot]:
    """fit's snapshots for restarts run per_batch at a time, merged into the whole fit's (batches.MergedRestarts)."""
    merged = MergedRestarts(cfg, x_data.shape[1])
    batches = batch_configs(cfg, per_batch)
    start = time.perf_counter()
    for i, (first, sub) in enumerate(batches):
        last_batch = i == len(batches) - 1
        last = None
        for last in fit(x_data, sub, cancel, every):
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
    """The iterations of a fit whose procedure has evaluated its start (mean log-likelihood mean_ll (R,)):
    M-step, E-step, a snapshot, until every restart stops (see fit; the streaming fit shares it)."""
    stopping = Stopping(len(table.ran), cfg.tol, proc.failed)
    iteration = 0
    while True:
        running = stopping.observe(mean_ll)
        table.record_progress(mean_ll, stopping.converged, running, iteration)
        if trace is not None:
            trace.append((iteration, table.mean_ll.copy()))
        cancelled = cancel is not None and cancel.cancelled
        if iteration >= cfg.max_iter or cancelled:
            stopping.stop_all()
        status = "running" if stopping.running else _final_status(cancelled, stopping.done)
        if every or status != "running":
            table.record_params(proc.params(), iteration)
            yield table.snapshot(iteration, status, time.perf_counter() - start, proc, n)
        if status != "running":
            return
        proc.step(stopping.active)
        _check_running(proc)
        stopping.drop_failed()
        mean_ll = proc.evaluate().cpu()
        iteration += 1


class Stopping:
    """Which restarts still run (R,): a restart stops when its mean log-likelihood changes by less than tol
    between two iterations, or when it fails (failed (R,), updated by the procedure); all stop at
    max_iter or on cancel. The bookkeeping lives on the CPU whatever the device: it is read every iteration."""

    def __init__(self, n_restarts: int, tol: float, failed: torch.Tensor) -> None:
        self.tol = tol
        self.failed = failed
        self.active = torch.ones(n_restarts, dtype=torch.bool)
        self.converged = torch.zeros_like(self.active)
        self._previous: torch.Tensor | None = None
        self.drop_failed()

    def observe(self, mean_ll: torch.Tensor) -> torch.Tensor:
        """Take this iteration's mean log-likelihoods (R,); return the restarts that took part in it (R,)."""
        running = self.active.clone()
        if self._previous is not None and self.tol > 0:
            newly = self.active & ((mean_ll - self._previous).abs() < self.tol)
            self.converged |= newly
            self.active &= ~newly
        self._previous = mean_ll
        return running

    def stop_all(self) -> None:
        self.active[:] = False

    def drop_failed(self) -> None:
        self.active &= ~self.failed

    @property
    def running(self) -> bool:
        return bool(self.active.any())

    @property
    def done(self) -> torch.Tensor:
        """Restarts that finished (R,): converged, or failed (a failed restart is finished too)."""
        return self.converged | self.failed


def _check_running(proc: Procedure) -> None:
    """UserError when every restart has stopped on a covariance that is not positive definite."""
    if bool(proc.failed.all()):
        restart = next(reversed(proc.failures))  # the last to fail
        raise all_failed_error(restart, proc.failures[restart])


def _exact_start(cfg: FitConfig) -> tuple[np.ndarray, ...] | None:
    """Given initial parameters as the fit starts from them, in data units, computed without the round trip
    through the standardised units (which changes the last bits): what iteration 0 reports, so that exporting
    an imported start after zero iterations gives it back bit for bit."""
    if cfg.init != "params" or cfg.init_params is None:
        return None
    p = cfg.init_params
    weights = np.asarray(p.weights, dtype=np.float64)
    if abs(weights.sum() - 1.0) > 1e-12:  # more than rounding off: the fit starts from the normalised weights
        weights = weights / weights.sum()
    cov = torch.as_tensor(p.covariances, dtype=torch.float64)
    cov = COVARIANCE_TYPES[cfg.covariance_type].project(cov, torch.as_tensor(weights)).numpy()
    return weights, np.asarray(p.means, dtype=np.float64), symmetric(cov)


def symmetric(cov: np.ndarray) -> np.ndarray:
    """cov (..., D, D) with its lower triangle replaced by the upper one: exactly symmetric, and unchanged
    when it already was (averaging would round)."""
    d = cov.shape[-1]
    upper = np.triu(np.ones((d, d), dtype=bool))
    return np.where(upper, cov, np.swapaxes(cov, -1, -2))


def _final_status(cancelled: bool, converged: torch.Tensor) -> str:
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
    ) -> None:
        self.cfg = cfg
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

    def part(self, cfg: FitConfig, rows: np.ndarray, k: int) -> Bookkeeping:
        """Rows (M,) of this book, every one of which ran, as the book of a fit of their own with k components
        (the padded components of a batched grid dropped): a cell of model selection's grid."""
        ran = np.arange(len(rows))
        book = Bookkeeping(cfg, self.seeds[rows], self.initial_loss[rows], ran, self.scaling, self.floor)
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
                (weights, means, cov), n_samples, proc.reseeded[local], proc.empty[local], proc.failures
            ),
            config=self.cfg,
            reg_floor=self.floor.copy(),
        )

    def _warnings(
        self, params: tuple[np.ndarray, ...], n_samples: int, reseeded: list[int], empty: list[int], failures: dict
    ) -> tuple[str, ...]:
        weights, means, cov = params
        out = [failure_warning(r, failures[r]) for r in sorted(failures)]  # restarts that stopped (the others went on)
        out += [f"component {k} lost all its points and was re-seeded" for k in reseeded]
        out += [f"component {k} has lost all its points" for k in empty if k not in reseeded]
        found = collapses(cov, weights, means, n_samples, self.floor, self.cfg.covariance_type)
        out += [c.text for c in found if c.component not in empty]  # an empty one is said above
        return tuple(out)


def run_to_end(data: np.ndarray, config: FitConfig, cancel: CancelToken | None = None) -> Snapshot:
    """Drain the fit generator and return its last snapshot (the only one built: every=False)."""
    last = None
    for last in fit(data, config, cancel, every=False):  # noqa: B007
        pass
    return last
