"""Exact 2-D views of D-dimensional data and mixtures (NumPy only).

A linear map y = (x - center) @ A with A (D, 2) takes a Gaussian N(mu, S) to N((mu - center) @ A, A^T S A),
so it takes a Gaussian mixture to the mixture with the same weights and the projected means and covariances:
the ellipses and density contours drawn in a view are the view's exact marginal, never an approximation.

Views: two chosen columns (A holds two unit vectors, center 0: the columns' own values), the data's first two
principal axes, and the two axes that best separate a fit's components (the leading generalised eigenvectors
of the between-component scatter against the within-component covariance, Fisher's discriminant directions).
Editing a mixture in a view (`moved_mean`, `reshaped_covariance`) changes it in the view's plane only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VIEW_KINDS = ("columns", "pca", "separating")


@dataclass(frozen=True)
class View:
    """y = (x - center) @ axes: axes (D, 2), center (D,); labels: the two axes' names; columns: the two
    column indices of a columns view (None for the others, whose axes mix columns: see loadings)."""

    kind: str
    axes: np.ndarray
    center: np.ndarray
    labels: tuple[str, str]
    columns: tuple[int, int] | None = None
    shown_loadings: np.ndarray | None = None  # (D, 2) the loadings to show, when not the axes (standardised PCA)

    @property
    def n_features(self) -> int:
        return self.axes.shape[0]

    def points(self, x: np.ndarray) -> np.ndarray:
        """The view of points x (N, D) -> (N, 2). A columns view gathers the columns (the same numbers)."""
        if self.columns is not None:
            return np.ascontiguousarray(x[:, list(self.columns)], dtype=np.float64)
        return (x - self.center) @ self.axes

    def means(self, means: np.ndarray) -> np.ndarray:
        """Means (..., D) -> (..., 2)."""
        if self.columns is not None:
            return np.asarray(means)[..., list(self.columns)]
        return (np.asarray(means) - self.center) @ self.axes

    def covariances(self, cov: np.ndarray) -> np.ndarray:
        """Covariances (..., D, D) -> A^T S A (..., 2, 2); a columns view takes the 2 x 2 sub-matrix."""
        cov = np.asarray(cov)
        if self.columns is not None:
            i = list(self.columns)
            return cov[..., i, :][..., :, i]
        out = np.swapaxes(self.axes, 0, 1) @ cov @ self.axes
        return (out + np.swapaxes(out, -1, -2)) / 2  # exactly symmetric (the product rounds either way)

    def loadings(self, names: tuple[str, ...]) -> str:
        """The axes as weighted sums of the named columns, largest weights first (for the axis labels)."""
        out = []
        loadings = self.axes if self.shown_loadings is None else self.shown_loadings
        for a, label in zip(loadings.T, self.labels, strict=True):
            order = np.argsort(-np.abs(a))[:4]
            terms = " ".join(f"{a[j]:+.2f}·{names[j] if j < len(names) else j}" for j in order)
            out.append(f"{label} = {terms}{' …' if len(a) > 4 else ''}")
        return "\n".join(out)


def columns_view(d: int, i: int, j: int, names: tuple[str, ...] = ()) -> View:
    """The plane of columns i and j (0-based) of D-dimensional data."""
    if not (0 <= i < d and 0 <= j < d) or i == j:
        raise ValueError(f"a columns view needs two different columns among 0..{d - 1}, got {i} and {j}")
    axes = np.zeros((d, 2))
    axes[i, 0] = axes[j, 1] = 1.0
    label = tuple(names[c] if c < len(names) else f"x{c}" for c in (i, j))
    return View("columns", axes, np.zeros(d), label, (i, j))


# Columns whose spreads differ by more than this factor are in mixed units: their raw principal axes are the
# large-unit columns (wine: proline, then magnesium), so the standardised axes are the default there.
MIXED_UNITS_RATIO = 10.0


def mixed_units(x: np.ndarray) -> bool:
    """Whether the columns' standard deviations (of points x (N, D)) differ by more than MIXED_UNITS_RATIO (never
    for fewer than two points: no spread to compare)."""
    if x.ndim != 2 or len(x) < 2:
        return False
    sd = np.std(x, axis=0)
    sd = sd[sd > 0]
    return len(sd) >= 2 and float(sd.max()) > MIXED_UNITS_RATIO * float(sd.min())


def pca_view(x: np.ndarray, standardised: bool | None = None) -> View:
    """The first two principal axes of points x (N, D), D >= 2, about their mean; each axis's sign makes its
    largest loading positive (a view that does not flip between data sets that differ a little).

    standardised: the principal axes of the columns in units of their standard deviation (the correlation
    matrix's eigenvectors v; the projection is then (x - mean) @ diag(1/sd) v, still exact and linear, and the
    loadings shown are v's); None: standardised when the columns are in mixed units (mixed_units). The labels
    say which it is."""
    center = x.mean(axis=0)
    d = x.shape[1]
    cov = np.cov(x, rowvar=False).reshape(d, d)
    if standardised is None:
        standardised = mixed_units(x)
    if not standardised:
        values, vectors = np.linalg.eigh(cov)
        return View("pca", _signed(vectors[:, ::-1][:, :2]), center, ("PC1", "PC2"))
    sd = np.sqrt(np.diagonal(cov))
    sd = np.where(sd > 0, sd, 1.0)
    values, vectors = np.linalg.eigh(cov / np.outer(sd, sd))
    weights = _signed(vectors[:, ::-1][:, :2])
    return View("pca", weights / sd[:, None], center, ("PC1 (standardised)", "PC2 (standardised)"), None, weights)


def separating_view(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> View:
    """The two directions that best separate a mixture's components: maximise between-component scatter
    B = sum w_k (mu_k - m)(mu_k - m)^T against the pooled within-component covariance W = sum w_k S_k
    (the leading eigenvectors of W^-1 B). With two components B has rank one: the second axis is then the
    direction of most within-component spread W-orthogonal to the first. Axes have unit length.

    weights (K,), means (K, D), covariances (K, D, D); D >= 2.
    """
    if len(weights) < 2:
        raise ValueError("the separating view needs a fit of two or more components")
    w = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    centre = w @ means
    dev = means - centre
    between = (dev * w[:, None]).T @ dev
    within = np.einsum("k,kij->ij", w, covariances)
    # whiten by W: W = L L^T; B' = L^-1 B L^-T; axes = L^-T v for B''s eigenvectors v
    chol = np.linalg.cholesky(within)
    inv = np.linalg.inv(chol)
    values, vectors = np.linalg.eigh(inv @ between @ inv.T)
    order = np.argsort(values)[::-1]
    first = vectors[:, order[0]]
    if values[order[1]] <= 1e-9 * max(values[order[0]], 1e-300):
        # no second separating direction: in whitened space take the largest-variance direction orthogonal to
        # the first, which is any orthogonal direction (whitened W is the identity): choose it from the data
        # spread of the means and covariances together, the total covariance T = W + B
        total = inv @ (within + between) @ inv.T
        rest = np.eye(len(first)) - np.outer(first, first)
        vals2, vecs2 = np.linalg.eigh(rest @ total @ rest)
        second = vecs2[:, -1]
    else:
        second = vectors[:, order[1]]
    axes = inv.T @ np.column_stack([first, second])
    axes /= np.linalg.norm(axes, axis=0)
    return View("separating", _signed(axes), centre, ("LD1", "LD2"))


def _signed(axes: np.ndarray) -> np.ndarray:
    """Axes (D, 2) with each column's largest-magnitude entry made positive."""
    top = axes[np.argmax(np.abs(axes), axis=0), np.arange(axes.shape[1])]
    return axes * np.where(top < 0, -1.0, 1.0)


def moved_mean(view: View, mean: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The mean (D,) moved within the view's plane so that its view lands on target (2,): the smallest change,
    mean + A (A^T A)^-1 (target - view(mean)); its part orthogonal to the plane is unchanged."""
    if view.columns is not None:  # the two columns take the target's values, bit for bit
        out = np.array(mean, dtype=np.float64)
        out[list(view.columns)] = target
        return out
    a = view.axes
    step = a @ np.linalg.solve(a.T @ a, np.asarray(target, dtype=np.float64) - view.means(mean))
    return np.asarray(mean, dtype=np.float64) + step


def reshaped_covariance(view: View, cov: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The covariance (D, D) changed in the view's plane so that its view is target (2, 2), by the map M that
    acts on the plane only (M v = v for v orthogonal to it): M S M^T is positive definite whenever S and target
    are, its block orthogonal to the plane is S's, and its view is exactly target.

    With U an orthonormal basis of the plane (A = U R), the plane's block U^T S U becomes
    R^-T target R^-1 through G = T^(1/2) C^(-1/2) (C the old block, T the new), M = I + U (G - I) U^T.
    """
    if view.columns is not None and view.n_features == 2:  # the whole covariance is in the plane: it is target
        order = np.argsort(view.columns)
        return np.array(np.asarray(target, dtype=np.float64)[np.ix_(order, order)])
    u, r = np.linalg.qr(view.axes)
    r_inv = np.linalg.inv(r)
    old = u.T @ cov @ u
    new = r_inv.T @ np.asarray(target, dtype=np.float64) @ r_inv
    g = _sqrtm(new) @ np.linalg.inv(_sqrtm(old))
    m = np.eye(cov.shape[0]) + u @ (g - np.eye(2)) @ u.T
    out = m @ cov @ m.T
    return (out + out.T) / 2


def _sqrtm(s: np.ndarray) -> np.ndarray:
    """The symmetric square root of a positive definite matrix s (n, n)."""
    values, vectors = np.linalg.eigh(s)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
