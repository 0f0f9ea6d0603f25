"""ICL's classification term: sum_i log max_k z_ik at each fit's parameters, in one more E-step pass.

The responsibilities z_ik = w_k N(x_i | mu_k, Sigma_k) / p(x_i) do not change under the standardisation (an affine
map of the points: its Jacobian cancels in the ratio), so the pass runs in standardised units, where the numbers
are tame whatever the data's units. One pass serves every fit of a grid (each fit one row of the pass's plan,
padded to the largest K with weight 0): over points in memory by chunks here, or over data read by chunks or
held by a Dask cluster through the grid's own pass runner (sources.chunk_sums, told to classify).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import torch

from ..inference.grid import Streamed
from ..inference.sources import PassPlan, local_pass
from ..model.scaling import column_moments
from ..snapshot import CancelToken, Snapshot

# rows of points per chunk of the pass over points in memory (the chunk E-step blocks them further)
MEMORY_CHUNK_ROWS = 65_536


class _InMemory:
    """Points (N, D) in memory as a ChunkSource (with weights (N,): chunks (c, D + 1), the weights last, as a
    weighted pass reads them)."""

    def __init__(self, x: np.ndarray, weights: np.ndarray | None = None) -> None:
        self.x = x if weights is None else np.column_stack([x, weights])
        self.n_samples, self.n_features = x.shape

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        for lo in range(0, self.n_samples, rows):
            yield self.x[lo : lo + rows]


def map_log_responsibilities(
    data: np.ndarray | Streamed,
    fits: Sequence[Snapshot],
    cancel: CancelToken | None = None,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """For each fit (its weights (K,), means (K, D), covariances (K, D, D) in data units) on data (N, D): the sum
    over the points of log max_k z_ik, and the log-likelihood the same pass found (a check) — two (F,) arrays, one
    pass for all F fits; NaN for a fit whose covariance is not positive definite in float64 (rounding at
    reg_covar 0). errors.Cancelled once cancel is set (between two chunks). weights (N,): the points' frequency
    weights (each point's terms counted w times; streamed data says so itself, Streamed.weighted)."""
    if isinstance(data, Streamed):
        center, scale, run_pass = data.survey.mean, data.survey.std, data.run_pass
        weighted, counted, missing = data.weighted, data.n_counted, data.survey.missing_cells > 0
    else:
        x = np.asarray(data, dtype=np.float64)
        center, scale = column_moments(x)
        run_pass = functools.partial(local_pass, _InMemory(x, weights), MEMORY_CHUNK_ROWS)
        weighted, counted = weights is not None, x.shape[0] if weights is None else float(np.sum(weights))
        missing = False
    scale = np.where(scale > 0, scale, 1.0)
    plan = _plan(fits, np.asarray(center, np.float64), np.asarray(scale, np.float64))
    sums = run_pass(replace(plan, weighted=weighted, missing=missing), cancel)
    jacobian = counted * float(np.log(scale).sum())  # log p in standardised units = log p in data units + this
    return sums.map_sum.numpy(), sums.ll_sum.numpy() - jacobian


def observed_map_terms(x: np.ndarray, fits: Sequence[Snapshot], weights: np.ndarray | None = None) -> np.ndarray:
    """ICL's term of each fit (F,) on data (N, D) with missing values (NaN): sum over the points (times their
    frequency weights (N,)) of log max_k z_ik, the responsibilities given each point's observed coordinates
    (conditional.impute, the labels export's); NaN for a fit whose covariance is not positive definite."""
    from ..model.conditional import impute

    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    terms = np.empty(len(fits))
    for i, f in enumerate(fits):
        try:
            resp = impute(x, np.asarray(f.weights), np.asarray(f.means), np.asarray(f.covariances))[0]
        except torch.linalg.LinAlgError:  # rounding took a covariance off positive definite: no ICL, as below
            terms[i] = np.nan
            continue
        with np.errstate(divide="ignore"):
            terms[i] = float(w @ np.log(resp.max(axis=1)))
    return terms


def _plan(fits: Sequence[Snapshot], center: np.ndarray, scale: np.ndarray) -> PassPlan:
    """The fits' parameters in standardised units, padded to the largest K (weight 0, mean 0, identity), as a
    classifying pass's plan: log-weights (F, K), means (F, K, D), Cholesky factors (F, K, D, D)."""
    k_max, d = max(len(f.weights) for f in fits), len(center)
    log_w = torch.full((len(fits), k_max), -torch.inf, dtype=torch.float64)
    means = torch.zeros(len(fits), k_max, d, dtype=torch.float64)
    cov = torch.eye(d, dtype=torch.float64).repeat(len(fits), k_max, 1, 1)
    for i, f in enumerate(fits):
        k = len(f.weights)
        with np.errstate(divide="ignore"):  # an empty component's weight 0: log 0 = -inf, it classifies no point
            log_w[i, :k] = torch.as_tensor(np.log(np.asarray(f.weights, np.float64)))
        means[i, :k] = torch.as_tensor((np.asarray(f.means, np.float64) - center) / scale)
        cov[i, :k] = torch.as_tensor(np.asarray(f.covariances, np.float64) / np.outer(scale, scale))
    chol, info = torch.linalg.cholesky_ex(cov)
    bad = (info != 0).any(-1)  # (F,) a covariance that rounding took off positive definite: that fit gets NaN
    chol = torch.where(bad[:, None, None, None], torch.eye(d, dtype=torch.float64), chol)
    log_w[bad] = torch.nan
    return PassPlan(center, scale, log_w, means, chol, torch.float64, classify=True)
