"""One fit pipeline: the preparation and the iteration loop that a single fit (fitting.fit), a fit of data read by
chunks or held by a Dask cluster (streaming.fit_stream) and model selection's grid (grid.fit_cells) share.

A fit is: prepare (working dtype and device, threads, standardisation, the reg_covar floor, the points the start
is drawn from: `prepare_points` for data in memory, `prepare_survey` for data read by passes), draw the start
(`starts`), build a procedure (for exact EM over a SumSource: engine/inference/sources.py says where the E-step's
sums come from), evaluate it (`begin`), book it (`book`) and run `iterations` with a Stopping rule. The loop is
given its procedure and its stopping rule, and yields a Tick per iteration: each kind of fit reads what it needs
at each tick (the fit its snapshots, the grid each cell's end), and restarts can run as successive batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import torch

from ..config import FitConfig
from ..errors import DataError, UserError
from ..io.stream import Survey
from ..model import gaussian
from ..model.covariances import COVARIANCE_TYPES
from ..model.prior import Prior, prior_from_moments, prior_to_std
from ..model.scaling import Scaling, column_moments, reg_floor, weighted_moments
from ..procedure import Procedure
from ..runtime.threads import use_threads_for
from ..snapshot import CancelToken
from .bookkeeping import Bookkeeping, symmetric
from .em import all_failed_error
from .init import Params, initial_parameters, initial_points, initial_weights

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
        if np.isnan(x[row, col]):  # a missing value: the missing-data EM fits it
            raise DataError(
                f"data row {row}, column {col} is missing (NaN): fill or remove it, or fit with --missing em "
                "(missing='em': exact EM for values missing at random)"
            )
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


def check_weights(weights: np.ndarray | None, n: int) -> np.ndarray | None:
    """Frequency weights (N,) as float64, or a DataError naming the first bad one (its row counted from 0) and what
    to do: each finite and >= 0 (0: the point counts for nothing), not all 0. None stays None (unweighted)."""
    if weights is None:
        return None
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("weights must be numbers, one per point") from None
    if w.shape != (n,):
        raise DataError(f"weights must be one number per point: {n} points, but weights of shape {w.shape}")
    bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0)))
    if len(bad):
        raise DataError(f"weight row {bad[0]} is {w[bad[0]]}: weights must be finite and >= 0 (0 drops a point)")
    if not w.any():
        raise DataError("every weight is 0: at least one point must count (a weight > 0)")
    return w


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
    """cfg's device, or a UserError when it asks for a GPU that torch does not see."""
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("device 'cuda' was asked for but torch sees no CUDA GPU here: use --device cpu")
    return torch.device(cfg.device)


def floor_of(cfg: FitConfig, std: np.ndarray) -> np.ndarray:
    """cfg's reg_covar floor in data units (D,), for data whose columns have standard deviations std (D,); none with
    a prior (the MAP M-step adds none, as mclust's: the prior keeps the covariances off the boundary)."""
    if cfg.prior is not None:
        return np.zeros_like(np.asarray(std, dtype=np.float64))
    return reg_floor(cfg.reg_covar, cfg.reg_covar_units, std, COVARIANCE_TYPES[cfg.covariance_type].isotropic)


def working_dtype(cfg: FitConfig) -> torch.dtype:
    return torch.float64 if cfg.dtype == "float64" else torch.float32


@dataclass(frozen=True)
class Setup:
    """What a fit prepares before its first E-step, whatever holds the data (N points in D dimensions)."""

    cfg: FitConfig  # resolved
    dtype: torch.dtype
    device: torch.device
    scaling: Scaling
    floor: np.ndarray  # (D,) reg_covar's floor in data units
    reg: torch.Tensor  # (D,) the floor in working units
    points: torch.Tensor | None  # (N, D) the working points in memory; None for data read by passes
    sample: torch.Tensor | None  # (S, D) the first pass's sample in working units (data read by passes)
    n_samples: int
    started: float  # time.perf_counter() when the fit's clock started
    priors: Callable[[str, int], Prior] | None = None  # with cfg.prior: (type, K) -> the prior (priors_for)
    weights: torch.Tensor | None = None  # (N,) the points' frequency weights on the points' device; None: all 1
    sample_weights: torch.Tensor | None = None  # (S,) the sample's weights (data read by passes, weighted)
    n_effective: float | None = None  # sum w (the n of BIC); None: unweighted, n_samples

    def start_points(self) -> torch.Tensor:
        """The points (S, D) a start is drawn from: the same rows whatever holds the data (init.initial_points)."""
        return self.sample if self.sample is not None else initial_points(self.points, self.cfg.seed)

    def start_weights(self) -> torch.Tensor | None:
        """The weights (S,) of start_points' rows; None unweighted."""
        if self.sample is not None or self.weights is None:
            return self.sample_weights
        return initial_weights(self.weights, self.cfg.seed)

    def without_sample(self) -> Setup:
        """This setup without its sample (S, D), once the starts are drawn: its memory goes back."""
        return replace(self, sample=None, sample_weights=None)


