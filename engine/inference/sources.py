"""Where the E-step's sums come from: the strategy exact EM is given, behind small typed Protocols.

EM needs only the per-component sufficient statistics (N_k, sum r x, sum r x x^T) and the log-likelihood, which
add up over points. A `SumSource` computes them for the running restarts' parameters:
- `PointsInMemory`: the working points (N, D) on their device (a single fit, the in-memory grid);
- `PassedPoints`: one pass over data that is not in memory per E-step, run by a `PassRunner` (plan -> sums):
  `local_pass` reads a `ChunkSource` here chunk by chunk (a streamed fit), engine/scale/cluster.py maps the same
  `chunk_sums` over a Dask cluster's partitions (a cluster fit). The grid over such data takes either runner.
Every one runs the same chunk E-step (gaussian.whitened_statistics or e_step_statistics): from the same start a
streamed fit is the in-memory fit, up to the order of the sums (tests/engine/test_streaming.py).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from ..model import gaussian
from ..model.scaling import Scaling
from ..snapshot import CancelToken

# Where the parameters and their algebra live, whatever the data's device.
HOST = torch.device("cpu")


class SumSource(Protocol):
    """The E-step of exact EM over N points in D dimensions, for M running restarts of K components."""

    n_samples: int
    n_features: int
    dtype: torch.dtype

    def e_step(
        self, log_weights: torch.Tensor, means: torch.Tensor, chol: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Statistics (M, K, P) float64 and mean log-likelihoods (M,) float64, both on the CPU, at log-weights
        (M, K), means (M, K, D) and Cholesky factors (M, K, D, D) in working units."""
        ...

    def total_ll(self) -> torch.Tensor | None:
        """The last E-step's total log-likelihood (M,) on the CPU; None before the first."""
        ...

    def worst_points(self, row: int, count: int) -> torch.Tensor:
        """The `count` points (count, D) of lowest log p(x) at the last E-step of its row, worst first, on the CPU."""
        ...


class ChunkSource(Protocol):
    """Rows read a chunk at a time (engine/io/stream.py's sources)."""

    n_samples: int
    n_features: int

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """The data's rows in order, `rows` at a time (c, D)."""
        ...


class PassRunner(Protocol):
    """One E-step pass over data that is not in memory: here (local_pass) or on a Dask cluster."""

    def __call__(self, plan: PassPlan, cancel: CancelToken | None = None) -> PassSums: ...


