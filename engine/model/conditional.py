"""The algebra of a Gaussian mixture given some coordinates of a point (missing values, issue 25): for observed
coordinates o and missing ones m under a component (mean mu, covariance S), log N(x_o | mu_o, S_oo), the conditional
mean mu_m + S_mo S_oo^-1 (x_o - mu_o) and covariance S_mm - S_mo S_oo^-1 S_om; points grouped by which coordinates
they miss (their pattern), and the responsibilities and imputed values of data with missing values (NaN)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Pattern:
    """The points sharing one missingness pattern: observed columns obs (q,), missing columns mis (D - q,), their
    rows in the data (n_p,), observed coordinates x_o (n_p, q) float64 in working units, weights (n_p,) or None;
    offset: what its points' log p(x_o) gains so that the fit's map back to data units (which subtracts the log
    scales of every column) subtracts those of the observed columns only (sum of the missing columns' log scales)."""

    obs: torch.Tensor
    mis: torch.Tensor
    rows: torch.Tensor
    x_o: torch.Tensor
    weights: torch.Tensor | None
    offset: float = 0.0


def patterns_of(
    x: np.ndarray,
    weights: np.ndarray | None = None,
    log_scale: np.ndarray | None = None,
    with_complete: bool = False,
    points: bool = True,
) -> list[Pattern]:
    """The missingness patterns of x (N, D) float64 (NaN: missing) in the order of their first row: those with a
    missing value, and with_complete the complete rows' too (if any); log_scale (D,): the working units' log scales
    (Pattern.offset), None: data units; points False: no copy of the observed coordinates (x_o empty)."""
    missing = np.isnan(x)
    taken = np.arange(len(x)) if with_complete else np.flatnonzero(missing.any(1))
    keys, first, inverse = _row_groups(missing[taken])
    grouped = np.argsort(inverse, kind="stable")  # the rows of each pattern together, in order
    ends = np.cumsum(np.bincount(inverse, minlength=len(first)))
    out = []
    for p in np.argsort(first):
        rows = taken[grouped[ends[p - 1] if p else 0 : ends[p]]]
        obs, mis = np.flatnonzero(~keys[p]), np.flatnonzero(keys[p])
        w = None if weights is None else torch.as_tensor(weights[rows], dtype=torch.float64)
        x_o = torch.as_tensor(np.ascontiguousarray(x[np.ix_(rows, obs)]) if points else np.empty((0, len(obs))))
        offset = 0.0 if log_scale is None else float(log_scale[mis].sum())
        out.append(Pattern(torch.as_tensor(obs), torch.as_tensor(mis), torch.as_tensor(rows), x_o, w, offset))
    return out


def _row_groups(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(mask, axis=0, return_index=True, return_inverse=True) of a bool table (n, D): its distinct rows
    (G, D), the first row of each (G,) and each row's group (n,). Up to 62 columns each row is one integer, whose
    unique is a sort of n numbers, far faster than the rows' own lexicographic sort (docs/performance.md, 'Missing
    values')."""
    if mask.shape[1] > 62:
        keys, first, inverse = np.unique(mask, axis=0, return_index=True, return_inverse=True)
        return keys, first, inverse.reshape(-1)
    codes = mask.astype(np.int64) @ (np.int64(1) << np.arange(mask.shape[1], dtype=np.int64))
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    return mask[first], first, inverse.reshape(-1)


SMALL_CODE_COLUMNS = 16  # pattern_runs: up to this many columns a row's pattern is one uint16, sorted by radix


def pattern_runs(missing: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The rows of a bool table missing (N, D) (True: missing) grouped by pattern as patterns_of(with_complete=True)
    groups them: the patterns (n_pat, D) in the order of their first row, the rows' order (N,) (each pattern's rows
    together, in their own order) and where each pattern's run starts in it, then N (n_pat + 1). Up to
    SMALL_CODE_COLUMNS columns a row's pattern is one uint16, whose stable sort is NumPy's radix sort (one pass per
    byte): a chunk read by passes groups its rows every pass (docs/performance.md, 'Missing values')."""
    n, d = missing.shape
    if d > SMALL_CODE_COLUMNS:
        _, first, inverse = _row_groups(missing)
        order = np.argsort(inverse, kind="stable")
        counts = np.bincount(inverse, minlength=len(first))
        begins = np.cumsum(counts) - counts
    else:
        codes = np.zeros(n, dtype=np.uint16)
        for j in range(d):  # a column at a time: no (N, D) integer temporary
            codes |= missing[:, j].astype(np.uint16) << j
        order = np.argsort(codes, kind="stable")
        ordered = np.take(codes, order)
        begins = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
        counts = np.diff(np.append(begins, n))
        first = order[begins]
    rank = np.argsort(first)  # the patterns in the order of their first row
    runs = [order[begins[p] : begins[p] + counts[p]] for p in rank]
    starts = np.concatenate([[0], np.cumsum(counts[rank])]).tolist()
    return missing[first[rank]], np.concatenate(runs), starts


def conditional_terms(
    x_o: torch.Tensor,
    obs: torch.Tensor,
    mis: torch.Tensor,
    log_weights: torch.Tensor,
    means: torch.Tensor,
    cov: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For points x_o (b, q) observed on obs (q,) and missing mis (D - q,), at log-weights (M, K), means (M, K, D),
    covariances (M, K, D, D) float64: log w_k N(x_o | mu_o, S_oo) (M, K, b), the conditional means of the missing
    coordinates (M, K, b, D - q) and the conditional covariance S_mm - S_mo S_oo^-1 S_om (M, K, D - q, D - q)."""
    s_oo = cov[..., obs[:, None], obs]
    s_om = cov[..., obs[:, None], mis]
    chol = torch.linalg.cholesky(s_oo)
    diff = x_o - means[..., None, obs]  # (M, K, b, q)
    white = torch.linalg.solve_triangular(chol, diff.transpose(-1, -2), upper=False)  # (M, K, q, b)
    half_log_det = torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    q = len(obs)
    log_joint = (log_weights - half_log_det - 0.5 * q * math.log(2 * math.pi))[..., None] - 0.5 * white.square().sum(-2)
    solved = torch.cholesky_solve(s_om, chol)  # (M, K, q, m) = S_oo^-1 S_om
    cond_means = means[..., None, mis] + diff @ solved  # (M, K, b, m)
    correction = cov[..., mis[:, None], mis] - s_om.transpose(-1, -2) @ solved
    return log_joint, cond_means, correction


IMPUTE_ROWS = 2**16  # impute: points per block


def impute(
    x: np.ndarray, weights: np.ndarray, means: np.ndarray, cov: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For data (N, D) with missing values (NaN) and a mixture in data units (K,), (K, D), (K, D, D): the
    responsibilities (N, K) given each point's observed coordinates, the points with their missing coordinates
    imputed by E[x_m | x_o] = sum_k r_k E[x_m | x_o, k] (N, D), and log p(x_o) (N,)."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    lw = torch.log(torch.as_tensor(weights, dtype=torch.float64))[None]
    mu, sigma = torch.as_tensor(means, dtype=torch.float64)[None], torch.as_tensor(cov, dtype=torch.float64)[None]
    resp, filled, log_p = np.empty((n, len(weights))), x.copy(), np.empty(n)
    for p in patterns_of(x, with_complete=True):
        for lo in range(0, len(p.rows), IMPUTE_ROWS):  # a block's (K, b, D) arrays stay small
            at = slice(lo, lo + IMPUTE_ROWS)
            joint, cond, _ = conditional_terms(p.x_o[at], p.obs, p.mis, lw, mu, sigma)
            lp = torch.logsumexp(joint[0], dim=0)  # (b,)
            r = torch.exp(joint[0] - lp)  # (K, b)
            rows = p.rows[at].numpy()
            resp[rows] = r.T.numpy()
            log_p[rows] = lp.numpy()
            if len(p.mis):
                filled[np.ix_(rows, p.mis.numpy())] = (r[..., None] * cond[0]).sum(0).numpy()
    return resp, filled, log_p