def prepare_points(
    x_data: np.ndarray,
    moments: tuple[np.ndarray, np.ndarray],
    cfg: FitConfig,
    work: int,
    n: int | None = None,
    weights: np.ndarray | None = None,
) -> Setup:
    """The setup of a fit of checked data (N, D) in memory with its column_moments, for the resolved cfg;
    torch's threads set for `work` (points x components x restarts; n: see threads.use_threads_for). weights:
    checked frequency weights (N,) (check_weights): the standardisation and the reg_covar floor from the weighted
    moments, as the repeated rows would give them."""
    dtype, device = working_dtype(cfg), resolve_device(cfg)
    if device.type == "cpu":
        use_threads_for(work, n)
    d = x_data.shape[1]
    if weights is not None:
        moments = weighted_moments(x_data, weights)
    scaling = Scaling.fit(x_data, _isotropic(cfg), moments) if cfg.standardize else Scaling.identity(d)
    x = working_points(x_data, scaling, dtype, device)
    floor = floor_of(cfg, moments[1])
    reg = scaling.reg_to_std(floor, x)
    setup = Setup(cfg, dtype, device, scaling, floor, reg, x, None, x_data.shape[0], time.perf_counter())
    if weights is not None:
        w = torch.as_tensor(weights, dtype=dtype, device=device)
        setup = replace(setup, weights=w, n_effective=float(weights.sum()))
    return replace(setup, priors=priors_for(setup)) if cfg.prior is not None else setup


def prepare_survey(found: Survey, cfg: FitConfig, work: int, started: float) -> Setup:
    """The setup of a fit of data read by passes (on the CPU) from its first pass's survey, for the resolved cfg;
    torch's threads set for `work`; started: when the fit's clock started (before the survey)."""
    dtype, device = working_dtype(cfg), torch.device("cpu")
    use_threads_for(work)
    scaling = survey_scaling(found, cfg)
    sample = torch.as_tensor(scaling.data_to_std(found.sample.copy()), dtype=dtype, device=device)
    floor = floor_of(cfg, found.std)
    reg = scaling.reg_to_std(floor, sample)
    if cfg.prior is not None:
        raise UserError(NO_PRIOR_BY_PASSES)  # the first pass surveys the columns' moments, not a covariance matrix
    setup = Setup(cfg, dtype, device, scaling, floor, reg, None, sample, found.n_samples, started)
    if found.n_effective is None:
        return setup
    sample_weights = torch.as_tensor(found.sample_weights, dtype=dtype)
    return replace(setup, sample_weights=sample_weights, n_effective=found.n_effective)


def survey_scaling(found: Survey, cfg: FitConfig) -> Scaling:
    """The standardisation a fit of cfg uses, from the first pass's moments (as Scaling.fit from the data's)."""
    if not cfg.standardize:
        return Scaling.identity(len(found.mean))
    scale = found.std
    if _isotropic(cfg):
        scale = np.full_like(scale, np.sqrt(np.mean(scale**2)))
    return Scaling(found.mean.astype(np.float64), np.where(scale > 0, scale, 1.0).astype(np.float64))


def _isotropic(cfg: FitConfig) -> bool:
    return COVARIANCE_TYPES[cfg.covariance_type].isotropic


def starts(setup: Setup, cfg: FitConfig, cancel: CancelToken | None = None) -> Params:
    """cfg's starts (R restarts) in the setup's working units and dtype: generated from setup.start_points()
    (more components than points: UserError), or cfg's given parameters. errors.Cancelled once cancel is set
    (checked between blocks of points: thousands of restarts' starts take seconds)."""
    prior = setup.priors(cfg.covariance_type, cfg.n_components) if setup.priors is not None else None
    check = None if cancel is None else cancel.check
    made = initial_parameters(setup.start_points(), cfg, setup.scaling, setup.reg, prior, setup.start_weights(), check)
    return tuple(p.to(setup.dtype) for p in made)


def begin(proc: Procedure) -> torch.Tensor:
    """The first E-step of a new procedure: mean log-likelihoods (R,) on the CPU; UserError when every restart
    failed at its start."""
    check_running(proc)
    return proc.evaluate().cpu()


def initial_losses(proc: Procedure) -> np.ndarray:
    """The procedure's loss at its start (R,) in float64: call after begin."""
    return proc.initial_loss().detach().cpu().numpy().astype(np.float64)


