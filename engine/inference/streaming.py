"""Exact EM over data read by chunks (engine/stream.py): each E-step is one pass over the source.

EM needs only the per-component sufficient statistics (N_k, sum r x, sum r x x^T) and the log-likelihood, which
add up over chunks: a pass runs the same chunk E-step as the in-memory fit (gaussian.e_step_statistics or
whitened_statistics) on each chunk and adds the results, and the M-step is ExactEM's own. From the same start
the answer is the in-memory fit's, up to the order of the sums (tests/engine/test_streaming.py).

The start comes from the initialisation's sample gathered in a first pass (stream.survey): the rows
stream.sample_rows draws from the seed, N and the sample size alone, the rows the in-memory fit starts from too
(init.initial_points), so that the same seed starts the same way however the data is read; or given parameters.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..config import FitConfig
from ..errors import UserError
from ..io import stream
from ..io.stream import Survey, survey
from ..model import gaussian
from ..model.covariances import COVARIANCE_TYPES
from ..model.scaling import Scaling
from ..runtime.memory import release_free_memory
from ..runtime.threads import use_threads_for
from ..snapshot import CancelToken, Snapshot
from .em import HOST, ExactEM
from .fitting import Bookkeeping, _check_running, _exact_start, floor_of, iterate, resolve_device
from .init import Params, initial_parameters


@dataclass(frozen=True)
class PassPlan:
    """What every chunk of a pass needs (small: sent to each Dask task): the standardisation (D,), the running
    restarts' log-weights (M, K), means (M, K, D), Cholesky factors (M, K, D, D), and the working dtype."""

    center: np.ndarray
    scale: np.ndarray
    log_weights: torch.Tensor
    means: torch.Tensor
    chol: torch.Tensor
    dtype: torch.dtype


@dataclass
class PassSums:
    """A chunk's (or a pass's) contribution: statistics (M, K, P) float64, log-likelihood sums (M,), and the K
    worst-explained points (their log p (M, K) and standardised coordinates (M, K, D)), worst first."""

    stats: torch.Tensor
    ll_sum: torch.Tensor
    worst_ll: torch.Tensor
    worst_x: torch.Tensor

    def add(self, other: PassSums) -> PassSums:
        k = max(self.worst_ll.shape[1], other.worst_ll.shape[1])
        worst = _merge_worst(self.worst_ll, self.worst_x, other.worst_ll, other.worst_x, k)
        return PassSums(self.stats + other.stats, self.ll_sum + other.ll_sum, *worst)


def chunk_sums(chunk: np.ndarray, plan: PassPlan) -> PassSums:
    """The E-step of one chunk of rows (c, D) as read: standardised, the same chunk E-step as the in-memory fit
    (whitened distances or features made per sub-chunk), its sums. Runs here or on a Dask worker."""
    m, k, d = plan.means.shape
    center = torch.as_tensor(plan.center, dtype=plan.dtype)
    scale = torch.as_tensor(plan.scale, dtype=plan.dtype)
    raw = torch.as_tensor(chunk)
    # the rows as read: each E-step thread standardises its sub-chunks into its own buffer, in cache (a pass
    # over the whole chunk first, single-threaded, cost half the in-memory iteration again: bench_scale.py)
    features = gaussian.LazyFeatures(raw, center, scale, plan.dtype)
    if gaussian.use_whitened(d, m * k):
        x = features.points(slice(None))  # the whitened products need the points themselves
        stats, log_norm = gaussian.whitened_statistics(x, plan.log_weights, plan.means, plan.chol)
    else:  # features made per sub-chunk, in cache, whatever D: a chunk's whole features could be GBs
        coef = gaussian.log_joint_coefficients(plan.log_weights, plan.means, plan.chol)
        stats, log_norm = gaussian.e_step_statistics(features, coef)
    worst_ll, at = lowest(log_norm.double(), min(k, log_norm.shape[1]))
    worst = (worst_ll, features.points(at.flatten()).double().view(*at.shape, d))
    return PassSums(stats.double(), log_norm.sum(-1, dtype=torch.float64), *worst)


LOWEST_BLOCK = 1024  # lowest(): values per block whose minimum is taken first


