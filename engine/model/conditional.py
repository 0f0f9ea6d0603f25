"""The algebra of a Gaussian mixture given some coordinates of a point (missing values, issue 25): for observed
coordinates o and missing ones m under a component (mean mu, covariance S), log N(x_o | mu_o, S_oo), the conditional
mean mu_m + S_mo S_oo^-1 (x_o - mu_o) and covariance S_mm - S_mo S_oo^-1 S_om; points grouped by which coordinates
they miss (their pattern), and the responsibilities and imputed values of data with missing values (NaN)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from .features import pair_tables


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


# The E-step of data with missing values, all patterns in one fused pass (MissingPoints, model/patterned.py): the
# rows sorted by pattern
# with their missing coordinates at 0, each pattern's parameters padded to D dimensions. With S_oo padded by the
# identity on the missing coordinates (no coupling to the observed ones) and the means at 0 there, a point's
# quadratic form and log-determinant are those of its observed coordinates; only the normal's D/2 log 2pi is too
# large by (D - q)/2 log 2pi, which goes into the constant. So every row costs what a complete row costs, and a
# pattern is a slice of a chunk (two small products), not an E-step of its own (whose fixed costs and thread
# wake-ups made many small patterns cost several complete fits: docs/performance.md, 'Missing values').


@dataclass(frozen=True)
class PatternMasks:
    """The patterns' observed coordinates (n_pat, D) bool and what the patterns' algebra makes of them, made once per
    fit (MissingPoints._masks), not every iteration: the algebra is a few dozen operations on arrays of a few thousand
    numbers, where each operation's own cost is most of it (docs/performance.md, 'Missing values'). Shapes broadcast
    against (n_pat, M, K, D[, D]); offsets: each pattern's Pattern.offset."""

    observed: np.ndarray  # (n_pat, D) bool
    block: np.ndarray  # (n_pat, 1, 1, D, D) bool: (o, o)
    o: np.ndarray  # (n_pat, 1, 1, D) float64: 1 on o, 0 on m
    mis: np.ndarray  # (n_pat, 1, 1, D) float64: 1 on m
    o_mis: np.ndarray  # (n_pat, 1, 1, D, D) float64: 1 on (o, m)
    mis_mis: np.ndarray  # (n_pat, 1, 1, D, D) float64: 1 on (m, m)
    eye_o: np.ndarray  # (n_pat, 1, 1, D, D) float64: the identity on (o, o)
    constant: np.ndarray  # (n_pat, 1, 1) float64: q/2 log 2pi
    offsets: np.ndarray  # (n_pat, 1, 1) float64

    @classmethod
    def of(cls, observed: np.ndarray, offsets: np.ndarray) -> PatternMasks:
        """The masks of observed (n_pat, D) bool, with the patterns' offsets (n_pat,)."""
        d = observed.shape[1]
        o = observed.astype(np.float64)[:, None, None]
        mis = 1.0 - o
        q = observed.sum(-1)[:, None, None]
        return cls(
            observed,
            (observed[:, :, None] & observed[:, None, :])[:, None, None],
            o,
            mis,
            o[..., :, None] * mis[..., None, :],
            mis[..., :, None] * mis[..., None, :],
            np.eye(d) * o[..., None, :],
            0.5 * q * math.log(2.0 * math.pi),
            offsets[:, None, None],
        )