class PointsInMemory:
    """The E-step over points x (N, D) in working units, on x's device (features made once per fit, or per
    chunk at large D; the lifted layout [1; x^T] when x lives in it: see fitting.working_points).

    weights (N,) on x's device: the points' frequency weights (sums and log-likelihoods weighted, the mean per
    point over sum w); or (R, N): one weight vector per restart row (the bootstrap's replicates: ExactEM says which
    rows each E-step is for, use_rows); None: every point counts once. cancel: checked before each chunk of the
    E-step (errors.Cancelled once set: an E-step of many restarts stops within a chunk, not an iteration)."""

    def __init__(self, x: torch.Tensor, weights: torch.Tensor | None = None, cancel: CancelToken | None = None) -> None:
        self.x = x
        self.check = None if cancel is None else cancel.check
        self.n_samples, self.n_features = x.shape
        self.dtype = x.dtype
        self.features = gaussian.features_of(x)
        self.lifted = gaussian.lifted_of(x)
        self.weights = weights
        self.per_row = weights is not None and weights.dim() == 2
        self._w64 = None if weights is None else weights.to(torch.float64)
        self._total_w = None if weights is None else self._w64.sum(-1)  # () or (R,)
        self._rows: torch.Tensor | None = None  # per-row weights: the rows of the next E-step (None: all)
        self._taken: dict[str, torch.Tensor] = {}  # per-row weights at those rows, taken once per change of rows
        self._log_norm: torch.Tensor | None = None  # (M, N) log p(x_n) at the last E-step, on x's device

    def use_rows(self, rows: torch.Tensor) -> None:
        """Per-row weights: the next E-step is for restart rows (M,), in that order (None: all rows, 0..R-1)."""
        every = len(rows) == self.weights.shape[0] and torch.equal(rows.cpu(), torch.arange(len(rows)))
        rows = None if every else rows.to(self.x.device)
        same = rows is None if self._rows is None else rows is not None and torch.equal(rows, self._rows)
        if not same:  # the rows change only when replicates stop: each (M, N) copy is made once, not every E-step
            self._rows, self._taken = rows, {}

    def _rows_of(self, t: torch.Tensor, name: str) -> torch.Tensor:
        """t (R, ...) (the attribute `name`) at the rows of the E-step (per-row weights), or t itself (the same for
        every row)."""
        if not self.per_row or self._rows is None:
            return t
        if name not in self._taken:
            self._taken[name] = t[self._rows.to(t.device)]
        return self._taken[name]

    def e_step(
        self, log_weights: torch.Tensor, means: torch.Tensor, chol: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        w = None if self.weights is None else self._rows_of(self.weights, "weights")
        if gaussian.use_whitened(self.n_features, means.shape[0] * means.shape[1]):
            stats, self._log_norm = gaussian.whitened_statistics(
                self.x, log_weights, means, chol, lifted=self.lifted, weights=w, check=self.check
            )
        else:
            coef = gaussian.log_joint_coefficients(log_weights, means, chol).to(self.x.device)
            stats, self._log_norm = gaussian.e_step_statistics(self.features, coef, weights=w, check=self.check)
        if w is None:
            return stats.to(HOST), self._log_norm.mean(-1, dtype=torch.float64).to(HOST)
        return stats.to(HOST), (self._weighted_ll() / self._rows_of(self._total_w, "total")).to(HOST)

    def _weighted_ll(self) -> torch.Tensor:
        """sum_n w_n log p(x_n) (M,) float64 at the last E-step (each row with its own weights if per row)."""
        log_norm = self._log_norm.to(torch.float64)
        if not self.per_row:
            return log_norm @ self._w64
        w64 = self._rows_of(self._w64, "weights" if self._w64 is self.weights else "w64")
        return torch.einsum("mn,mn->m", log_norm, w64)

    def total_ll(self) -> torch.Tensor | None:
        if self._log_norm is None:
            return None
        return (self._log_norm.sum(-1) if self.weights is None else self._weighted_ll()).to(HOST)

    def worst_points(self, row: int, count: int) -> torch.Tensor:
        log_norm = self._log_norm[row]
        if self.weights is not None:  # a point of weight 0 counts for nothing: never a re-seeded component's place
            zero = (self._rows_of(self.weights, "weights")[row] if self.per_row else self.weights) == 0
            log_norm = log_norm.masked_fill(zero, float("inf"))
        return self.x[log_norm.argsort()[:count]].to(HOST)


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
    classify: bool = False  # the pass sums each point's log max_k z_k (ICL's term) instead of the E-step's sums
    weighted: bool = False  # each chunk's last column is its points' frequency weights (not a fitted column)
    missing: bool = False  # a NaN is a missing value: the chunk's E-step is missing_chunks.missing_chunk_sums


@dataclass
class PassSums:
    """A chunk's (or a pass's) contribution: statistics (M, K, P) float64, log-likelihood sums (M,), and the K
    worst-explained points (their log p (M, K) and standardised coordinates (M, K, D)), worst first."""

    stats: torch.Tensor
    ll_sum: torch.Tensor
    worst_ll: torch.Tensor
    worst_x: torch.Tensor
    map_sum: torch.Tensor | None = None  # (M,) sum of log max_k z_k: a classifying pass's (PassPlan.classify)

    def add(self, other: PassSums) -> PassSums:
        k = max(self.worst_ll.shape[1], other.worst_ll.shape[1])
        worst = _merge_worst(self.worst_ll, self.worst_x, other.worst_ll, other.worst_x, k)
        maps = None if self.map_sum is None else self.map_sum + other.map_sum
        return PassSums(self.stats + other.stats, self.ll_sum + other.ll_sum, *worst, maps)


class PassedPoints:
    """The E-step over n_samples points that are not in memory: each is one pass, run_pass(plan) -> PassSums.
    The points an empty component is re-seeded at (the worst explained) are kept during the pass."""

    def __init__(
        self,
        run_pass: PassRunner,
        n_samples: int,
        n_features: int,
        scaling: Scaling,
        dtype: torch.dtype,
        n_effective: float | None = None,
        missing: bool = False,
    ) -> None:
        """n_effective: sum w when the chunks carry the points' frequency weights last (PassPlan.weighted); missing:
        the data holds missing values (NaN), fitted as missing at random (PassPlan.missing)."""
        self.run_pass, self.scaling, self.n_effective, self.missing = run_pass, scaling, n_effective, missing
        self.n_samples, self.n_features, self.dtype = n_samples, n_features, dtype
        self._ll_sum: torch.Tensor | None = None  # (M,) the last pass's log-likelihood sums
        self._worst: torch.Tensor | None = None  # (M, K, D) the worst-explained points, worst first

    def e_step(
        self, log_weights: torch.Tensor, means: torch.Tensor, chol: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        weighted = self.n_effective is not None
        scaling = self.scaling
        plan = PassPlan(
            scaling.center, scaling.scale, log_weights, means, chol, self.dtype, weighted=weighted, missing=self.missing
        )
        sums = self.run_pass(plan)
        self._ll_sum, self._worst = sums.ll_sum, sums.worst_x
        return sums.stats, sums.ll_sum / (self.n_effective if weighted else self.n_samples)

    def total_ll(self) -> torch.Tensor | None:
        return None if self._ll_sum is None else self._ll_sum.to(HOST)

    def worst_points(self, row: int, count: int) -> torch.Tensor:
        return self._worst[row, :count].to(self.dtype)


def chunk_sums(chunk: np.ndarray, plan: PassPlan) -> PassSums:
    """The E-step of one chunk of rows (c, D) as read: standardised, the same chunk E-step as the in-memory fit
    (whitened distances or features made per sub-chunk), its sums. Runs here or on a Dask worker."""
    chunk, w64 = split_weights(chunk, plan.weighted)
    if plan.missing:  # the in-memory E-step of data with missing values (it imports this module: imported here)
        from .missing_chunks import missing_chunk_sums, missing_classification_sums

        return (missing_classification_sums if plan.classify else missing_chunk_sums)(chunk, w64, plan)
    if plan.classify:
        return classification_sums(chunk, plan, w64)
    m, k, d = plan.means.shape
    center = torch.as_tensor(plan.center, dtype=plan.dtype)
    scale = torch.as_tensor(plan.scale, dtype=plan.dtype)
    raw = torch.as_tensor(chunk)
    w = None if w64 is None else w64.to(plan.dtype)
    # the rows as read: each E-step thread standardises its sub-chunks into its own buffer, in cache (a pass
    # over the whole chunk first, single-threaded, cost half the in-memory iteration again: bench_scale.py)
    features = gaussian.LazyFeatures(raw, center, scale, plan.dtype)
    if gaussian.use_whitened(d, m * k):
        x = features.points(slice(None))  # the whitened products need the points themselves
        stats, log_norm = gaussian.whitened_statistics(x, plan.log_weights, plan.means, plan.chol, weights=w)
    else:  # features made per sub-chunk, in cache, whatever D: a chunk's whole features could be GBs
        coef = gaussian.log_joint_coefficients(plan.log_weights, plan.means, plan.chol)
        stats, log_norm = gaussian.e_step_statistics(features, coef, weights=w)
    ranked = log_norm.double()
    if w64 is not None:  # a point of weight 0 counts for nothing: never a re-seeded component's place
        ranked = ranked.masked_fill(w64 == 0, float("inf"))
    worst_ll, at = lowest(ranked, min(k, log_norm.shape[1]))
    worst = (worst_ll, features.points(at.flatten()).double().view(*at.shape, d))
    ll_sum = log_norm.sum(-1, dtype=torch.float64) if w64 is None else log_norm.double() @ w64
    return PassSums(stats.double(), ll_sum, *worst)


def split_weights(chunk: np.ndarray, weighted: bool) -> tuple[np.ndarray, torch.Tensor | None]:
    """A chunk (c, D) as it is, or a weighted pass's chunk (c, D + 1) cut into its points (c, D) and their weights
    (c,) float64."""
    if not weighted:
        return chunk, None
    return np.ascontiguousarray(chunk[:, :-1]), torch.as_tensor(np.asarray(chunk[:, -1], dtype=np.float64))


CLASSIFY_ELEMENTS = 2**21  # classification_sums: a block's (M, K, D, rows) whitened points hold about this many


def classification_sums(chunk: np.ndarray, plan: PassPlan, weights: torch.Tensor | None = None) -> PassSums:
    """A chunk's (c, D) sums of log p(x) and of log max_k z_k = max_k log w_k N(x | mu_k, Sigma_k) - log p(x), at
    the plan's parameters (M rows of K components; a weight 0 is a padded or empty component): ICL's term; each
    point's terms times its frequency weight (c,) float64 if given.
    float64 throughout; no E-step statistics (stats (M, K, 1) of zeros) and no worst points."""
    m, k, d = plan.means.shape
    x = (torch.as_tensor(chunk, dtype=torch.float64) - torch.as_tensor(plan.center)) / torch.as_tensor(plan.scale)
    chol, means = plan.chol.double(), plan.means.double()
    const = (
        plan.log_weights.double() - torch.log(chol.diagonal(dim1=-2, dim2=-1)).sum(-1) - 0.5 * d * math.log(2 * math.pi)
    )
    block = max(1, CLASSIFY_ELEMENTS // (m * k * d))
    ll_sum, map_sum = torch.zeros(m, dtype=torch.float64), torch.zeros(m, dtype=torch.float64)
    for lo in range(0, x.shape[0], block):
        diff = (x[None, None, lo : lo + block] - means[..., None, :]).transpose(-1, -2)  # (M, K, D, b)
        white = torch.linalg.solve_triangular(chol, diff, upper=False)
        joint = const[..., None] - 0.5 * white.square().sum(-2)  # (M, K, b) log w_k N(x | mu_k, Sigma_k)
        log_p = torch.logsumexp(joint, dim=1)  # (M, b)
        entropy = joint.amax(dim=1) - log_p
        if weights is None:
            ll_sum += log_p.sum(-1)
            map_sum += entropy.sum(-1)
        else:
            ll_sum += log_p @ weights[lo : lo + block]
            map_sum += entropy @ weights[lo : lo + block]
    empty = torch.zeros(m, 0, dtype=torch.float64)
    return PassSums(torch.zeros(m, k, 1, dtype=torch.float64), ll_sum, empty, empty[..., None].expand(m, 0, d), map_sum)


LOWEST_BLOCK = 1024  # lowest(): values per block whose minimum is taken first


def lowest(values: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k smallest of each row of values (M, N) and their places (M, k), smallest first: torch.topk's answer.

    The k smallest lie in the k blocks (of LOWEST_BLOCK) with the smallest minima, so one min-reduction over
    all values and a topk over k blocks replace a topk over all N, about a fifth of a pass's cost per point (the
    numbers: docs/performance.md, "Measured")."""
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


def local_pass(source: ChunkSource, rows: int, plan: PassPlan, cancel: CancelToken | None = None) -> PassSums:
    """A pass over a source on this machine, chunk by chunk, summed in the chunks' order; errors.Cancelled between
    two chunks once cancel is set (a pass over a big file takes a while: a closing window must not wait for it)."""

    def sums() -> Iterator[PassSums]:
        for chunk in source.chunks(rows):
            if cancel is not None:
                cancel.check()
            yield chunk_sums(chunk, plan)

    return summed(sums())


def _merge_worst(
    ll_a: torch.Tensor, x_a: torch.Tensor, ll_b: torch.Tensor, x_b: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k lowest of two kept sets (M, ka), (M, ka, D) and (M, kb), (M, kb, D) (the earlier set first: ties go
    to the earlier point, as in argsort)."""
    cand_ll, cand_x = torch.cat([ll_a, ll_b], dim=1), torch.cat([x_a, x_b], dim=1)
    order = torch.argsort(cand_ll, dim=1, stable=True)[:, :k]
    return torch.gather(cand_ll, 1, order), torch.gather(cand_x, 1, order[..., None].expand(-1, -1, x_a.shape[2]))
