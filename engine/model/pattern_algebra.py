"""The algebra of every missingness pattern under every restart-component, once per E-step (missing values, issue
25; MissingPoints): the log-joint coefficients of each pattern's observed coordinates before the fused E-step, the
completed sums after it.

For a pattern (observed coordinates o, missing m) and a component (mean mu, covariance S), padded to D: with S_oo
padded by the identity on (m, m) (no coupling to o) and the mean at 0 on m, as the points' missing coordinates, a
point's quadratic form and log-determinant are those of its observed coordinates; only the normal's D/2 log 2pi is
too large by (D - q)/2 log 2pi, which goes into the constant. So every row costs what a complete row costs, and a
pattern is a slice of a chunk (model/patterned.py). Here, for all patterns and components at once:
  Sp = L L^T (one batched Cholesky factorisation), X = L^-1 R (one batched triangular solve) with
  R = [-mu_o | Y] (D, D + 1), mu_o the mean at 0 on m, Y's column j e_j for j in o and S's column j with its rows m
  at 0 for j in m (L^-1 of the others, e_j on m and S's columns o, is known: the identity and L^T);
  X^T X = [[ z,     -b^T,  -t^T ],     z = mu_o^T Q mu_o,  b = Q mu_o,  Q = S_oo^-1,  t = B mu_o,
           [ -b,     Q,     B^T  ],     B = S_mo S_oo^-1,  V = S_mo S_oo^-1 S_om,
           [ -t,     B,     V    ]]     (rows and columns 1.. in the coordinates' order, o and m interleaved)
(one batched product). The log-joint's coefficients are entries of it (one take) with log|L| and the pattern's
constants; those of a missing coordinate are not 0 (t, B, V) but multiply features that are (the points' missing
coordinates are 0), and so are whitened's columns m of L^-1. The conditional mean is affine in x_o: with the
missing coordinates at 0 the completed point is c + G x, c = mu_m - t on m (0 on o), G = I on (o, o) and B on (m, o)
(0 elsewhere), so a pattern's completed sums are A T A^T, A = [[1, 0], [c, G]] (A's rows 1.., held transposed, made
from X^T X's columns 1.. by a mask, the identity on (o, o) and mu on m added) and T = [[n, s1^T], [s1, S2]] its
observed sums, plus n (S_mm - V) on (m, m): two batched products and one contraction over the patterns. Before, R
was [-mu_o | I | E] (D, 2D + 1) and X^T X twice as wide, A read off it (docs/performance.md, 'Missing values').

All patterns at once in arrays (n_pat, M K, ...) kept from one E-step to the next: some 30 operations in all, each
on every pattern (before, some 60 on blocks of patterns, each with fresh temporaries: docs/performance.md,
'Missing values'). Only where X^T X would hold more than BLOCK_NUMBERS numbers are the patterns taken in blocks,
each solved once for the coefficients and once more for the completed sums, so that memory stays bounded.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
import torch

from .features import pair_tables

# the most numbers X^T X holds at once (8 MiB): more patterns than that (times restart-components) are taken in blocks,
# each solved for the coefficients and again for the completed sums, so that memory stays bounded
BLOCK_NUMBERS = 2**20


class PatternAlgebra:
    """The algebra of the patterns observed (n_pat, D) bool (True: observed), with offsets (n_pat,) (each pattern's
    Pattern.offset), for parameters of M restart rows of K components; its arrays are made at the first E-step
    for a number of restart-components and kept while that number lasts. Per E-step: prepare, then coefficients or
    whitened, then completed (again for other sums at the same parameters: a pass's chunks, kept_patterns.py)."""

    def __init__(self, observed: np.ndarray, offsets: np.ndarray) -> None:
        n, d = observed.shape
        o = observed.astype(np.float64)
        mis = 1.0 - o
        self.n_patterns, self.d, self.width = n, d, d + 1
        self.observed = observed
        self._o = o[:, None, :]  # (n_pat, 1, D): broadcast against (n_pat, M K, D)
        self._mis = mis[:, None, :]
        self._oo = (observed[:, :, None] & observed[:, None, :])[:, None]  # (n_pat, 1, D, D): True on (o, o)
        self._eye_mis = (np.eye(d) * mis[:, None, :])[:, None]  # the identity on (m, m)
        om = o[:, :, None] * mis[:, None, :]  # 1 on (o, m) (n_pat, D, D)
        eye_obs = np.eye(d) * o[:, None, :]  # the identity on (o, o)
        # R = [-mu | S] * mask + [0 | I_oo] = [-mu_o | Y] (n_pat, M K, D, D + 1): a product and a sum
        self._mask = np.concatenate([o[:, :, None], om], 2)[:, None]
        self._r_add = np.concatenate([np.zeros((n, d, 1)), eye_obs], 2)[:, None]
        # A's rows 1.. transposed, (D + 1, D): X^T X's columns 1.. times [m; (o, m)], plus [0; I_oo], plus mu on m
        self._a_mask = np.concatenate([mis[:, None, :], om], 1)[:, None]
        self._a_add = np.concatenate([np.zeros((n, 1, d)), eye_obs], 1)[:, None]
        self._mis_mis = mis[:, :, None] * mis[:, None, :]  # 1 on (m, m) (n_pat, D, D)
        # each pattern's constant: - q/2 log 2pi + offset (n_pat, 1)
        self._base = (offsets - 0.5 * o.sum(1) * math.log(2.0 * math.pi))[:, None]
        self._tables = _tables(d)
        self._mk = -1

    def prepare(self, log_weights: np.ndarray, means: np.ndarray, cov: np.ndarray) -> None:
        """This E-step's parameters: log-weights (M, K), means (M, K, D), covariances (M, K, D, D) float64; the
        algebra of all patterns when they fit in one block."""
        m, k, d = means.shape
        self.shape = (m, k)
        self._allocate(m * k)
        self._lw = log_weights.reshape(1, m * k)
        self.mu = means.reshape(1, m * k, d)
        self._cov = cov.reshape(1, m * k, d, d)
        self._ext = np.concatenate([-self.mu[..., None], self._cov], -1)  # [-mu | S] (1, M K, D, D + 1)
        self._solved = None
        if len(self._blocks) == 1:
            self._solve(self._blocks[0])

    def coefficients(self) -> np.ndarray:
        """W (n_pat, M, K, P) float64: each pattern's log-joint coefficients (as gaussian.log_joint_coefficients)
        for its points with the missing coordinates at 0, so that F(x) @ W = log w_k + log N(x_o | mu_o, S_oo) +
        offset. Kept until the next prepare."""
        at, factors = self._tables[:2]
        for b in self._blocks:
            xtx = self._solve(b)
            np.take(xtx.reshape(*xtx.shape[:2], -1), at, axis=-1, out=self._coef[b], mode="clip")
        self._coef *= factors
        self._coef[..., 0] += self._constants
        return self._coef.reshape(self.n_patterns, *self.shape, -1)

    def whitened(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the whitened E-step takes (model/patterned.patterned_whitened): each pattern's L_oo^-1 padded with
        the identity (n_pat, M, K, D, D), the means at 0 on its missing coordinates (n_pat, M, K, D) and the
        log-joint's constants without the quadratic form (n_pat, M, K)."""
        n, d = self.n_patterns, self.d
        if len(self._blocks) == 1:
            inverse = self._views(n).x[..., 1 : 1 + d]
        else:
            inverse = np.empty((n, self._mk, d, d))
            for b in self._blocks:
                self._solve(b)
                inverse[b] = self._views(b.stop - b.start).x[..., 1 : 1 + d]
        means = (self.mu * self._o).reshape(n, *self.shape, d)
        return inverse.reshape(n, *self.shape, d, d), means, self._constants.reshape(n, *self.shape)

    def completed(self, stats: np.ndarray) -> torch.Tensor:
        """The E-step's statistics (M, K, P) float64 over all D coordinates, summed over the patterns, from each
        pattern's (n_pat, M, K, P) float64 [sum r, sum r x, sum r x x^T] of its points with the missing coordinates
        at 0 (see the module's docstring)."""
        d = self.d
        st = stats.reshape(self.n_patterns, -1, stats.shape[-1])
        total = np.zeros((self._mk, stats.shape[-1]))
        low = np.zeros((self._mk, d, d))
        for b in self._blocks:
            self._completed_block(b, st[b], total, low)
        low += self._cov[0] * (st[..., 0].T @ self._mis_mis.reshape(-1, d * d)).reshape(-1, d, d)  # sum_p n_p S_mm
        total[:, 1 + d :] += low.reshape(-1, d * d)[:, self._tables[3]]
        return torch.from_numpy(total.reshape(*self.shape, -1))

    def _completed_block(self, block: slice, st: np.ndarray, total: np.ndarray, low: np.ndarray) -> None:
        """Add the completed sums of a block of patterns, their statistics st (b, M K, P), into total (M K, P)
        (its counts and first moments) and low (M K, D, D) (the second moments, without sum_p n_p S_mm)."""
        d, nb = self.d, block.stop - block.start
        xtx = self._solve(block)
        counts = st[..., 0]  # (b, M K)
        v = self._views(nb)
        square, half, product, weights, a_t = v.square, v.half, v.low, v.weights, v.a_t
        np.take(st, self._tables[2], axis=-1, out=square.reshape(*square.shape[:2], -1), mode="clip")
        # A's rows 1.. transposed: [c | G]^T = [-t + mu on m | I_oo + B on (m, o)]^T, from X^T X's columns 1.. (left
        # as they are: a pass's chunks complete their sums from one solve)
        np.multiply(xtx[..., 1:], self._a_mask[block], out=a_t)
        np.add(a_t, self._a_add[block], out=a_t)
        np.multiply(self.mu, self._mis[block], out=v.mu_m)
        a_t[..., 0, :] += v.mu_m
        np.matmul(square, a_t, out=half)  # T A^T's columns 1:
        np.matmul(a_t.swapaxes(-1, -2), half, out=product)  # (A T A^T)[1:, 1:]
        low += product.sum(0)
        # the conditional covariances' sum: - sum_p n_p V on (m, m) here, + sum_p n_p S_mm in completed
        np.multiply(counts[..., None, None], self._mis_mis[block, None], out=weights)
        low -= np.einsum("pkij,pkij->kij", weights, xtx[..., 1:, 1:])
        total[:, 0] += counts.sum(0)
        total[:, 1 : 1 + d] += half[..., 0, :].sum(0)

    def _solve(self, block: slice) -> np.ndarray:
        """X^T X (b, M K, D + 1, D + 1) of a block of patterns, and their log-joint constants, unless its arrays
        hold them already."""
        if self._solved == (block.start, block.stop):
            return self._views(block.stop - block.start).xtx
        v = self._views(block.stop - block.start)
        sp, chol, x = v.sp, v.chol, v.x
        if self._sp_for != (block.start, block.stop):  # Sp's entries off (o, o): the identity on (m, m), 0 between
            np.copyto(sp, self._eye_mis[block])
            self._sp_for = (block.start, block.stop)
        np.copyto(sp, self._cov, where=self._oo[block])
        np.multiply(self._ext, self._mask[block], out=v.r)
        np.add(v.r, self._r_add[block], out=v.r)
        # a block of a positive definite S is positive definite: cholesky_ex skips torch's check (a synchronisation)
        torch.linalg.cholesky_ex(v.sp_t, out=(v.chol_t, v.info))
        torch.linalg.solve_triangular(v.chol_t, v.r_t, upper=False, out=v.x_t)
        xt, xtx = v.xt, v.xtx
        np.copyto(xt, x.swapaxes(-1, -2))  # NumPy multiplies a transposed stack in its own slow loop
        np.matmul(xt, x, out=xtx)
        half_log_det = np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)  # log|L_oo| (b, M K)
        self._constants[block] = (self._lw - half_log_det) + self._base[block]
        self._solved = (block.start, block.stop)
        return xtx

    def _views(self, nb: int) -> _Views:
        """The arrays' first nb patterns (a block's; the last block may be shorter), made once per size: views
        cost a microsecond or two each, against operations of a few microseconds at small D."""
        if nb not in self._made:
            t = [a[:nb] for a in (self._sp_t, self._chol_t, self._r_t, self._x_t)]
            n = [a.numpy() for a in t]
            rest = (self._info, self._xt, self._xtx, self._square, self._half, self._low, self._weights, self._a_t)
            rest += (self._mu_m,)
            more = [a[:nb] for a in rest]
            self._made[nb] = _Views(*t, *n, *more)
        return self._made[nb]

    def _allocate(self, mk: int) -> None:
        """The arrays of an E-step of mk restart-components, for a block of patterns: made when mk changes, then
        reused (fresh arrays of this size are mapped and paged in every call: docs/performance.md, 'Missing
        values')."""
        if mk == self._mk:
            return
        n, d, w = self.n_patterns, self.d, self.width
        step = max(1, min(n, BLOCK_NUMBERS // (mk * w * w)))
        self._blocks = [slice(lo, min(lo + step, n)) for lo in range(0, n, step)]
        self._mk, self._sp_for, self._made = mk, None, {}
        self._sp_t = torch.empty(step, mk, d, d, dtype=torch.float64)
        self._chol_t = torch.empty(step, mk, d, d, dtype=torch.float64)
        self._info = torch.empty(step, mk, dtype=torch.int32)
        self._r_t = torch.empty(step, mk, d, w, dtype=torch.float64)
        self._x_t = torch.empty(step, mk, d, w, dtype=torch.float64)
        # arrays that outlive their use share memory with later ones: fewer bytes for the caches to hold
        self._xt = self._r_t.numpy().reshape(step, mk, w, d)  # R, once solved
        self._xtx = np.empty((step, mk, w, w))
        self._square = np.empty((step, mk, d + 1, d + 1))
        self._half = np.empty((step, mk, d + 1, d))
        self._low = self._chol_t.numpy()  # L, once its log-determinants are taken
        self._weights = np.empty((step, mk, d, d))
        self._a_t = np.empty((step, mk, w, d))
        self._mu_m = np.empty((step, mk, d))
        self._coef = np.empty((n, mk, len(self._tables[0])))  # every pattern's: the fused E-step takes them all
        self._constants = np.empty((n, mk))


def numbers_per_pair(d: int) -> int:
    """How many float64 numbers PatternAlgebra's arrays hold per (pattern, restart-component) at D (_allocate's:
    Sp, L, R and X, X^T X, T, T A^T, A, the weights, mu on m, the coefficients and constants)."""
    w = d + 1
    return 3 * d * d + 4 * d * w + 2 * w * w + d + 1 + len(_tables(d)[1])


class _Views(NamedTuple):
    """PatternAlgebra's arrays for a block of patterns (PatternAlgebra._views)."""

    sp_t: torch.Tensor
    chol_t: torch.Tensor
    r_t: torch.Tensor
    x_t: torch.Tensor
    sp: np.ndarray
    chol: np.ndarray
    r: np.ndarray
    x: np.ndarray
    info: torch.Tensor
    xt: np.ndarray
    xtx: np.ndarray
    square: np.ndarray
    half: np.ndarray
    low: np.ndarray
    weights: np.ndarray
    a_t: np.ndarray
    mu_m: np.ndarray


@functools.lru_cache(maxsize=16)
def _tables(d: int) -> tuple[np.ndarray, ...]:
    """For D: where each log-joint coefficient is in X^T X (flattened (D + 1)^2) and its factor (P,); where each
    entry of T ((D + 1)^2, flattened) is in the statistics (P,); and each pair's place in a flattened D x D (P2,)."""
    i, j, flat, factors, pair_of = (t.numpy() for t in pair_tables(d))
    w = d + 1
    lin = np.arange(d)
    at = np.concatenate([[0], (1 + lin) * w, (1 + i) * w + 1 + j])
    coef_factors = np.concatenate([[-0.5], -np.ones(d), factors])
    to_square = np.empty((d + 1, d + 1), dtype=np.int64)
    to_square[0, 0] = 0
    to_square[0, 1:] = to_square[1:, 0] = 1 + lin
    to_square[1:, 1:] = 1 + d + pair_of.reshape(d, d)
    tables = (at, coef_factors, to_square.ravel(), flat)
    for t in tables:
        t.flags.writeable = False  # made once and shared (lru_cache): a chunk read by passes makes an algebra each
    return tables