def padded_precisions(cov: np.ndarray, masks: PatternMasks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For covariances cov (M, K, D, D) float64 and the patterns' masks: each S_oo padded with the identity on the
    missing coordinates, its inverse (n_pat, M, K, D, D) (S_oo^-1 on (o, o), I on (m, m), exactly 0 between), half
    its log-determinant (n_pat, M, K) and its Cholesky factor's inverse L^-1 (n_pat, M, K, D, D) (the whitened
    E-step's), from one batched Cholesky factorisation (a matrix with no coupling between o and m has a factor, and
    an inverse factor, with none either)."""
    d = cov.shape[-1]
    # a block of a positive definite S is positive definite: cholesky_ex skips torch's check (a synchronisation)
    chol = torch.linalg.cholesky_ex(torch.from_numpy(np.where(masks.block, cov, _eye(d))))[0]
    eye = torch.eye(d, dtype=chol.dtype).expand_as(chol)
    inverse = torch.linalg.solve_triangular(chol, eye, upper=False).numpy()  # L^-1: D x D solves only
    half_log_det = np.log(np.diagonal(chol.numpy(), axis1=-2, axis2=-1)).sum(-1)
    return _transposed(inverse) @ inverse, half_log_det, inverse


def pattern_coefficients(
    log_weights: np.ndarray, means: np.ndarray, padded: tuple[np.ndarray, np.ndarray, np.ndarray], masks: PatternMasks
) -> np.ndarray:
    """W (n_pat, M, K, P) float64: each pattern's log-joint coefficients (as gaussian.log_joint_coefficients) for
    its points with the missing coordinates at 0, so that F(x) @ W = log w_k + log N(x_o | mu_o, S_oo) + offset; at
    log-weights (M, K), means (M, K, D), padded_precisions' (precisions, half log-determinants) and the patterns'
    masks (their offsets: what each pattern's log p(x_o) gains, Pattern.offset). In NumPy, as the rest of the
    patterns' algebra: a few dozen operations on small arrays, each a microsecond there, several in torch."""
    precision, half_log_det, _ = padded
    d = means.shape[-1]
    flat, factors = _pairs(d)[2:4]
    mu = means * masks.observed[:, None, None]  # 0 on the missing coordinates, as the points
    b = (precision @ mu[..., None])[..., 0]  # A mu
    const = pattern_constants(log_weights, half_log_det, masks) - 0.5 * (b * mu).sum(-1)
    quad = precision.reshape(*precision.shape[:-2], d * d)[..., flat] * factors
    return np.concatenate([const[..., None], b, quad], axis=-1)


def pattern_constants(log_weights: np.ndarray, half_log_det: np.ndarray, masks: PatternMasks) -> np.ndarray:
    """log w_k - log |L_oo| - q/2 log 2pi + offset (n_pat, M, K): each pattern's log-joint without its quadratic form,
    at log-weights (M, K), padded_precisions' half log-determinants and the patterns' masks."""
    return log_weights - half_log_det - masks.constant + masks.offsets


def completed_statistics(
    stats: torch.Tensor, means: np.ndarray, cov: np.ndarray, precision: np.ndarray, masks: PatternMasks
) -> torch.Tensor:
    """The E-step's statistics (M, K, P) float64 over all D coordinates, summed over the patterns, from each
    pattern's (n_pat, M, K, P) float64 [sum r, sum r x, sum r x x^T] of its points with the missing coordinates at
    0; at means (M, K, D), covariances (M, K, D, D), the padded precisions (padded_precisions) and the patterns'
    masks.

    The conditional mean is affine in x_o: with the missing coordinates at 0, the completed point is c + G x, with
    G = I on (o, o) and B = S_mo S_oo^-1 on (m, o), c = mu_m - B mu_o on m (0 on o); so its sums follow from the
    observed ones exactly: sum r (c + G x) = N c + G s1, and
      sum r (c + G x)(c + G x)^T = N c c^T + c (G s1)^T + (G s1) c^T + G S2 G^T, plus N (S_mm - B S_om) on (m, m).
    All patterns at once, padded to D x D (zeros where a pattern has no entry: its rows and columns pass as they
    are, and the complete rows' pattern, G = I and c = 0, adds its sums unchanged)."""
    d = means.shape[-1]
    st, mu, sigma = stats.numpy(), means, cov
    o = masks.o
    i, j, _, _, pair_of = _pairs(d)
    nk, s1 = st[..., 0], st[..., 1 : 1 + d]
    s2 = np.take(st[..., 1 + d :], pair_of, axis=-1).reshape(*st.shape[:-1], d, d)  # contiguous
    cross = sigma * masks.o_mis  # S_om on (o, m), else 0
    solved = precision @ cross  # S_oo^-1 S_om on (o, m), else 0
    gain = solved.swapaxes(-1, -2) + masks.eye_o  # G
    shift = mu - (gain @ (mu * o)[..., None])[..., 0]  # c: exactly 0 on o
    correction = sigma * masks.mis_mis - _transposed(cross) @ solved
    g_s1 = (gain @ s1[..., None])[..., 0]
    n = nk[..., None]
    first = n * shift + g_s1
    c_g = shift[..., :, None] * g_s1[..., None, :]
    outer = shift[..., :, None] * shift[..., None, :] + correction
    second = gain @ s2 @ _transposed(gain)
    second += c_g
    second += c_g.swapaxes(-1, -2)
    second += n[..., None] * outer
    return torch.from_numpy(np.concatenate([n, first, second[..., i, j]], axis=-1).sum(0))


@functools.lru_cache(maxsize=16)
def _eye(d: int) -> np.ndarray:
    """np.eye(d), made once (read only)."""
    eye = np.eye(d)
    eye.flags.writeable = False
    return eye


@functools.lru_cache(maxsize=16)
def _pairs(d: int) -> tuple[np.ndarray, ...]:
    """features.pair_tables(d) as NumPy arrays, made once."""
    return tuple(t.numpy() for t in pair_tables(d))


def _transposed(a: np.ndarray) -> np.ndarray:
    """The matrices (..., D, D) transposed, as a contiguous copy: NumPy multiplies a stack with a strided operand in
    its own slow loop (docs/performance.md, 'Missing values')."""
    return np.ascontiguousarray(a.swapaxes(-1, -2))
