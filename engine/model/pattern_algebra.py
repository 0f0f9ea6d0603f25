"""The algebra of every missingness pattern under every restart-component, once per E-step (missing values, issue
25; MissingPoints): the log-joint coefficients of each pattern's observed coordinates before the fused E-step, the
completed sums after it.

For a pattern (observed coordinates o, missing m) and a component (mean mu, covariance S), padded to D: with S_oo
padded by the identity on (m, m) (no coupling to o) and the mean at 0 on m, as the points' missing coordinates, a
point's quadratic form and log-determinant are those of its observed coordinates; only the normal's D/2 log 2pi is
too large by (D - q)/2 log 2pi, which goes into the constant. So every row costs what a complete row costs, and a
pattern is a slice of a chunk (model/patterned.py). Here, for all patterns and components at once:
  Sp = L L^T (one batched Cholesky factorisation), X = L^-1 R (one batched triangular solve) with
  R = [-mu_o | I | E] (D, 2D + 1), mu_o the mean at 0 on m, E = S with its rows m at 0;
  X^T X = [[ z,           -b^T,   -(mu_o + t)^T ],     z = mu_o^T Q mu_o,  b = Q mu_o,  Q = S_oo^-1 (I on (m, m)),
           [ -b,           Q,       G^T          ],     G = I on (o, o), B = S_mo S_oo^-1 on (m, o), t = B mu_o,
           [ -(mu_o + t),  G,       E^T Q E      ]]     E^T Q E = S but S_mo S_oo^-1 S_om on (m, m)
(one batched product). The log-joint's coefficients are entries of it (one take) with log|L| and the pattern's
constants. The conditional mean is affine in x_o: with the missing coordinates at 0 the completed point is c + G x,
c = mu_m - t on m (0 on o), so a pattern's completed sums are A T A^T, A = [[1, 0], [c, G]] (A's rows 1.. are
X^T X's last D rows' first D + 1 entries, mu added to the first) and T = [[n, s1^T], [s1, S2]] its observed sums,
plus n (S_mm - S_mo S_oo^-1 S_om) on (m, m): two batched products and one contraction over the patterns.

All patterns at once in arrays (n_pat, M K, ...) kept from one E-step to the next: some 30 operations in all, each
on every pattern (before, some 60 on blocks of patterns, each with fresh temporaries: docs/performance.md,
'Missing values').
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .features import pair_tables


class PatternAlgebra:
    """The algebra of the patterns observed (n_pat, D) bool (True: observed), with offsets (n_pat,) (each pattern's
    Pattern.offset), for parameters of M restart rows of K components; its arrays are made at the first E-step
    for a number of restart-components and kept while that number lasts."""

    def __init__(self, observed: np.ndarray, offsets: np.ndarray) -> None:
        n, d = observed.shape
        o = observed.astype(np.float64)
        mis = 1.0 - o
        self.n_patterns, self.d, self.width = n, d, 2 * d + 1
        self.observed = observed
        self._o = o[:, None, :]  # (n_pat, 1, D): broadcast against (n_pat, M K, D)
        self._oo = (observed[:, :, None] & observed[:, None, :])[:, None]  # (n_pat, 1, D, D): True on (o, o)
        self._eye_mis = (np.eye(d) * mis[:, None, :])[:, None]  # the identity on (m, m)
        # R = S_ext * mask: [-mu_o | I | S's rows o] (n_pat, M K, D, 2D + 1) in one product
        self._mask = np.concatenate([o[:, :, None], np.ones((n, d, d)), np.repeat(o[:, :, None], d, 2)], 2)[:, None]
        self._mis_mis = mis[:, :, None] * mis[:, None, :]  # 1 on (m, m) (n_pat, D, D)
        # each pattern's constant: - q/2 log 2pi + offset (n_pat, 1)
        self._base = (offsets - 0.5 * o.sum(1) * math.log(2.0 * math.pi))[:, None]
        self._tables = _tables(d)
        self._mk = -1

    def prepare(self, log_weights: np.ndarray, means: np.ndarray, cov: np.ndarray) -> None:
        """This E-step's algebra at log-weights (M, K), means (M, K, D) and covariances (M, K, D, D) float64."""
        m, k, d = means.shape
        self._allocate(m * k)
        self.shape = (m, k)
        s = cov.reshape(1, m * k, d, d)
        self.mu = means.reshape(1, m * k, d)
        np.copyto(self._sp, s, where=self._oo)  # Sp's other entries, the identity on (m, m) and 0, stay
        ext = np.concatenate([-self.mu[..., None], np.broadcast_to(np.eye(d), s.shape), s], axis=-1)
        np.multiply(ext, self._mask, out=self._r)
        # a block of a positive definite S is positive definite: cholesky_ex skips torch's check (a synchronisation)
        torch.linalg.cholesky_ex(self._sp_t, out=(self._chol_t, self._info))
        torch.linalg.solve_triangular(self._chol_t, self._r_t, upper=False, out=self._x_t)
        np.copyto(self._xt, self._x.swapaxes(-1, -2))  # NumPy multiplies a transposed stack in its own slow loop
        np.matmul(self._xt, self._x, out=self._xtx)
        half_log_det = np.log(np.diagonal(self._chol, axis1=-2, axis2=-1)).sum(-1)  # log|L_oo| (n_pat, M K)
        self.constants = (log_weights.reshape(1, m * k) - half_log_det) + self._base
        self._cov = s[0]

    def coefficients(self) -> np.ndarray:
        """W (n_pat, M, K, P) float64: each pattern's log-joint coefficients (as gaussian.log_joint_coefficients)
        for its points with the missing coordinates at 0, so that F(x) @ W = log w_k + log N(x_o | mu_o, S_oo) +
        offset. Kept until the next prepare."""
        at, factors = self._tables[:2]
        np.take(self._xtx.reshape(*self._xtx.shape[:2], -1), at, axis=-1, out=self._coef, mode="clip")
        self._coef *= factors
        self._coef[..., 0] += self.constants
        return self._coef.reshape(self.n_patterns, *self.shape, -1)

    def whitened(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the whitened E-step takes (model/patterned.patterned_whitened): each pattern's L_oo^-1 padded with
        the identity (n_pat, M, K, D, D), the means at 0 on its missing coordinates (n_pat, M, K, D) and the
        log-joint's constants without the quadratic form (n_pat, M, K)."""
        n, d = self.n_patterns, self.d
        inverse = self._x[..., 1 : 1 + d].reshape(n, *self.shape, d, d)
        means = (self.mu * self._o).reshape(n, *self.shape, d)
        return inverse, means, self.constants.reshape(n, *self.shape)

    def completed(self, stats: np.ndarray) -> torch.Tensor:
        """The E-step's statistics (M, K, P) float64 over all D coordinates, summed over the patterns, from each
        pattern's (n_pat, M, K, P) float64 [sum r, sum r x, sum r x x^T] of its points with the missing coordinates
        at 0 (see the module's docstring). Once per prepare: it writes A into X^T X."""
        n, d = self.n_patterns, self.d
        to_square, from_square, pairs = self._tables[2:]
        st = stats.reshape(n, -1, stats.shape[-1])
        counts = st[..., 0]  # (n_pat, M K)
        square = self._square
        np.take(st, to_square, axis=-1, out=square.reshape(*square.shape[:2], -1), mode="clip")
        xtx = self._xtx
        xtx[..., 1 + d :, 0] += self.mu  # A's rows 1:: [c | G] = [-mu_o - t + mu | I_oo + B]
        xtx[..., 0, 1 + d :] += self.mu  # and its transpose
        np.matmul(square, xtx[..., : 1 + d, 1 + d :], out=self._half)  # T A^T's columns 1:
        np.matmul(xtx[..., 1 + d :, : 1 + d], self._half, out=self._low)  # (A T A^T)[1:, 1:]
        low = self._low.sum(0)  # (M K, D, D)
        # the conditional covariances' sum: sum_p n_p (S - E^T Q E) on (m, m)
        np.multiply(counts[..., None, None], self._mis_mis[:, None], out=self._weights)
        low -= np.einsum("pkij,pkij->kij", self._weights, xtx[..., 1 + d :, 1 + d :])
        low += self._cov * self._weights.sum(0)
        total = np.empty((len(low), stats.shape[-1]))
        total[:, 0] = counts.sum(0)
        total[:, 1 : 1 + d] = self._half[..., 0, :].sum(0)
        total[:, 1 + d :] = low.reshape(-1, d * d)[:, pairs]
        return torch.from_numpy(total.reshape(*self.shape, -1))

    def _allocate(self, mk: int) -> None:
        """The arrays of an E-step of mk restart-components: made when mk changes, then reused (fresh arrays of this
        size are mapped and paged in every call: docs/performance.md, 'Missing values')."""
        if mk == self._mk:
            return
        n, d, w = self.n_patterns, self.d, self.width
        self._mk = mk
        self._sp_t = torch.empty(n, mk, d, d, dtype=torch.float64)
        self._chol_t = torch.empty(n, mk, d, d, dtype=torch.float64)
        self._info = torch.empty(n, mk, dtype=torch.int32)
        self._r_t = torch.empty(n, mk, d, w, dtype=torch.float64)
        self._x_t = torch.empty(n, mk, d, w, dtype=torch.float64)
        self._sp, self._chol, self._r, self._x = (t.numpy() for t in (self._sp_t, self._chol_t, self._r_t, self._x_t))
        self._sp[:] = self._eye_mis
        # arrays that outlive their use share memory with later ones: fewer bytes for the caches to hold
        self._xt = self._r.reshape(n, mk, w, d)  # R, once solved
        self._xtx = np.empty((n, mk, w, w))
        self._coef = np.empty((n, mk, len(self._tables[0])))
        self._square = np.empty((n, mk, d + 1, d + 1))
        self._half = np.empty((n, mk, d + 1, d))
        self._low = self._chol  # L, once its log-determinants are taken
        self._weights = np.empty((n, mk, d, d))


def _tables(d: int) -> tuple[np.ndarray, ...]:
    """For D: where each log-joint coefficient is in X^T X (flattened (2D + 1)^2) and its factor (P,); where each
    entry of T ((D + 1)^2, flattened) is in the statistics (P,); and each pair's place in a flattened D x D (P2,)."""
    i, j, flat, factors, pair_of = (t.numpy() for t in pair_tables(d))
    w = 2 * d + 1
    lin = np.arange(d)
    at = np.concatenate([[0], (1 + lin) * w, (1 + i) * w + 1 + j])
    coef_factors = np.concatenate([[-0.5], -np.ones(d), factors])
    to_square = np.empty((d + 1, d + 1), dtype=np.int64)
    to_square[0, 0] = 0
    to_square[0, 1:] = to_square[1:, 0] = 1 + lin
    to_square[1:, 1:] = 1 + d + pair_of.reshape(d, d)
    return at, coef_factors, to_square.ravel(), None, flat
