"""Batched Gaussian-mixture algebra for exact EM: one matrix product per E-step and one per M-step.

Shapes: R restarts, N points, K components, D dimensions, P = 1 + D + D(D+1)/2 quadratic features.

The log-joint log w_k + log N(x | mu_k, Sigma_k) is a quadratic polynomial in x, so with the features
F(x) = [1, x_i, x_i x_j (i <= j)] it is F @ W for a (P, K) coefficient matrix W. That keeps the hot path
on one GEMM and off per-point triangular solves (see docs/design.md). The sufficient statistics of the M-step
(N_k, sum r x, sum r x x^T) are likewise resp^T @ F. Both are exact algebra; the only cost is the usual
rounding of raw moments, which internal standardisation (see scaling.py) keeps small.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from ..runtime.threads import ONE_CHUNK_ROWS, chunk_workers, ordered_sum
from .covariances import COVARIANCE_TYPES
from .features import (
    LazyFeatures,
    copy_transposed,
    n_features,
    pair_tables,
    quadratic_features,
    scratch,
    thread_buffer,
)

# The inference modules reach the lifted layout through this module (gaussian.lifted_of, lifted_points, ...).
from .features import lifted_of as lifted_of
from .features import lifted_points as lifted_points
from .features import wants_lifted as wants_lifted
from .pinned import Pins
from .prior import Prior
from .prior_mstep import map_mstep, scatter_from_moments

Tensor = torch.Tensor
# scikit-learn adds 10 * eps to every N_k so that an empty component divides by a tiny number, not zero.
NK_EPS_FACTOR = 10.0
# mclust's test for a singular covariance (its Fortran M-steps; emControl's eps is the double's machine epsilon): the
# Cholesky factor's smallest diagonal entry over one plus its largest at or below sqrt(eps), here in the working
# units. Cholesky alone passes such matrices, and EM then ran on the degenerate boundary, where the log-likelihood is
# unbounded and rounding decides each step (measured, reg_covar 0, 6 components on 20 points: VEE shrank a
# one-point component to 1e-308 I and the log-likelihood fell 0.88 per point; VVE, a two-point component at
# condition 1e-15, fell 0.02). The restart fails instead, as mclust's EM stops with NA. A reg_covar floor (1e-6 of
# each column's variance) keeps every covariance far above it.
SINGULAR = float(torch.finfo(torch.float64).eps) ** 0.5
# The fused E-step works on chunks of points; its intermediates are (R*K, chunk) arrays. On the CPU a chunk
# of 2^19 elements (4 MiB in float64) keeps them in cache; on a GPU 2^25 elements amortise the ~8 kernel
# launches per chunk, while N=1e8 never holds an (R*K, N) array (128 MiB per float32 intermediate).
CHUNK_ELEMENTS = {"cpu": 2**19, "cuda": 2**25}
# The fewest points a chunk has, whatever R*K: it binds only past 512 restart-components (2^19 / 1024), where a
# chunk's work is already large against its few library calls. It was 4096: at R*K = 600 (the bootstrap's 200
# replicates of K = 3) that made (600, 4096) intermediates of 20 MB a thread, out of cache, and the E-step slower
# than in chunks of 1024 points (measured: docs/performance.md, 'The bootstrap').
MIN_CHUNK_ROWS = 1024
MIN_EVEN_ROWS = ONE_CHUNK_ROWS  # no chunk made smaller than this just to give every worker thread one
# The statistics' long, thin product (R*K, chunk) @ (chunk, P) is cut into segments of this many points,
# multiplied as one batch and the partial sums added in float64: on the CPU one long product is both slower
# and, in float32, less accurate (its long sums round more); on a GPU it is the largest kernel either way
# (bench/bench_em.py, bench/bench_gpu.py).
SEGMENT_ROWS = 4096


def chunk_rows(device: torch.device, n_columns: int) -> int:
    """Points per E-step chunk on this device, for (n_columns = R*K, chunk) intermediates."""
    elements = CHUNK_ELEMENTS.get(device.type, CHUNK_ELEMENTS["cuda"])
    return max(MIN_CHUNK_ROWS, elements // max(n_columns, 1))


def features_of(x: Tensor) -> Tensor | LazyFeatures:
    """The features of x (N, D) for the E-step: all of them (N, P) at D <= 2, else computed chunk by chunk."""
    d = x.shape[1]
    return quadratic_features(x) if n_features(d) <= 3 * d else LazyFeatures(x)


def cholesky(cov: Tensor) -> tuple[Tensor, Tensor]:
    """Lower Cholesky factors (..., D, D) of cov and a bool mask (...) of the matrices that failed: not positive
    definite, or singular by mclust's rule (SINGULAR)."""
    chol, info = torch.linalg.cholesky_ex(cov)
    low, high = torch.aminmax(torch.diagonal(chol, dim1=-2, dim2=-1).abs(), dim=-1)  # one call: both exact
    rc = low / (1.0 + high)
    return chol, (info != 0) | ~(rc > SINGULAR)  # ~(>): a NaN fails too


