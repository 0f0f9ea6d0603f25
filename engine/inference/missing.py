"""Exact EM for data missing at random (issue 25, `--missing em`): each point's E-step on its observed coordinates,
the M-step with the conditional expectations of the missing ones and their covariance correction.

For a point with observed coordinates o and missing ones m, under component k (mean mu, covariance S):
  log p(x_o | k) = log N(x_o | mu_o, S_oo),
  E[x_m | x_o, k] = mu_m + S_mo S_oo^-1 (x_o - mu_o),   Cov[x_m | x_o, k] = S_mm - S_mo S_oo^-1 S_om,
so the E-step's sums are those of the points completed by their conditional means, plus r_nk times the conditional
covariance in the (m, m) block of sum r x x^T. The M-step (gaussian.m_step, every covariance type) takes these
sums as they are. Points are grouped by their missingness pattern (few in practice) and each pattern is one batched
computation in float64; the complete rows go through the fused E-step unchanged (PointsInMemory). Data with no
missing value never comes here: its fit is bit for bit the usual one.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..config import FitConfig
from ..errors import DataError, UserError
from ..model import gaussian
from ..model.conditional import Pattern, conditional_terms, patterns_of
from ..model.features import pair_tables
from .init import initial_points, initial_weights
from .pipeline import Setup, prepare_points
from .sources import HOST, PointsInMemory

MISSING_MODES = ("em",)
# a block of a pattern's points holds about this many numbers per (M, K, rows, D) array
BLOCK_ELEMENTS = 2**20
# the starts are drawn from the complete rows when there are at least this many per component and dimension + 1
# (enough for k-means and each start's covariance), else from every row with its missing cells at the column mean
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
    return x, (mean, np.sqrt(var))


def pattern_sums(
    pattern: Pattern, log_weights: torch.Tensor, means: torch.Tensor, cov: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A pattern's E-step at float64 parameters (M, K), (M, K, D), (M, K, D, D): sum r (M, K), sum r x (M, K, D),
    sum r x x^T (M, K, D, D) with the missing coordinates' conditional moments, and log p(x_o) (M, n_p)."""
    m, k, d = means.shape
    n = pattern.x_o.shape[0]
    block = max(1, BLOCK_ELEMENTS // (m * k * d))
    nk, first, second = means.new_zeros(m, k), means.new_zeros(m, k, d), means.new_zeros(m, k, d, d)
    log_norm = means.new_empty(m, n)  # log p(x_o) + offset
    correction = None
    for lo in range(0, n, block):
        x_o = pattern.x_o[lo : lo + block]
        log_joint, cond, correction = conditional_terms(x_o, pattern.obs, pattern.mis, log_weights, means, cov)
        log_p = torch.logsumexp(log_joint, dim=1)  # (M, b)
        log_norm[:, lo : lo + block] = log_p + pattern.offset
        resp = torch.exp(log_joint - log_p[:, None])  # (M, K, b)
        if pattern.weights is not None:
            resp = resp * pattern.weights[lo : lo + block]
        filled = means.new_empty(m, k, x_o.shape[0], d)
        filled[..., pattern.obs] = x_o
        filled[..., pattern.mis] = cond
        weighted = resp[..., None] * filled
        nk += resp.sum(-1)
        first += weighted.sum(-2)
        second += weighted.transpose(-1, -2) @ filled
    mis = pattern.mis
    second[..., mis[:, None], mis] += nk[..., None, None] * correction
    return nk, first, second, log_norm


def packed(nk: torch.Tensor, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The E-step's statistics layout (M, K, P) = [N_k, sum r x, sum r x_i x_j (i <= j)] from its parts."""
    i, j = pair_tables(first.shape[-1])[:2]
    return torch.cat([nk[..., None], first, second[..., i, j]], dim=-1)


class MissingPoints:
    """The E-step (a SumSource) over points x (N, D) in working units with missing coordinates (NaN): the complete
    rows through the fused E-step (PointsInMemory), each missingness pattern batched in float64 on the CPU.
    weights (N,): frequency weights; None: each point once. log_scale (D,): the log of the standardisation's
    scales (Pattern.offset), so that the fit's log-likelihood in data units is the observed-data one."""

    def __init__(
        self, x: torch.Tensor, weights: torch.Tensor | None = None, log_scale: np.ndarray | None = None
    ) -> None:
        self.n_samples, self.n_features = x.shape
        self.dtype = x.dtype
        host = x.detach().to(HOST, torch.float64).numpy()
        w_host = None if weights is None else weights.to(HOST, torch.float64).numpy()
        complete = torch.as_tensor(np.flatnonzero(~np.isnan(host).any(1)))
        self.complete_rows = complete
        self.complete = None
        if len(complete):
            w = None if weights is None else weights[complete.to(weights.device)]
            self.complete = PointsInMemory(x[complete.to(x.device)].contiguous(), w)
        self.patterns = patterns_of(host, w_host, log_scale)
        self.filled = torch.as_tensor(np.nan_to_num(host, nan=0.0))  # the column means: where a re-seed may go
        self._w64 = None if weights is None else torch.as_tensor(w_host)
        self._total = float(self.n_samples if weights is None else w_host.sum())
        self._log_norm: torch.Tensor | None = None  # (M, N) float64 log p(x_o) at the last E-step

    def e_step(
        self, log_weights: torch.Tensor, means: torch.Tensor, chol: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Statistics (M, K, P) float64 and mean log-likelihoods (M,) (observed-data) on the CPU."""
        m, k, d = means.shape
        log_norm = torch.empty(m, self.n_samples, dtype=torch.float64)
        stats = torch.zeros(m, k, gaussian.n_features(d), dtype=torch.float64)
        if self.complete is not None:
            stats, _ = self.complete.e_step(log_weights, means, chol)
            log_norm[:, self.complete_rows] = self.complete._log_norm.to(HOST, torch.float64)
        lw, mu, l64 = log_weights.double(), means.double(), chol.double()
        cov = l64 @ l64.transpose(-1, -2)
        for pattern in self.patterns:
            nk, first, second, part = pattern_sums(pattern, lw, mu, cov)
            stats = stats + packed(nk, first, second)
            log_norm[:, pattern.rows] = part
        self._log_norm = log_norm
        return stats, self._weighted_sum() / self._total

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
    sample, sample_weights = start_sample(source, setup, cfg)
    return replace(setup, sample=sample, sample_weights=sample_weights), source


def start_sample(source: MissingPoints, setup: Setup, cfg: FitConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The points (S, D) the starts are drawn from and their weights: the complete rows (initial_points of them),
    when there are at least K (D + 1) of them; else every row with its missing coordinates at the column's observed
    mean (0 in working units), so that a start exists even when few or no rows are complete."""
    k, d = cfg.n_components, source.n_features
    rows = source.complete_rows.to(setup.points.device)
    if len(rows) >= COMPLETE_ROWS_PER_PARAMETER * k * (d + 1):
        points = setup.points[rows]
        weights = None if setup.weights is None else setup.weights[rows]
    else:
        points = torch.nan_to_num(setup.points, nan=0.0)
        weights = setup.weights
    sample = initial_points(points, cfg.seed)
    return sample, None if weights is None else initial_weights(weights, cfg.seed)