def lowest(values: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k smallest of each row of values (M, N) and their places (M, k), smallest first: torch.topk's answer.

    The k smallest lie in the k blocks (of LOWEST_BLOCK) with the smallest minima, so one min-reduction over
    all values and a topk over k blocks replace a topk over all N (10 ns of a pass's 48 per point, at N = 5e6)."""
    m, n = values.shape
    blocks = n // LOWEST_BLOCK
    if blocks <= k:
        return torch.topk(values, k, dim=1, largest=False, sorted=True)
    body = values[:, : blocks * LOWEST_BLOCK].view(m, blocks, LOWEST_BLOCK)
    chosen = torch.topk(body.amin(dim=2), k, dim=1, largest=False, sorted=False).indices  # (M, k) blocks
    places = (chosen[..., None] * LOWEST_BLOCK + torch.arange(LOWEST_BLOCK)).view(m, -1)  # (M, k * B)
    tail = torch.arange(blocks * LOWEST_BLOCK, n).expand(m, -1)  # the last, partial block: always a candidate
    places = torch.cat([places, tail], dim=1)
    best, at = torch.topk(torch.gather(values, 1, places), k, dim=1, largest=False, sorted=True)
    return best, torch.gather(places, 1, at)


def summed(parts: Iterable[PassSums]) -> PassSums:
    """The sums of chunks or parts, added in the order given (the same bits however they were computed)."""
    return functools.reduce(PassSums.add, parts)


def local_pass(source, rows: int, plan: PassPlan, cancel: CancelToken | None = None) -> PassSums:
    """A pass over a source on this machine, chunk by chunk, summed in the chunks' order; errors.Cancelled between
    two chunks once cancel is set (a pass over a big file takes a while: a closing window must not wait for it)."""

    def sums():
        for chunk in source.chunks(rows):
            if cancel is not None:
                cancel.check()
            yield chunk_sums(chunk, plan)

    return summed(sums())


class StreamingEM(ExactEM):
    """ExactEM whose E-step is a pass over data that is not in memory: `run_pass(plan) -> PassSums` reads it
    here (local_pass) or maps it over a Dask cluster's partitions (engine/cluster.py). The points it re-seeds an
    empty component at (the worst explained) are kept during the pass. Works on the CPU."""

    def __init__(
        self,
        run_pass,
        n_samples: int,
        n_features: int,
        scaling: Scaling,
        params: Params,
        covariance_type: str,
        reg: torch.Tensor,
        dtype: torch.dtype,
        empty_policy: str = "reseed",
        n_components: list[int] | None = None,
    ) -> None:
        """covariance_type and n_components as ExactEM takes them (model selection's grid: one per restart)."""
        super().__init__(
            torch.empty((0, n_features), dtype=dtype), params, covariance_type, reg, empty_policy, n_components
        )
        self.run_pass, self.scaling, self.n_samples = run_pass, scaling, n_samples
        self._ll_sum: torch.Tensor | None = None
        self._worst: torch.Tensor | None = None  # (M, K, D) the worst-explained points, worst first

    def evaluate(self) -> torch.Tensor:
        """One pass: the E-step of every chunk, the statistics and log-likelihoods added in float64."""
        rows = self._rows
        if len(rows) == 0:
            return self._mean_ll.clone()
        weights, means, chol = (self._take(p, rows) for p in (self.weights, self.means, self.chol))
        plan = PassPlan(self.scaling.center, self.scaling.scale, torch.log(weights), means, chol, self.x.dtype)
        sums = self.run_pass(plan)
        self._stats, self._ll_sum, self._worst = sums.stats, sums.ll_sum, sums.worst_x
        self._mean_ll = self._mean_ll.index_copy(0, rows, sums.ll_sum / self.n_samples)
        return self._mean_ll

    def initial_loss(self) -> torch.Tensor:
        """Minus the total log-likelihood (R,) by restart number, +inf for a restart that failed at its start."""
        return self._by_restart(None if self._ll_sum is None else self._ll_sum.to(HOST))

    def _worst_points(self, evaluated: int, count: int) -> torch.Tensor:
        return self._worst[evaluated, :count].to(self.x.dtype)


def _merge_worst(
    ll_a: torch.Tensor, x_a: torch.Tensor, ll_b: torch.Tensor, x_b: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k lowest of two kept sets (M, ka), (M, ka, D) and (M, kb), (M, kb, D) (the earlier set first: ties go
    to the earlier point, as in argsort)."""
    cand_ll, cand_x = torch.cat([ll_a, ll_b], dim=1), torch.cat([x_a, x_b], dim=1)
    order = torch.argsort(cand_ll, dim=1, stable=True)[:, :k]
    return torch.gather(cand_ll, 1, order), torch.gather(cand_x, 1, order[..., None].expand(-1, -1, x_a.shape[2]))


def survey_scaling(found: Survey, cfg: FitConfig) -> Scaling:
    """The standardisation a fit of cfg uses, from the first pass's moments (as Scaling.fit from the data's)."""
    if not cfg.standardize:
        return Scaling.identity(len(found.mean))
    scale = found.std
    if COVARIANCE_TYPES[cfg.covariance_type].isotropic:
        scale = np.full_like(scale, np.sqrt(np.mean(scale**2)))
    return Scaling(found.mean.astype(np.float64), np.where(scale > 0, scale, 1.0).astype(np.float64))


def check_streamable(config: FitConfig) -> FitConfig:
    """The resolved config when data read by chunks can be fitted with it; else UserError saying what to change."""
    cfg = config.resolved()
    if cfg.algorithm != "em":
        raise UserError(
            f"data read by chunks is fitted by exact EM (algorithm em): {cfg.algorithm} needs the data in memory"
        )
    if cfg.restarts > 1 and cfg.select_by == "initial":
        raise UserError("data read by chunks: --select-by initial is not supported; every restart runs (final)")
    if resolve_device(cfg).type != "cpu":
        raise UserError("data read by chunks is fitted on the CPU: choose the device cpu (or fit a sample in memory)")
    return cfg


def fit_stream(
    source,
    config: FitConfig,
    rows: int,
    cancel: CancelToken | None = None,
    every: bool = True,
    sample_size: int | None = None,
    on_survey=None,
    run_pass=None,
    run_survey=None,
) -> Iterator[Snapshot]:
    """Exact EM over a source read `rows` at a time (see the module's docstring); snapshots as fit yields them.
    on_survey(survey) is called after the first pass (the command line reports the sample); run_pass(plan) runs
    the E-step passes elsewhere (a Dask cluster: engine/cluster.py), local_pass by default; run_survey(sample_size,
    seed) the first pass (stream.survey here by default); sample_size: stream.SAMPLE_SIZE by default."""
    cfg = check_streamable(config)
    sample_size = stream.SAMPLE_SIZE if sample_size is None else sample_size
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    device = torch.device("cpu")
    use_threads_for(min(rows, source.n_samples) * cfg.n_components * cfg.restarts)
    start = time.perf_counter()
    if run_survey is None:
        found: Survey = survey(source, rows, sample_size, cfg.seed)
    else:
        found = run_survey(sample_size, cfg.seed)
    if on_survey is not None:
        on_survey(found)
    d = source.n_features
    scaling = survey_scaling(found, cfg)
    sample = torch.as_tensor(scaling.data_to_std(found.sample.copy()), dtype=dtype, device=device)
    floor = floor_of(cfg, found.std)
    reg = scaling.reg_to_std(floor, sample)
    init = tuple(p.to(dtype) for p in initial_parameters(sample, cfg, scaling, reg))
    del sample
    release_free_memory()
    if run_pass is None:
        run_pass = functools.partial(local_pass, source, rows)
    if cancel is not None:  # every pass runner takes the token: checked between chunks (errors.Cancelled)
        run_pass = functools.partial(run_pass, cancel=cancel)
    proc = StreamingEM(run_pass, source.n_samples, d, scaling, init, cfg.covariance_type, reg, dtype, cfg.empty_policy)
    _check_running(proc)
    mean_ll = proc.evaluate().cpu()
    initial_loss = proc.initial_loss().detach().cpu().numpy().astype(np.float64)
    seeds = np.arange(cfg.seed, cfg.seed + cfg.restarts)
    exact_start = _exact_start(cfg) if dtype == torch.float64 else None
    table = Bookkeeping(cfg, seeds, initial_loss, np.arange(cfg.restarts), scaling, floor, exact_start)
    yield from iterate(proc, cfg, table, mean_ll, source.n_samples, start, cancel, every)