def log_joint_coefficients(log_weights: Tensor, means: Tensor, chol: Tensor) -> Tensor:
    """W (R, K, P) such that F @ W[r].T = log w_k + log N(x | mu_k, L_k L_k^T) for every point and k.

    log_weights (R, K); means (R, K, D); chol (R, K, D, D) lower Cholesky factors of the covariances.
    """
    d = means.shape[-1]
    _, _, flat, factors, _ = pair_tables(d)
    eye = torch.eye(d, dtype=chol.dtype, device=chol.device).expand_as(chol)
    chol_inv = torch.linalg.solve_triangular(chol, eye, upper=False)  # (R, K, D, D): D x D solves only
    precision = chol_inv.transpose(-1, -2) @ chol_inv
    b = (precision @ means.unsqueeze(-1)).squeeze(-1)  # (R, K, D) = A mu
    c = (b * means).sum(-1)  # mu^T A mu
    log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    const = log_weights - 0.5 * (c + log_det + d * math.log(2.0 * math.pi))
    quad = precision.flatten(-2)[..., flat.to(means.device)] * factors.to(precision)  # (R, K, P2)
    return torch.cat([const.unsqueeze(-1), b, quad], dim=-1)


def e_step_statistics(
    features: Tensor | LazyFeatures,
    coef: Tensor,
    chunk: int | None = None,
    segment: int | None = None,
    workers: int | None = None,
    weights: Tensor | None = None,
    check: Callable[[], None] | None = None,
) -> tuple[Tensor, Tensor]:
    """The E-step fused with the M-step's statistics, over chunks of points (features (N, P), or computed per
    chunk: see features_of). weights (N,): the points' frequency weights, S = (w r)^T @ F; or (R, N): one weight
    vector per row (the bootstrap's replicates); None: every point 1 (no multiply at all: the unweighted path stays
    as it was, bit for bit). check: called before each chunk (a fit's CancelToken.check: it raises Cancelled, so a
    long E-step stops within a chunk of a cancel).

    Returns S (R, K, P) = resp^T @ F accumulated in float64, and log p(x_n) (R, N) in the working dtype.
    Working chunk by chunk keeps the intermediates in cache (bench/bench_em.py) and never stores
    the (R, N, K) responsibilities; the float64 accumulation keeps float32 fits accurate.

    On the CPU the chunks run on `workers` threads (default: threads.chunk_workers()), see threads.ordered_sum;
    their statistics are added in the chunks' order whatever the thread count, so the result is the same bit
    for bit on one thread or many. chunk defaults by device, segment as in weighted_sums.
    """
    n, p = features.shape
    r, k, _ = coef.shape
    chunk = chunk or chunk_rows(features.device, r * k)
    lazy = isinstance(features, LazyFeatures)
    if lazy:  # each chunk's (chunk, P) features are made here: bound them too
        chunk = min(chunk, features.rows_per_chunk())
    coef_rows = coef.reshape(r * k, p)  # (R*K, P): row r*K + k is W[r, k]
    chunk, workers = _chunking(n, chunk, features.device, workers)
    log_norm = torch.empty(r, n, dtype=coef.dtype, device=features.device)

    def one_chunk(lo: int) -> Tensor:
        rows = slice(lo, lo + chunk)
        w = None if weights is None else weights[..., rows]
        if lazy:  # made transposed, F^T (P, c): faster to make and to multiply (see quadratic_features_t)
            return _chunk_statistics(features.transposed(rows), coef_rows, r, k, segment, log_norm[:, rows], True, w)
        return _chunk_statistics(features[rows], coef_rows, r, k, segment, log_norm[:, rows], weights=w)

    total = ordered_sum(checked(one_chunk, check), range(0, n, chunk), workers)
    return total.view(r, k, p), log_norm


