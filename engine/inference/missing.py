"""Exact EM for data missing at random (issue 25, `--missing em`): each point's E-step on its observed coordinates,
the M-step with the conditional expectations of the missing ones and their covariance correction.

For a point with observed coordinates o and missing ones m, under component k (mean mu, covariance S):
  log p(x_o | k) = log N(x_o | mu_o, S_oo),
  E[x_m | x_o, k] = mu_m + S_mo S_oo^-1 (x_o - mu_o),   Cov[x_m | x_o, k] = S_mm - S_mo S_oo^-1 S_om,
so the E-step's sums are those of the points completed by their conditional means, plus r_nk times the conditional
covariance in the (m, m) block of sum r x x^T. The M-step (gaussian.m_step, every covariance type) takes these
sums as they are. Points are grouped by their missingness pattern (few in practice) and sorted so that each
pattern is a run of rows, their missing coordinates at 0; one fused chunked E-step runs over all of them, each
pattern with its parameters padded to D dimensions (S_oo padded with the identity, the means at 0 on the missing
coordinates: the log-joint of the observed coordinates, model/pattern_algebra.py), and since the conditional mean is
affine in x_o the completed sums follow from each pattern's observed ones exactly (PatternAlgebra.completed, all
patterns at once), so a row with missing values costs what a complete row costs. Data with no missing
value never comes here: its fit is bit for bit the usual one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np
import torch

from ..config import FitConfig
from ..errors import DataError, UserError
from ..model import gaussian
from ..model.conditional import pattern_runs
from ..model.kept_patterns import KeptPatterns, PatternSubset
from ..model.pattern_algebra import PatternAlgebra
from ..model.patterned import patterned_statistics, patterned_whitened
from ..model.scaling import Scaling
from ..snapshot import CancelToken
from .init import initial_points, initial_weights
from .pipeline import Setup, checked_data, prepare_points
from .sources import HOST, lowest

MISSING_MODES = ("em",)
# the starts are drawn from the complete rows of the seed's sample when there are at least this many per component and
# dimension + 1 (enough for k-means and each start's covariance), else from every row with its missing cells at the
# column mean (start_rows)
COMPLETE_ROWS_PER_PARAMETER = 1


def has_missing(data: np.ndarray) -> bool:
    """Whether data (N, D) holds a NaN (a missing value)."""
    return bool(np.isnan(np.asarray(data, dtype=np.float64)).any())


def check_missing(data: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, tuple]:
    """Data (N, D) with missing values (NaN) as float64 and its observed values' column moments (means, population
    standard deviations (D,), weighted when weights (N,) are given); DataError in one line for an infinity, a row
    with no observed value or a column with none."""
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"data must be a non-empty table of points (N, D), got shape {x.shape}")
    infinite = np.argwhere(np.isinf(x))
    if len(infinite):
        row, col = infinite[0]
        raise DataError(f"data row {row}, column {col} is {x[row, col]}: remove or fill infinite values")
    observed = ~np.isnan(x)
    empty_rows = np.flatnonzero(~observed.any(1))
    if len(empty_rows):
        raise DataError(
            f"data row {empty_rows[0]} has every coordinate missing ({len(empty_rows)} such rows): it tells nothing "
            "about the mixture, remove it"
        )
    w = np.ones(x.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    counts = (observed * w[:, None]).sum(0)
    if not counts.all():
        col = int(np.flatnonzero(counts == 0)[0])
        raise DataError(f"data column {col} has no observed value (of weight > 0): leave it out of the columns")
    filled = np.where(observed, x, 0.0)
    mean = (filled * w[:, None]).sum(0) / counts
    var = (np.where(observed, x - mean, 0.0) ** 2 * w[:, None]).sum(0) / counts
    checked_data(np.where(observed, x, mean))  # a column's spread within float64's reach, as for complete data
    return x, (mean, np.sqrt(var))


class Grouped(NamedTuple):
    """Points grouped by missingness pattern as MissingPoints holds them: the points (N, D) in working units with
    their missing coordinates at 0 (filled_points' layout), each pattern's observed coordinates (n_pat, D) bool, where
    each pattern's run of rows starts (n_pat + 1 ints, the last N) and the points' weights (N,) in their order, or
    None."""

    points: torch.Tensor
    observed: np.ndarray
    starts: list[int]
    weights: torch.Tensor | None


class MissingPoints:
    """The E-step (a SumSource) over points x (N, D) in working units with missing coordinates (NaN): the rows
    sorted by missingness pattern (the complete rows one of them), their missing coordinates at 0, through one
    fused chunked E-step in which each pattern has its padded parameters (patterned.patterned_statistics), then
    the completed sums of all patterns at once (pattern_algebra.PatternAlgebra). weights (N,): frequency weights;
    None: each point once. log_scale (D,): the log of the standardisation's scales (Pattern.offset), so that the
    fit's log-likelihood in data units is the observed-data one. cancel: checked before each chunk of the E-step
    (errors.Cancelled once set, as PointsInMemory's: an E-step of many restarts stops within a chunk)."""

    def __init__(
        self,
        x: torch.Tensor,
        weights: torch.Tensor | None = None,
        log_scale: np.ndarray | None = None,
        scaling: Scaling | None = None,
        dtype: torch.dtype | None = None,
        cancel: CancelToken | None = None,
        kept: KeptPatterns | None = None,
    ) -> None:
        """scaling: x is as read (data units, float64 on the CPU), standardised here as it is gathered by pattern,
        into dtype (a chunk read by passes: one copy of its rows, not two); kept: the patterns' algebra kept between
        the chunks of a pass (kept_patterns.py; None: this source's own)."""
        self.check = None if cancel is None else cancel.check
        self.dtype = dtype or x.dtype
        # on the CPU NumPy's isnan: a fifth of torch's there
        missing = np.isnan(x.detach().numpy()) if x.device.type == "cpu" else torch.isnan(x).to(HOST).numpy()
        keys, order, starts = pattern_runs(missing)
        # the rows pattern by pattern: each pattern a run of rows, its log p(x_o) laid side by side (no scatter)
        points = filled_points(x, order, self.dtype, scaling)  # also where a component is re-seeded
        self.order = order = torch.from_numpy(order).to(x.device)  # (N,): the data's row at each place
        w = None if weights is None else weights[order].contiguous()
        self._take(Grouped(points, ~keys, starts, w), log_scale, kept)

    @classmethod
    def from_grouped(
        cls,
        grouped: Grouped,
        log_scale: np.ndarray | None = None,
        cancel: CancelToken | None = None,
        kept: KeptPatterns | None = None,
    ) -> MissingPoints:
        """The source over points already grouped by pattern (a chunk read back from spill.py, as an earlier
        MissingPoints grouped it: its `grouped()`), with no row order of the data's (order None)."""
        source = cls.__new__(cls)
        source.check = None if cancel is None else cancel.check
        source.dtype, source.order = grouped.points.dtype, None
        source._take(grouped, log_scale, kept)
        return source

    def _take(self, grouped: Grouped, log_scale: np.ndarray | None, kept: KeptPatterns | None) -> None:
        """Hold the grouped points, their patterns and weights (see Grouped)."""
        self.x, self.observed, self.starts, self._w = grouped
        self.n_samples, self.n_features = n, _ = self.x.shape
        missing = ~self.observed
        self.offsets = np.zeros(len(missing)) if log_scale is None else np.where(missing, log_scale, 0.0).sum(1)
        self.features = gaussian.features_of(self.x)
        self.lifted = gaussian.lifted_of(self.x)  # [1; x^T] (1 + D, N) on the CPU from D = 3, else None
        self._w64 = None if self._w is None else self._w.to(torch.float64)
        self._total = float(n if self._w is None else self._w64.sum())
        self._log_norm: torch.Tensor | None = None  # (M, N) log p(x_o) + offset, rows in pattern order
        self._log_scale, self._kept = log_scale, kept
        self._algebra: PatternAlgebra | PatternSubset | None = None  # made at the first E-step (_algebra_for)

    def grouped(self) -> Grouped:
        """The points as this source holds them, grouped by pattern (from_grouped takes them back)."""
        return Grouped(self.x, self.observed, self.starts, self._w)

    def e_step(
        self, log_weights: torch.Tensor, means: torch.Tensor, chol: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Statistics (M, K, P) float64 and mean log-likelihoods (M,) (observed-data) on the CPU."""
        mu, l64 = means.double().numpy(), chol.double().numpy()
        algebra = self._algebra_for(log_weights.numel())
        algebra.prepare(log_weights.double().numpy(), mu, l64 @ l64.swapaxes(-1, -2))
        whitened = self.lifted is not None and gaussian.use_whitened(self.n_features, log_weights.numel())
        if whitened:
            per_pattern = algebra.whitened()  # inverse factors, means at 0 on the missing coordinates, constants
        else:
            per_pattern = (torch.from_numpy(algebra.coefficients()).to(self.x.device, self.dtype),)
        stats = self._pattern_sums(whitened, per_pattern)
        return algebra.completed(stats.numpy()), self._weighted_sum() / self._total

    def _algebra_for(self, restart_components: int) -> PatternAlgebra | PatternSubset:
        """The patterns' algebra, its arrays kept from one E-step to the next: the pass's kept one where given
        (and not too large for restart_components), else this source's own."""
        if self._algebra is None:
            kept = self._kept
            subset = None if kept is None else kept.subset(self.observed, self._log_scale, restart_components)
            self._algebra = subset or PatternAlgebra(self.observed, self.offsets)
        return self._algebra

    def _pattern_sums(self, whitened: bool, per_pattern: tuple) -> torch.Tensor:
        """Each pattern's sums (n_pat, M, K, P) float64 on the CPU over the points, log p(x_o) + offset (M, N) kept
        for the log-likelihood: per_pattern, the patterns' parameters, each (n_pat, M, ...) (_sums_over)."""
        stats, self._log_norm = self._sums_over(self.features, self.lifted, whitened, per_pattern)
        return stats.to(HOST)

    def _sums_over(self, features, lifted: torch.Tensor | None, whitened: bool, per_pattern: tuple):
        """patterned_whitened over lifted (per_pattern: inverse factors, means at 0 on the missing coordinates,
        constants) or patterned_statistics over features (per_pattern: the coefficients), with the points' weights."""
        if whitened:
            return patterned_whitened(lifted, *per_pattern, self.starts, self._w, check=self.check)
        return patterned_statistics(features, per_pattern[0], self.starts, self._w, check=self.check)

    def _weighted_sum(self) -> torch.Tensor:
        """sum_n w_n log p(x_o,n) (M,) float64 on the CPU at the last E-step."""
        if self._w64 is None:
            return self._log_norm.sum(-1, dtype=torch.float64).to(HOST)
        return (self._log_norm.to(torch.float64) @ self._w64).to(HOST)

    def total_ll(self) -> torch.Tensor | None:
        return None if self._log_norm is None else self._weighted_sum()

    def lowest(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Under each restart row at the last E-step, the count points of lowest log p(x_o) + offset (their missing
        coordinates at 0): those values (M, count) and the points (M, count, D), float64, lowest first
        (sources.lowest: torch.topk's answer; a pass merges each chunk's)."""
        log_norm = self._log_norm.double()
        if self._w is not None:  # a point of weight 0 counts for nothing: never a re-seeded component's place
            log_norm = log_norm.masked_fill(self._w == 0, float("inf"))
        values, at = lowest(log_norm, count)
        return values.to(HOST), self.x[at.flatten()].double().view(*at.shape, self.n_features).to(HOST)

    def worst_points(self, row: int, count: int) -> torch.Tensor:
        """The count points of lowest log p(x_o), missing coordinates at their column's mean (0), worst first."""
        log_norm = self._log_norm[row]
        if self._w is not None:
            log_norm = log_norm.masked_fill(self._w == 0, float("inf"))
        return self.x[log_norm.argsort()[:count]].to(HOST)


def filled_points(x: torch.Tensor, order: np.ndarray, dtype: torch.dtype, scaling: Scaling | None) -> torch.Tensor:
    """The points x (N, D) in the given order (N,) with their missing coordinates (NaN) at 0, standardised by scaling
    if given (MissingPoints), in dtype, as the E-step reads them fastest: in the lifted layout on a CPU from D = 3
    (see features.lifted_points, _gather_lifted), else contiguous."""
    n, d = x.shape
    if not gaussian.wants_lifted(d, x.device):
        if x.device.type != "cpu":
            taken = x[torch.from_numpy(order).to(x.device)]
        else:
            taken = torch.from_numpy(np.take(x.detach().numpy(), order, axis=0))
        if scaling is not None:
            _standardise(taken.numpy(), scaling.center, scaling.scale)
        return torch.nan_to_num_(taken.to(dtype), nan=0.0)
    z = gaussian.lifted_points(n, d, dtype)
    _gather_lifted(x.detach().numpy(), order, z[1:].numpy(), scaling)
    return z[1:].T


GATHER_ROWS = 16_384  # _gather_lifted's block: its rows (D float64 each) stay in cache between the gather and the rest


def _gather_lifted(rows: np.ndarray, order: np.ndarray, out: np.ndarray, scaling: Scaling | None) -> None:
    """out (D, N) = the rows (N, D) taken in order (N,), transposed, standardised by scaling if given, NaN at 0. Block
    by block: NumPy's take of whole rows into a small buffer (a copy of D contiguous numbers each), then the
    standardisation reading it transposed into out's block and the NaN set to 0 while the block is in cache: faster
    than taking along the transposed rows straight into out, then standardising and setting NaN over all of out
    (docs/performance.md, 'Missing values'). The numbers are Scaling.data_to_std's (the same operations)."""
    n, d = rows.shape
    block = np.empty((min(GATHER_ROWS, n), d), dtype=rows.dtype)
    # standardised in the rows' dtype, then converted to out's where they differ (as Scaling.data_to_std, then a cast)
    wide = out if out.dtype == rows.dtype else np.empty((d, min(GATHER_ROWS, n)), dtype=rows.dtype)
    for lo in range(0, n, GATHER_ROWS):
        hi = min(lo + GATHER_ROWS, n)
        part, at = block[: hi - lo], wide[:, lo:hi] if wide is out else wide[:, : hi - lo]
        np.take(rows, order[lo:hi], axis=0, out=part, mode="clip")  # clip: every index is valid, and no buffered copy
        if scaling is None:
            np.copyto(at, part.T)
        else:
            np.subtract(part.T, scaling.center[:, None], out=at)
            np.divide(at, scaling.scale[:, None], out=at)
        np.copyto(at, 0.0, where=np.isnan(at))
        if wide is not out:
            np.copyto(out[:, lo:hi], at, casting="same_kind")


def _standardise(x: np.ndarray, center: np.ndarray, scale: np.ndarray) -> None:
    """x = (x - center) / scale in place: Scaling.data_to_std's operations, so the same numbers."""
    x -= center
    x /= scale


def prepare_missing(
    x_data: np.ndarray,
    moments: tuple,
    cfg: FitConfig,
    work: int,
    weights: np.ndarray | None,
    cancel: CancelToken | None = None,
) -> tuple[Setup, MissingPoints]:
    """The setup of a fit of data (N, D) with missing values (check_missing's array and moments) and its E-step's
    source (checking cancel before each chunk); the starts drawn from the complete rows (see start_sample).
    UserError for what it cannot fit."""
    if cfg.algorithm != "em":
        raise UserError(f"missing values are fitted by exact EM (algorithm em), not {cfg.algorithm}")
    if cfg.prior is not None:
        raise UserError("--prior default needs complete data (its scale is the data's covariance matrix): drop it")
    n = x_data.shape[0]
    setup = prepare_points(x_data, moments, cfg, work, n)
    w = None if weights is None else torch.as_tensor(weights, dtype=setup.dtype, device=setup.device)
    source = MissingPoints(setup.points, w, np.log(setup.scaling.scale), cancel=cancel)
    if w is not None:
        setup = replace(setup, weights=w, n_effective=float(weights.sum()))
    sample, sample_weights = start_sample(setup, cfg)
    return replace(setup, sample=sample, sample_weights=sample_weights), source


def start_sample(setup: Setup, cfg: FitConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The points (S, D) the starts are drawn from and their weights: of the seed's sample of the rows
    (initial_points: the rows a fit by chunks gathers too), those start_rows keeps."""
    weights = None if setup.weights is None else initial_weights(setup.weights, cfg.seed)
    return start_rows(initial_points(setup.points, cfg.seed), weights, cfg.n_components)


def start_rows(sample: torch.Tensor, weights: torch.Tensor | None, k: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Of the seed's sample (S, D) in working units (NaN: missing) and its weights (S,), the rows a start of K
    components is drawn from: the complete ones when there are at least K (D + 1) of them (enough for k-means and
    each start's covariance); else every row with its missing coordinates at the column's observed mean (0 in working
    units), so that a start exists even when few or no rows are complete. In memory and by chunks alike."""
    complete = ~torch.isnan(sample).any(1)
    if int(complete.sum()) >= COMPLETE_ROWS_PER_PARAMETER * k * (sample.shape[1] + 1):
        return sample[complete], None if weights is None else weights[complete]
    return torch.nan_to_num(sample, nan=0.0), weights
