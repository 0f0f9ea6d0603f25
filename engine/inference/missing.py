"""Exact EM for data missing at random (issue 25, `--missing em`): each point's E-step on its observed coordinates,
the M-step with the conditional expectations of the missing ones and their covariance correction.

For a point with observed coordinates o and missing ones m, under component k (mean mu, covariance S):
  log p(x_o | k) = log N(x_o | mu_o, S_oo),
  E[x_m | x_o, k] = mu_m + S_mo S_oo^-1 (x_o - mu_o),   Cov[x_m | x_o, k] = S_mm - S_mo S_oo^-1 S_om,
so the E-step's sums are those of the points completed by their conditional means, plus r_nk times the conditional
covariance in the (m, m) block of sum r x x^T. The M-step (gaussian.m_step, every covariance type) takes these
sums as they are. Points are grouped by their missingness pattern (few in practice); each pattern's rows go through
the fused E-step (PointsInMemory) on their observed columns, with the observed block's parameters, and since the
conditional mean is affine in x_o the completed sums follow from the observed ones exactly (completed_sums), so a
pattern costs what the complete rows cost per point. Data with no missing value never comes here: its fit is bit
for bit the usual one.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..config import FitConfig
from ..errors import DataError, UserError
from ..model import gaussian
from ..model.conditional import Pattern, patterns_of
from ..model.features import pair_tables
from .init import initial_points, initial_weights
from .pipeline import Setup, checked_data, prepare_points
from .sources import HOST, PointsInMemory

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


def completed_sums(
    stats_o: torch.Tensor,
    obs: torch.Tensor,
    mis: torch.Tensor,
    means: torch.Tensor,
    cov: torch.Tensor,
    chol_oo: torch.Tensor,
) -> torch.Tensor:
    """A pattern's statistics (M, K, P) over all D coordinates from those of its observed ones, stats_o (M, K, P_q)
    float64 = [sum r, sum r x_o, sum r x_o x_o^T], at float64 means (M, K, D), covariances (M, K, D, D) and S_oo's
    Cholesky factors (M, K, q, q). The conditional mean is affine in x_o, x_m = a + B x_o (B = S_mo S_oo^-1,
    a = mu_m - B mu_o), so its sums follow from the observed ones exactly:
      sum r x_m = N a + B s1,   sum r x_m x_o^T = a s1^T + B S2,
      sum r x_m x_m^T = N a a^T + a (B s1)^T + (B s1) a^T + B S2 B^T + N (S_mm - B S_om)."""
    q, d = len(obs), means.shape[-1]
    nk, s1 = stats_o[..., 0], stats_o[..., 1 : 1 + q]
    s2 = gaussian.symmetric_from_pairs(stats_o[..., 1 + q :], q)
    s_om = cov[..., obs[:, None], mis]
    gain = torch.cholesky_solve(s_om, chol_oo).transpose(-1, -2)  # B (M, K, m, q)
    a = means[..., mis] - (gain @ means[..., obs, None])[..., 0]
    b_s1 = (gain @ s1[..., None])[..., 0]
    n = nk[..., None]
    first = means.new_empty(*nk.shape, d)
    first[..., obs], first[..., mis] = s1, n * a + b_s1
    second = means.new_empty(*nk.shape, d, d)
    cross = a[..., :, None] * s1[..., None, :] + gain @ s2  # (M, K, m, q)
    correction = cov[..., mis[:, None], mis] - gain @ s_om
    a_b = a[..., :, None] * b_s1[..., None, :]
    mm = (n * a)[..., :, None] * a[..., None, :] + a_b + a_b.transpose(-1, -2) + gain @ s2 @ gain.transpose(-1, -2)
    second[..., obs[:, None], obs] = s2
    second[..., mis[:, None], obs] = cross
    second[..., obs[:, None], mis] = cross.transpose(-1, -2)
    second[..., mis[:, None], mis] = mm + n[..., None] * correction
    i, j = pair_tables(d)[:2]
    return torch.cat([nk[..., None], first, second[..., i, j]], dim=-1)


class MissingPoints:
    """The E-step (a SumSource) over points x (N, D) in working units with missing coordinates (NaN): the rows of
    each missingness pattern (the complete rows one of them) through the fused E-step (PointsInMemory) on their
    observed columns, then completed_sums. weights (N,): frequency weights; None: each point once. log_scale (D,):
    the log of the standardisation's scales (Pattern.offset), so that the fit's log-likelihood in data units is the
    observed-data one."""

    def __init__(
        self, x: torch.Tensor, weights: torch.Tensor | None = None, log_scale: np.ndarray | None = None
    ) -> None:
        self.n_samples, self.n_features = x.shape
        self.dtype = x.dtype
        host = x.detach().to(HOST, torch.float64).numpy()
        w_host = None if weights is None else weights.to(HOST, torch.float64).numpy()
        self.complete_rows = torch.as_tensor(np.flatnonzero(~np.isnan(host).any(1)))
        self.patterns = patterns_of(host, None, log_scale, with_complete=True, points=False)
        self.sources = [self._source(x, weights, p) for p in self.patterns]
        # the rows pattern by pattern: each E-step's log p(x_o) is the patterns' own, laid side by side (no scatter)
        order = torch.cat([p.rows for p in self.patterns])
        self.filled = torch.as_tensor(np.nan_to_num(host, nan=0.0))[order]  # at the column means: where to re-seed
        self._w64 = None if weights is None else torch.as_tensor(w_host)[order]
        self._total = float(self.n_samples if weights is None else w_host.sum())
        self._log_norm: torch.Tensor | None = None  # (M, N) float64 log p(x_o) (+ offset), rows in pattern order

    @staticmethod
    def _source(x: torch.Tensor, weights: torch.Tensor | None, p: Pattern) -> PointsInMemory:
        """The fused E-step over a pattern's rows' observed columns (n_p, q), on x's device in its dtype."""
        rows = p.rows.to(x.device)
        points = x[rows][:, p.obs.to(x.device)].contiguous()
        return PointsInMemory(points, None if weights is None else weights[rows])

    def e_step(
        self, log_weights: torch.Tensor, means: torch.Tensor, chol: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Statistics (M, K, P) float64 and mean log-likelihoods (M,) (observed-data) on the CPU."""
        m, k, d = means.shape
        parts = []
        stats = torch.zeros(m, k, gaussian.n_features(d), dtype=torch.float64)
        mu, l64 = means.double(), chol.double()
        cov = l64 @ l64.transpose(-1, -2)
        factors = self._observed_factors(cov)
        for p, source, chol_oo in zip(self.patterns, self.sources, factors, strict=True):
            if len(p.mis) == 0:  # the complete rows: the usual E-step at the usual parameters
                stats = stats + source.e_step(log_weights, means, chol)[0]
            else:
                obs_means, obs_chol = mu[..., p.obs].to(self.dtype), chol_oo.to(self.dtype)
                stats_o = source.e_step(log_weights, obs_means, obs_chol)[0]
                stats = stats + completed_sums(stats_o, p.obs, p.mis, mu, cov, chol_oo)
            parts.append(source._log_norm.to(HOST, torch.float64) + p.offset)
        self._log_norm = torch.cat(parts, dim=1)
        return stats, self._weighted_sum() / self._total

    def _observed_factors(self, cov: torch.Tensor) -> list[torch.Tensor]:
        """Each pattern's Cholesky factors of S_oo (M, K, q, q) at covariances cov (M, K, D, D) float64, in one
        batched factorisation: S_oo padded to D x D with the identity is block-diagonal, its factor holds S_oo's.
        (One LAPACK call per pattern, each waking the thread pool the E-step has just left, cost far more.)"""
        order = torch.stack([torch.cat([p.obs, p.mis]) for p in self.patterns])  # (n_p, D)
        q = torch.tensor([len(p.obs) for p in self.patterns])
        d = cov.shape[-1]
        inside = torch.arange(d) < q[:, None]  # (n_p, D)
        block = inside[:, :, None] & inside[:, None, :]
        permuted = cov[..., order[:, :, None], order[:, None, :]]  # (M, K, n_p, D, D)
        padded = torch.where(block, permuted, torch.eye(d, dtype=cov.dtype))
        # a block of a positive definite S is positive definite: cholesky_ex skips torch's check (a synchronisation)
        chol = torch.linalg.cholesky_ex(padded)[0]
        return [chol[..., i, : len(p.obs), : len(p.obs)] for i, p in enumerate(self.patterns)]

    def _weighted_sum(self) -> torch.Tensor:
        return self._log_norm.sum(-1) if self._w64 is None else self._log_norm @ self._w64

    def total_ll(self) -> torch.Tensor | None:
        return None if self._log_norm is None else self._weighted_sum()

    def worst_points(self, row: int, count: int) -> torch.Tensor:
        """The count points of lowest log p(x_o), missing coordinates at their column's mean (0), worst first."""
        log_norm = self._log_norm[row]
        if self._w64 is not None:
            log_norm = log_norm.masked_fill(self._w64 == 0, float("inf"))
        return self.filled[log_norm.argsort()[:count]].to(self.dtype)


def prepare_missing(
    x_data: np.ndarray, moments: tuple, cfg: FitConfig, work: int, weights: np.ndarray | None
) -> tuple[Setup, MissingPoints]:
    """The setup of a fit of data (N, D) with missing values (check_missing's array and moments) and its E-step's
    source; the starts drawn from the complete rows (see start_sample). UserError for what it cannot fit."""
    if cfg.algorithm != "em":
        raise UserError(f"missing values are fitted by exact EM (algorithm em), not {cfg.algorithm}")
    if cfg.prior is not None:
        raise UserError("--prior default needs complete data (its scale is the data's covariance matrix): drop it")
    n = x_data.shape[0]
    setup = prepare_points(x_data, moments, cfg, work, n)
    w = None if weights is None else torch.as_tensor(weights, dtype=setup.dtype, device=setup.device)
    source = MissingPoints(setup.points, w, np.log(setup.scaling.scale))
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
