"""The E-step over points sorted by missingness pattern (missing values, issue 25; MissingPoints): one fused chunked
pass over all rows, each pattern a run of rows with its own padded parameters (model/pattern_algebra.py), its sums kept
apart. The chunks are the complete fit's, cut at the patterns' starts: per chunk the log-joint is one product per
pattern in it, the log-sum-exp one pass, the sums one product per pattern; from quadratic features
(patterned_statistics) or, where the complete fit takes them, whitened distances (patterned_whitened)."""

from __future__ import annotations

import bisect
from collections.abc import Callable

import numpy as np
import torch

from ..runtime.threads import ordered_sum
from . import gaussian
from .features import LazyFeatures, pair_tables, scratch


class PatternSums:
    """Statistics per pattern, (n, RK, P) float64 (one (RK, P) a pattern), of consecutive patterns from `first` on: a
    chunk's, then the running total's (ordered_sum adds them in the chunks' order, so each pattern's sum has the same
    bits on any number of threads)."""

    def __init__(self, first: int, parts: torch.Tensor) -> None:
        self.first, self.parts = first, parts

    def add_(self, other: PatternSums) -> PatternSums:
        """Add a later chunk's sums (its patterns start at or after this one's last) in place."""
        at = other.first - self.first
        shared = max(0, min(len(self.parts) - at, len(other.parts)))
        self.parts[at : at + shared].add_(other.parts[:shared])
        if shared < len(other.parts):
            self.parts = torch.cat([self.parts, other.parts[shared:]])
        return self