def book(setup: Setup, initial_loss: np.ndarray, ran: np.ndarray, seeds: np.ndarray | None = None) -> Bookkeeping:
    """The bookkeeping of a fit of setup.cfg: restarts' seeds (R,) (default: cfg.seed onwards), their initial
    losses (R,), the restarts that run (M,)."""
    cfg = setup.cfg
    if seeds is None:
        seeds = np.arange(cfg.seed, cfg.seed + cfg.restarts)
    exact = exact_start(cfg) if setup.dtype == torch.float64 else None
    return Bookkeeping(cfg, seeds, initial_loss, ran, setup.scaling, setup.floor, exact, setup.n_effective)


def exact_start(cfg: FitConfig) -> tuple[np.ndarray, ...] | None:
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


NO_PRIOR_BY_PASSES = (
    "--prior default needs the data in memory (its scale is the data's covariance matrix): "
    "raise --memory-limit, or fit without a prior"
)


def priors_for(setup: Setup) -> Callable[[str, int], Prior] | None:
    """With the fit's cfg.prior: (covariance type, K) -> mclust's default prior in the working units, made from the
    data's column means and covariance matrix in data units (mclust's defaultPrior), whatever the standardisation;
    None without a prior. UserError for data read by passes (only its columns' moments are surveyed)."""
    if setup.cfg.prior is None:
        return None
    if setup.points is None:
        raise UserError(NO_PRIOR_BY_PASSES)
    x = setup.points.to(device="cpu", dtype=torch.float64)
    center, scale = setup.scaling.center, setup.scaling.scale
    w = None if setup.weights is None else setup.weights.to(device="cpu", dtype=torch.float64)
    mean, cov, n = _mean_and_cov(x, w)
    mean = mean * scale + center  # the data's, in data units
    cov = cov * np.outer(scale, scale)
    made: dict[tuple[str, int], Prior] = {}

    def prior_of(type_name: str, k: int) -> Prior:
        if (type_name, k) not in made:
            model = COVARIANCE_TYPES[type_name].model
            made[type_name, k] = prior_to_std(prior_from_moments(mean, cov, n, k, model), center, scale)
        return made[type_name, k]

    return prior_of


def _mean_and_cov(x: torch.Tensor, w: torch.Tensor | None) -> tuple[np.ndarray, np.ndarray, float]:
    """The column means (D,), the covariance matrix (D, D) (divided by n - 1) and n of points x (N, D) float64,
    under frequency weights w (N,) (n = sum w: the repeated rows' answer), or unweighted."""
    if w is None:
        return x.mean(0).numpy(), torch.atleast_2d(torch.cov(x.T)).numpy(), len(x)
    n = float(w.sum())
    mean = (w @ x) / n
    dev = x - mean
    return mean.numpy(), ((dev.T * w) @ dev / (n - 1.0)).numpy(), n


def check_running(proc: Procedure) -> None:
    """UserError when every restart has stopped on a covariance that is not positive definite."""
    if bool(proc.failed.all()):
        restart = next(reversed(proc.failures))  # the last to fail
        raise all_failed_error(restart, proc.failures[restart])


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
            if _plain_float64(mean_ll, self._previous):  # in NumPy on the same memory: cheaper calls, the same bits
                active, converged = self.active.numpy(), self.converged.numpy()
                newly = active & (np.abs(mean_ll.numpy() - self._previous.numpy()) < self.tol)
                converged |= newly
                active &= ~newly
            else:
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


def _plain_float64(*tensors: torch.Tensor) -> bool:
    """Whether every tensor is float64 on the CPU without autograd (NumPy can then read it in place)."""
    return all(t.dtype == torch.float64 and t.device.type == "cpu" and not t.requires_grad for t in tensors)


class Tick(NamedTuple):
    """One iteration of the loop, read before the next update (a NamedTuple: it is made every iteration)."""

    iteration: int
    mean_ll: torch.Tensor  # (R,) on the CPU
    running: torch.Tensor  # (R,) the restarts that took part in this iteration
    cancelled: bool


def iterations(
    proc: Procedure,
    stopping: Stopping,
    mean_ll: torch.Tensor,
    max_iter: int,
    cancel: CancelToken | None = None,
    fail_together: bool = True,
) -> Iterator[Tick]:
    """The iterations of a procedure that has evaluated its start (mean log-likelihoods mean_ll (R,)): a Tick,
    then (while a restart runs) an update of the running restarts and an E-step. After the last tick every
    restart has stopped (stopping.running is False). fail_together: a UserError once every restart has failed
    (a fit); else the restarts that failed only drop out (the grid reports each cell's)."""
    iteration = 0
    while True:
        running = stopping.observe(mean_ll)
        cancelled = cancel is not None and cancel.cancelled
        if iteration >= max_iter or cancelled:
            stopping.stop_all()
        yield Tick(iteration, mean_ll, running, cancelled)
        if not stopping.running:
            return
        proc.step(stopping.active)
        if fail_together:
            check_running(proc)
        stopping.drop_failed()
        mean_ll = proc.evaluate().cpu()
        iteration += 1
