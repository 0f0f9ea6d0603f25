"""Exact EM over data read by chunks (engine/stream.py): each E-step is one pass over the source.

EM needs only the per-component sufficient statistics (N_k, sum r x, sum r x x^T) and the log-likelihood, which
add up over chunks: a pass runs the same chunk E-step as the in-memory fit (gaussian.e_step_statistics or
whitened_statistics) on each chunk and adds the results, and the M-step is ExactEM's own. From the same start
the answer is the in-memory fit's, up to the order of the sums (tests/engine/test_streaming.py).

The start comes from a uniform random sample of the rows drawn in a first pass (stream.survey): k-means++ on the
sample, as the in-memory fit runs it on all the points, or given parameters.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import numpy as np
import torch

from . import gaussian
from .config import FitConfig
from .covariances import COVARIANCE_TYPES
from .em import HOST, ExactEM
from .errors import UserError
from .fitting import Bookkeeping, _check_running, _exact_start, iterate, resolve_device
from .init import Params, initial_parameters
from .memory import release_free_memory
from .scaling import Scaling
from .snapshot import CancelToken, Snapshot
from .stream import Survey, survey
from .threads import use_threads_for

SAMPLE_SIZE = 100_000  # rows in the initialisation's sample (k-means++ runs on it)
MEMORY_SHARE = 0.25  # the default --memory-limit: this share of the machine's memory


def default_memory_limit() -> int:
    """Bytes of data a fit holds in memory by default: MEMORY_SHARE of the machine's RAM (4 GiB if unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * MEMORY_SHARE)
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def parse_size(text: str) -> int:
    """'256M', '2G', '1.5GB', '1000000' (bytes) -> bytes; UserError names what is accepted."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    number = t[:-1] if t[-1:] in "KMGT" else t
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UserError(f"--memory-limit takes a size such as 256M, 2G or 1000000 (bytes), got {text!r}")
    return int(value * factor)


def chunk_rows_for(limit: int, n_features: int, restarts: int = 1) -> int:
    """Rows per chunk so that what a chunk holds stays within limit bytes: the rows as read and in float64, their
    standardised copy, and each restart's log p(x) (8 bytes each)."""
    per_row = 8 * (3 * n_features + restarts)
    return max(1024, limit // per_row)


class StreamingEM(ExactEM):
    """ExactEM whose E-step is a pass over a source; the points it re-seeds an empty component at (the worst
    explained) are kept during the pass."""

    def __init__(
        self,
        source,
        scaling: Scaling,
        params: Params,
        covariance_type: str,
        reg: torch.Tensor,
        rows: int,
        dtype: torch.dtype,
        device: torch.device,
        empty_policy: str = "reseed",
    ) -> None:
        super().__init__(
            torch.empty((0, source.n_features), dtype=dtype, device=device), params, covariance_type, reg, empty_policy
        )
        self.source, self.scaling, self.rows = source, scaling, rows
        self.n_samples = source.n_samples
        self._ll_sum: torch.Tensor | None = None
        self._worst: tuple[torch.Tensor, torch.Tensor] | None = None  # (M, K) log p, (M, K, D) points, worst first
        self.passes = 0
        self.pass_seconds = 0.0

    def evaluate(self) -> torch.Tensor:
        """One pass: the E-step of every chunk, the statistics and log-likelihoods added in float64."""
        rows = self._rows
        if len(rows) == 0:
            return self._mean_ll.clone()
        start = time.perf_counter()
        weights, means, chol = (self._take(p, rows) for p in (self.weights, self.means, self.chol))
        log_w = torch.log(weights)
        m, k, d = len(rows), means.shape[1], means.shape[2]
        whitened = gaussian.use_whitened(d, m * k)
        coef = None if whitened else gaussian.log_joint_coefficients(log_w, means, chol).to(self.x.device)
        stats = torch.zeros((m, k, gaussian.n_features(d)), dtype=torch.float64)
        ll_sum = torch.zeros(m, dtype=torch.float64)
        worst_ll = torch.full((m, k), float("inf"), dtype=torch.float64)
        worst_x = torch.zeros((m, k, d), dtype=torch.float64)
        buffer = None
        for chunk in self.source.chunks(self.rows):
            if buffer is None or len(buffer) < len(chunk):
                buffer = np.empty((len(chunk), chunk.shape[1]))
            std = buffer[: len(chunk)]  # standardised in one reused buffer: (chunk - centre) / scale
            np.subtract(chunk, self.scaling.center, out=std)
            std /= self.scaling.scale
            x = torch.as_tensor(std, dtype=self.x.dtype, device=self.x.device)
            if whitened:
                part, log_norm = gaussian.whitened_statistics(x, log_w, means, chol)
            else:  # features made per sub-chunk, in cache, whatever D: a chunk's whole features could be GBs
                part, log_norm = gaussian.e_step_statistics(gaussian.LazyFeatures(x), coef)
            stats += part.to(HOST)
            ll_sum += log_norm.sum(-1, dtype=torch.float64).to(HOST)
            worst_ll, worst_x = _keep_worst(worst_ll, worst_x, log_norm.to(HOST).double(), x.to(HOST).double(), k)
        self._stats, self._ll_sum, self._worst = stats, ll_sum, (worst_ll, worst_x)
        self._mean_ll = self._mean_ll.index_copy(0, rows, ll_sum / self.n_samples)
        self.passes += 1
        self.pass_seconds = time.perf_counter() - start
        return self._mean_ll

    def initial_loss(self) -> torch.Tensor:
        return -self._ll_sum

    def _worst_points(self, evaluated: int, count: int) -> torch.Tensor:
        return self._worst[1][evaluated, :count].to(self.x.dtype)


def _keep_worst(
    worst_ll: torch.Tensor, worst_x: torch.Tensor, log_norm: torch.Tensor, x: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k lowest log p(x) (M, k) and their points (M, k, D) among the kept ones and a chunk's (M, c), (c, D);
    ascending, as argsort orders the in-memory fit's (ties go to the earlier point)."""
    count = min(k, log_norm.shape[1])
    idx = torch.topk(log_norm, count, dim=1, largest=False, sorted=True).indices  # (M, count)
    cand_ll = torch.cat([worst_ll, torch.gather(log_norm, 1, idx)], dim=1)
    cand_x = torch.cat([worst_x, x[idx]], dim=1)
    order = torch.argsort(cand_ll, dim=1, stable=True)[:, :k]
    return torch.gather(cand_ll, 1, order), torch.gather(cand_x, 1, order[..., None].expand(-1, -1, x.shape[1]))


def fit_stream(
    source,
    config: FitConfig,
    rows: int,
    cancel: CancelToken | None = None,
    every: bool = True,
    sample_size: int = SAMPLE_SIZE,
    on_survey=None,
) -> Iterator[Snapshot]:
    """Exact EM over a source read `rows` at a time (see the module's docstring); snapshots as fit yields them.
    on_survey(survey) is called after the first pass (the command line reports the sample)."""
    cfg = config.resolved()
    if cfg.algorithm != "em":
        raise UserError(f"data read by chunks is fitted by exact EM: --algorithm {cfg.algorithm} needs it in memory")
    if cfg.restarts > 1 and cfg.select_by == "initial":
        raise UserError("data read by chunks: --select-by initial is not supported; every restart runs (final)")
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    device = resolve_device(cfg)
    if device.type == "cpu":
        use_threads_for(min(rows, source.n_samples) * cfg.n_components * cfg.restarts)
    start = time.perf_counter()
    found: Survey = survey(source, rows, sample_size, cfg.seed)
    if on_survey is not None:
        on_survey(found)
    d = source.n_features
    if cfg.standardize:
        scale = found.std
        if COVARIANCE_TYPES[cfg.covariance_type].isotropic:
            scale = np.full_like(scale, np.sqrt(np.mean(scale**2)))
        scaling = Scaling(found.mean.astype(np.float64), np.where(scale > 0, scale, 1.0).astype(np.float64))
    else:
        scaling = Scaling.identity(d)
    sample = torch.as_tensor(scaling.data_to_std(found.sample.copy()), dtype=dtype, device=device)
    reg = scaling.reg_to_std(cfg.reg_covar, sample)
    init = tuple(p.to(dtype) for p in initial_parameters(sample, cfg, scaling, reg))
    del sample
    release_free_memory()
    proc = StreamingEM(source, scaling, init, cfg.covariance_type, reg, rows, dtype, device, cfg.empty_policy)
    _check_running(proc)
    mean_ll = proc.evaluate().cpu()
    initial_loss = proc.initial_loss().detach().cpu().numpy().astype(np.float64)
    seeds = np.arange(cfg.seed, cfg.seed + cfg.restarts)
    exact_start = _exact_start(cfg) if dtype == torch.float64 else None
    table = Bookkeeping(cfg, seeds, initial_loss, np.arange(cfg.restarts), scaling, exact_start)
    yield from iterate(proc, cfg, table, mean_ll, source.n_samples, start, cancel, every)