def patterned_statistics(
    features: torch.Tensor | LazyFeatures,
    coef: torch.Tensor,
    starts: list[int],
    weights: torch.Tensor | None = None,
    workers: int | None = None,
    check: Callable[[], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """gaussian.e_step_statistics over points sorted by pattern (pattern p's rows starts[p]:starts[p + 1]), each
    pattern with its own coefficients coef (n_pat, R, K, P) (PatternAlgebra.coefficients) and its own sums. features:
    those of the points with their missing coordinates at 0 (N, P) or made per chunk; weights (N,), (R, N) one
    vector a row (the bootstrap's replicates), or None; check: called before each chunk (a fit's CancelToken.check,
    as in gaussian.e_step_statistics: errors.Cancelled stops the E-step there).

    The chunks are the complete fit's, cut at the patterns' starts: the log-joint is one product per pattern in a
    chunk, the log-sum-exp one pass over the chunk, the sums one product per pattern in it. Returns each pattern's
    statistics (n_pat, R, K, P) float64 and log p(x_o) + offset (R, N) in the features' dtype."""
    n, p = features.shape
    n_pat, r, k, _ = coef.shape
    lazy = isinstance(features, LazyFeatures)
    chunk = gaussian.chunk_rows(features.device, r * k)
    chunk = min(chunk, features.rows_per_chunk()) if lazy else chunk
    chunk, workers = gaussian._chunking(n, chunk, features.device, workers)
    coef_rows = coef.reshape(n_pat, r * k, p)
    log_norm = torch.empty(r, n, dtype=coef.dtype, device=features.device)
    bounds = [int(b) for b in starts]  # Python ints: _cuts' few comparisons per pattern cost NumPy's scalars tenfold

    def one_chunk(lo: int) -> PatternSums:
        hi = min(lo + chunk, n)
        block = features.transposed(slice(lo, hi)) if lazy else features[lo:hi].T  # F^T (P, c)
        resp = scratch("resp", (r * k, hi - lo), block)
        first, cuts = _cuts(bounds, lo, hi)
        _log_joint(coef_rows[first : first + len(cuts)], block, resp, cuts)
        w = None if weights is None else weights[..., lo:hi]
        gaussian.normalise(resp.view(r, k, -1), log_norm[:, lo:hi], w)  # now the (weighted) responsibilities
        return PatternSums(first, _segment_sums(resp, block, cuts))

    total = ordered_sum(gaussian.checked(one_chunk, check), range(0, n, chunk), workers)
    return total.parts.view(n_pat, r, k, p), log_norm


def _log_joint(coef: torch.Tensor, block: torch.Tensor, out: torch.Tensor, cuts: list[tuple[int, int]]) -> None:
    """out[:, a:b] (RK, c) = coef[j] (RK, P) @ block[:, a:b] for each pattern j's columns (a, b) of a chunk's
    features block (P, c). On the CPU through NumPy's BLAS, as gaussian.blas_matmul, with one conversion and one
    error state per chunk rather than per pattern (each a few microseconds, times tens of patterns per chunk)."""
    if block.device.type != "cpu":
        for w, (a, b) in zip(coef, cuts, strict=True):
            out[:, a:b] = w @ block[:, a:b]
        return
    w_np, f_np, out_np = coef.numpy(), block.numpy(), out.numpy()
    with np.errstate(invalid="ignore"):  # a padded component's -inf log weight (see gaussian.blas_matmul)
        for w, (a, b) in zip(w_np, cuts, strict=True):
            np.matmul(w, f_np[:, a:b], out=out_np[:, a:b])


def _segment_sums(resp: torch.Tensor, block: torch.Tensor, cuts: list[tuple[int, int]]) -> torch.Tensor:
    """Each pattern's statistics (len(cuts), RK, P) float64 = resp[:, a:b] @ block[:, a:b]^T for its columns (a, b) of
    a chunk: gaussian.weighted_sums (segments multiplied as a batch, summed in float64) for a long run of rows; on the
    CPU one NumPy product for a short one (under one of its segments: faster than torch's product there, and without
    its per-call cost, which tens of small patterns per chunk add up; slower on longer runs: docs/performance.md,
    'Missing values'), written in place into one array (one conversion per chunk, not per pattern)."""
    short = gaussian.SEGMENT_ROWS
    if block.device.type != "cpu":
        return torch.stack([gaussian.weighted_sums(resp[:, a:b], block.T[a:b]) for a, b in cuts])
    r_np, f_np = resp.numpy(), block.numpy()
    # zeros, not empty: the long runs' entries are cast to float64 before they are written, and what memory held
    # there (a signalling NaN) made float32's cast warn ('invalid value encountered in cast')
    out = np.zeros((len(cuts), r_np.shape[0], f_np.shape[0]), dtype=r_np.dtype)
    for q, (a, b) in enumerate(cuts):
        if b - a < short:
            np.matmul(r_np[:, a:b], f_np[:, a:b].T, out=out[q])
    sums = torch.from_numpy(out.astype(np.float64, copy=False))
    for q, (a, b) in enumerate(cuts):
        if b - a >= short:
            sums[q] = gaussian.weighted_sums(resp[:, a:b], block.T[a:b])
    return sums


def patterned_whitened(
    z: torch.Tensor,
    inverse: np.ndarray,
    means: np.ndarray,
    const: np.ndarray,
    starts: list[int],
    weights: torch.Tensor | None = None,
    workers: int | None = None,
    check: Callable[[], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """patterned_statistics from whitened distances (gaussian.whitened_statistics, where the complete fit takes them:
    gaussian.use_whitened), on the CPU: the points sorted by pattern with their missing coordinates at 0 in the
    lifted layout z = [1; x^T] (1 + D, N); each pattern's padded L^-1 (n_pat, R, K, D, D) and means at 0 on its
    missing coordinates (n_pat, R, K, D) (a missing coordinate's whitened value is then 0), and constants
    (n_pat, R, K) (PatternAlgebra.whitened); weights and check as there. Returns the same as
    patterned_statistics."""
    d, n = z.shape[0] - 1, z.shape[1]
    n_pat, r, k = const.shape
    m = r * k
    inv_t = inverse.swapaxes(-1, -2)  # L^-T
    proj = inv_t.reshape(n_pat, m, d, d).transpose(0, 2, 1, 3).reshape(n_pat, d, m * d)  # x @ proj: x L^-T
    shift = (means[..., None, :] @ inv_t).reshape(n_pat, 1, m * d)  # mu L^-T
    whiten = np.ascontiguousarray(np.concatenate([-shift, proj], axis=1).swapaxes(1, 2)).astype(z.numpy().dtype)
    offsets = torch.from_numpy(const.reshape(n_pat, m, 1)).to(z.dtype)
    chunk, workers = gaussian._chunking(n, max(256, gaussian.WHITENED_ELEMENTS // (m * d)), z.device, workers)
    log_norm = torch.empty(r, n, dtype=z.dtype)
    bounds = [int(b) for b in starts]  # Python ints: _cuts' few comparisons per pattern cost NumPy's scalars tenfold

    def one_chunk(lo: int) -> PatternSums:
        hi = min(lo + chunk, n)
        block, c = z[:, lo:hi], hi - lo
        y = scratch("whitened", (m * d, c), z)
        first, cuts = _cuts(bounds, lo, hi)
        _log_joint(torch.from_numpy(whiten[first : first + len(cuts)]), block, y, cuts)  # ((x - mu) L^-T)^T
        resp = y.square_().view(m, d, c).sum(1).mul_(-0.5)  # (M, c)
        for q, (a, b) in enumerate(cuts, start=first):
            resp[:, a:b] += offsets[q]
        w = None if weights is None else weights[..., lo:hi]
        gaussian.normalise(resp.view(r, k, c), log_norm[:, lo:hi], w)  # now the (weighted) responsibilities
        torch.mul(resp.view(m, 1, c), block[1:].unsqueeze(0), out=y.view(m, d, c))  # r x^T, in y's memory
        z_np, y_np = block.numpy(), y.numpy()
        parts = [
            np.concatenate([resp[:, a:b].sum(1).numpy(), (z_np[:, a:b] @ y_np[:, a:b].T).ravel()]) for a, b in cuts
        ]
        return PatternSums(first, torch.from_numpy(np.stack(parts).astype(np.float64, copy=False)))

    chunks = gaussian.checked(one_chunk, check)
    total = ordered_sum(chunks, range(0, n, chunk), workers).parts  # (n_pat, M + (1 + D) M D)
    moments = total[:, m:].view(n_pat, 1 + d, m, d).transpose(1, 2)  # row 0 sum r x, then sum r x x^T
    second = moments[:, :, 1:].reshape(n_pat, m, d * d)[..., pair_tables(d)[2]]
    return torch.cat([total[:, :m, None], moments[:, :, 0], second], dim=-1).view(n_pat, r, k, -1), log_norm


def _cuts(bounds: list[int], lo: int, hi: int) -> tuple[int, list[tuple[int, int]]]:
    """The first pattern with rows in lo:hi (pattern q's rows bounds[q]:bounds[q + 1]) and each such pattern's
    columns (a, b) of the chunk, in order."""
    first = bisect.bisect_right(bounds, lo) - 1
    last = bisect.bisect_left(bounds, hi)
    return first, [(max(bounds[q], lo) - lo, min(bounds[q + 1], hi) - lo) for q in range(first, last)]