def checked(fn: Callable[[int], Tensor], check: Callable[[], None] | None) -> Callable[[int], Tensor]:
    """fn itself without a check; else fn after check() (a CancelToken's: Cancelled stops the chunks there)."""
    if check is None:
        return fn

    def after_check(lo: int) -> Tensor:
        check()
        return fn(lo)

    return after_check


def _chunking(n: int, chunk: int, device: torch.device, workers: int | None) -> tuple[int, int]:
    """(rows per chunk, worker threads) for n points in chunks of at most `chunk` rows: equal chunks, at least
    one per worker (1e4 points in chunks of 7943 would leave one worker a quarter); one worker on a GPU, which
    runs one chunk's kernels at a time anyway."""
    if device.type != "cpu":
        workers = 1
    elif workers is None:
        workers = chunk_workers()
    n_chunks = max(-(-n // chunk), min(workers, -(-n // MIN_EVEN_ROWS)))
    return -(-n // n_chunks), workers


def _chunk_statistics(
    block: Tensor,
    coef_rows: Tensor,
    r: int,
    k: int,
    segment: int | None,
    log_norm: Tensor,
    points_last: bool = False,
    weights: Tensor | None = None,
) -> Tensor:
    """One chunk of the E-step: the statistics (R*K, P) float64 of the points whose features are block (c, P)
    (or (P, c) if points_last), for coefficients coef_rows (R*K, P); their log p(x) goes into log_norm (R, c).
    weights (c,) or (R, c): each point's responsibilities times its weight (per row) before the sums (None: as they
    are).

    The intermediates are laid out (R, K, c), points last: the log-sum-exp's max and sum over K then run along
    the outer axis, which vectorises on a CPU and coalesces on a GPU (faster than points first). One (R*K, c)
    buffer holds the log-joint, then the responsibilities, updated in place.
    """
    if points_last:  # block (P, c): the log-joint's short, wide product through NumPy's BLAS (see blas_matmul)
        resp = blas_matmul(coef_rows, block, scratch("resp", (coef_rows.shape[0], block.shape[1]), block))
        block = block.T
    else:
        resp = torch.matmul(coef_rows, block.T, out=thread_buffer("resp", (coef_rows.shape[0], block.shape[0]), block))
    normalise(resp.view(r, k, -1), log_norm, weights)  # (R*K, c): the log-joint, now the responsibilities
    return weighted_sums(resp, block, segment)


def normalise(log_joint: Tensor, log_norm: Tensor, weights: Tensor | None = None) -> None:
    """Turn the log-joint (R, K, c) into the responsibilities, in place, and write log p(x) = the log-sum-exp over
    K into log_norm (R, c). weights (c,) for every row, or (R, c) one vector a row (the bootstrap's replicates): the
    responsibilities times each point's weight, folded into the normalisation's one multiply (the K components of
    row r share its weights).

    On the CPU through NumPy on the same memory: a NumPy ufunc call costs a fraction of torch's, and with two
    E-step threads each call also passes the GIL, so fewer, cheaper calls make the E-step faster, in float64 and
    float32 (measured: docs/performance.md, 'The E-step's layout'). With weights the broadcast subtraction and
    multiply go through torch, whose broadcasts over (R, K, c) were faster there (docs/performance.md, 'The
    bootstrap'); the unweighted path stays as it was, bit for bit.
    """
    if log_joint.device.type == "cpu" and weights is None:
        joint, out = log_joint.numpy(), log_norm.numpy()
        top = joint.max(axis=1)  # (R, c)
        joint -= top[:, None]
        np.exp(joint, out=joint)
        total = joint.sum(axis=1)
        np.log(total, out=out)
        out += top
        joint *= np.reciprocal(total, out=total)[:, None]
        return
    top = log_joint.amax(dim=1)  # (R, c)
    torch.sub(log_joint, top.unsqueeze(1), out=log_joint)
    if log_joint.device.type == "cpu":  # NumPy's exp was the faster one here
        joint = log_joint.numpy()
        np.exp(joint, out=joint)
    else:
        log_joint.exp_()
    total = log_joint.sum(dim=1)  # (R, c)
    torch.add(top, torch.log(total), out=log_norm)
    scale = total.reciprocal_()
    if weights is not None:
        scale.mul_(weights)  # (c,) or (R, c), broadcast over the rows
    log_joint.mul_(scale.unsqueeze(1))


# From WHITENED_MIN_D dimensions, with at most D / 2 restart-components, the E-step works on whitened distances
# instead of quadratic features: ((x - mu) L^-T)^T for every component is one (R*K*D, 1 + D) x (1 + D, c) product,
# and the statistics one (1 + D, c) x (c, R*K*D) product. Both are dense products with long inner sums (near the
# BLAS's peak), where the features' products have only R*K rows; but they take about twice the features' flops,
# so more restart-components tip the balance back. The threshold and the D / 2 rule are where the measured
# crossover lay (docs/performance.md, 'The E-step's layout': features against whitened distances).
WHITENED_MIN_D = 11
WHITENED_ELEMENTS = 2**19  # a chunk's (R*K*D, c) buffer holds about this many numbers (4 MiB in float64)


def use_whitened(d: int, rows: int) -> bool:
    """Whether the E-step of D-dimensional points with `rows` = R*K restart-components uses whitened distances."""
    return d >= WHITENED_MIN_D and 2 * rows <= d


def whitened_statistics(
    x: Tensor,
    log_weights: Tensor,
    means: Tensor,
    chol: Tensor,
    workers: int | None = None,
    lifted: Tensor | None = None,
    weights: Tensor | None = None,
    check: Callable[[], None] | None = None,
) -> tuple[Tensor, Tensor]:
    """The same as e_step_statistics (S (R, K, P) float64 in the features' layout, log p(x_n) (R, N); weights (N,)
    or (R, N) and check as there) computed from whitened distances:
    log w + log N(x | mu, L L^T) = log w - 1/2 |L^-1 (x - mu)|^2 - log|L| - D/2 log 2pi.

    x (N, D); log_weights (R, K); means (R, K, D); chol (R, K, D, D) lower Cholesky factors; lifted: x's lifted
    layout [1; x^T] (1 + D, N) if it has one (lifted_of), whose chunks are then read in place.

    Each chunk's points get a leading 1 and are laid out transposed, z = [1; x^T] (1 + D, c): one product
    [-mu L^-T; L^-T]^T @ z gives every component's ((x - mu) L^-T)^T (M*D, c), and one product z @ (r x^T)^T gives
    sum r x (its first row) and sum r x x^T. With the points last, the sum over D and the products r x run along
    contiguous rows, which was faster than points first (measured: docs/performance.md, 'The E-step's layout').
    """
    n, d = x.shape
    r, k, _ = means.shape
    m = r * k
    eye = torch.eye(d, dtype=chol.dtype, device=chol.device).expand_as(chol)
    chol_inv_t = torch.linalg.solve_triangular(chol, eye, upper=False).transpose(-1, -2)  # L^-T (R, K, D, D)
    proj = chol_inv_t.reshape(m, d, d).permute(1, 0, 2).reshape(d, m * d)  # x @ proj: every component's x L^-T
    shift = (means.unsqueeze(-2) @ chol_inv_t).reshape(1, m * d)  # mu L^-T
    whiten = torch.cat([-shift, proj]).T.contiguous().to(x)  # (M*D, 1 + D): [-mu L^-T; L^-T]^T
    log_det = torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    const = (log_weights - log_det - 0.5 * d * math.log(2.0 * math.pi)).reshape(m, 1).to(x)
    chunk, workers = _chunking(n, max(256, WHITENED_ELEMENTS // (m * d)), x.device, workers)
    log_norm = torch.empty(r, n, dtype=x.dtype, device=x.device)

    def one_chunk(lo: int) -> Tensor:
        if lifted is not None:
            z = lifted[:, lo : lo + chunk]
            c = z.shape[1]
        else:
            block = x[lo : lo + chunk]
            c = block.shape[0]
            z = scratch("lifted", (1 + d, c), x)
            z[0] = 1.0
            copy_transposed(z[1:], block)
        y = blas_matmul(whiten, z, scratch("whitened", (m * d, c), x))  # ((x - mu) L^-T)^T for every component
        y.square_()
        resp = y.view(m, d, c).sum(1).mul_(-0.5).add_(const)  # (M, c): the log-joint
        w = None if weights is None else weights[..., lo : lo + c]
        normalise(resp.view(r, k, c), log_norm[:, lo : lo + c], w)  # resp (M, c) now holds the responsibilities
        torch.mul(resp.view(m, 1, c), z[1:].unsqueeze(0), out=y.view(m, d, c))  # r x^T, in y's memory
        moments = blas_matmul(z, y.T, scratch("moments", (1 + d, m * d), x))  # [sum r x; sum r x x^T]
        return torch.cat([resp.sum(1), moments.flatten()]).double()

    total = ordered_sum(checked(one_chunk, check), range(0, n, chunk), workers)
    moments = total[m:].view(1 + d, m, d).transpose(0, 1)  # (M, 1 + D, D): row 0 sum r x, then sum r x x^T
    upper = pair_tables(d)[2].to(x.device)
    second = moments[:, 1:].reshape(m, d * d)[:, upper]
    return torch.cat([total[:m, None], moments[:, 0], second], dim=1).view(r, k, -1), log_norm


def blas_matmul(a: Tensor, b: Tensor, out: Tensor) -> Tensor:
    """a (n, p) @ b (p, q) into out (n, q). On the CPU through NumPy's BLAS (OpenBLAS in NumPy's wheels): for the
    whitened E-step's shapes and for the features' log-joint, (K, P) @ (P, c), it was faster than torch's MKL.
    Not for the statistics' product (K, c) @ (c, P): OpenBLAS was no faster there, and two chunk threads calling
    it scaled worse (measured: docs/performance.md, 'The E-step's layout': NumPy's BLAS against torch's)."""
    if a.device.type != "cpu":
        return torch.matmul(a, b, out=out)
    # A padded component's log weight is -inf (model selection's batches): OpenBLAS multiplies it by the zeros that
    # pad its tiles, and the NaN of those discarded lanes raised NumPy's "invalid value" warning; the product itself
    # holds -inf there, as it should (tests/engine/test_em_vs_sklearn.py).
    with np.errstate(invalid="ignore"):
        np.matmul(a.numpy(), b.numpy(), out=out.numpy())
    return out


def weighted_sums(resp: Tensor, block: Tensor, segment: int | None = None) -> Tensor:
    """resp (M, c) @ block (c, P) -> (M, P) float64, the c points cut into segments of `segment` rows
    (default SEGMENT_ROWS) multiplied as one batch, their sums added in float64."""
    segment = segment or SEGMENT_ROWS
    c = block.shape[0]
    n_seg = c // segment
    if n_seg < 2:
        return (resp @ block).double()
    head = n_seg * segment
    parts = torch.bmm(
        resp[:, :head].view(resp.shape[0], n_seg, segment).transpose(0, 1),
        block[:head].view(n_seg, segment, block.shape[1]),
    )  # (n_seg, M, P)
    return parts.sum(0, dtype=torch.float64) + (resp[:, head:] @ block[head:]).double()


def sufficient_statistics(features: Tensor | LazyFeatures, resp: Tensor) -> Tensor:
    """S (R, K, P) = resp^T @ F: [N_k, sum_n r x, sum_n r x_i x_j], for resp (R, N, K); features computed per
    chunk of points are summed chunk by chunk."""
    if not isinstance(features, LazyFeatures):
        return resp.transpose(-1, -2) @ features
    n, p = features.shape
    chunk = features.rows_per_chunk()
    total = None
    for lo in range(0, n, chunk):
        part = resp[:, lo : lo + chunk].transpose(-1, -2) @ features[lo : lo + chunk]
        total = part if total is None else total.add_(part)
    return total


def symmetric_from_pairs(pairs: Tensor, d: int) -> Tensor:
    """Symmetric (..., D, D) matrices from their upper-triangle entries (..., D(D+1)/2)."""
    pair_of = pair_tables(d)[4].to(pairs.device)
    return pairs[..., pair_of].unflatten(-1, (d, d))


def m_step(
    stats: Tensor,
    n_samples: int,
    covariance_type: str,
    reg: Tensor,
    previous: Tensor | None = None,
    prior: Prior | None = None,
    pins: Pins | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Weighted maximum likelihood from S (R, K, P): closed forms, or the covariance type's inner loop started from
    previous (R, K, D, D), the covariances before this step (None: the type's own start).

    reg (D,) (reg_covar, per axis in the working units) is added to the covariance diagonal, or, for the types with
    floor_in_scatter, to each component's scatter matrix per point (W_k + n_k diag(reg)) before the type's fit (see
    CovarianceType.floor_in_scatter). Returns weights (R, K), means (R, K, D), covariances (R, K, D, D) as full
    matrices.

    With a prior (in the working units): mclust's MAP M-step of the type's model (prior_mstep.py); reg is not
    added, as mclust adds none: the prior keeps the covariances off the degenerate boundary.

    pins: the pinned weights, means and covariances (pinned.py's constrained M-step; never with a prior).
    """
    d = reg.shape[0]
    eps = NK_EPS_FACTOR * torch.finfo(stats.dtype).eps
    nk = stats[..., 0] + eps
    means = stats[..., 1 : 1 + d] / nk.unsqueeze(-1)
    second = symmetric_from_pairs(stats[..., 1 + d :], d)  # sum_n r x x^T  (R, K, D, D)
    weights = nk / nk.sum(-1, keepdim=True)
    if prior is not None:
        model = COVARIANCE_TYPES[covariance_type].model
        means, cov = map_mstep(model, nk, means, scatter_from_moments(second, nk, means), prior)
        return weights, means, cov
    if pins is not None:
        return _pinned_m_step(stats, nk, means, second, covariance_type, reg, previous, pins)
    outer = means.unsqueeze(-1) * means.unsqueeze(-2)
    return weights, means, _covariances(second, nk, outer, covariance_type, reg, previous)


def _covariances(
    second: Tensor, nk: Tensor, outer: Tensor, covariance_type: str, reg: Tensor, previous: Tensor | None
) -> Tensor:
    """The covariance type's update (R, K, D, D) with reg (D,) added (see m_step) from second (R, K, D, D), nk (R, K)
    and outer = mu mu^T (R, K, D, D)."""
    cov_type = COVARIANCE_TYPES[covariance_type]
    floor = torch.diag(reg.to(second.dtype))
    if cov_type.floor_in_scatter:
        second = second + nk[..., None, None] * floor
    cov = cov_type.update(second, nk, outer, previous)
    if not cov_type.floor_in_scatter:
        cov = cov + floor
    return cov


def _pinned_m_step(
    stats: Tensor,
    nk: Tensor,
    means: Tensor,
    second: Tensor,
    covariance_type: str,
    reg: Tensor,
    previous: Tensor | None,
    pins: Pins,
) -> tuple[Tensor, Tensor, Tensor]:
    """m_step with pinned parameters (pinned.py): the free weights the Lagrange solution, the covariance of a
    component with a pinned mean fitted about it, pinned covariances kept (not updated at all when every one is)."""
    d = means.shape[-1]
    weights = pins.weights_from(nk)
    means, second, outer = pins.centred(means, second, stats[..., 1 : 1 + d], nk)
    cov = None if pins.all_covariances else _covariances(second, nk, outer, covariance_type, reg, previous)
    return weights, means, pins.covariances_from(cov, second)
