"""The observed information of a fitted Gaussian mixture by Louis's method (issue 25): standard errors in one pass
over the data, a fast alternative to the bootstrap (selection/bootstrap.py) for the six covariance types whose
free covariance entries move the covariances linearly: full (VVV), tied (EEE), diag (VVI), spherical (VII), EEI
and EII (STRUCTURES). The other eight of mclust's models constrain a shape or an orientation (not linear in the
entries): information() takes theirs by autograd in a smooth parametrisation (information_smooth.py).

Free parameters theta (P,), in this order: the weights w_1 .. w_{K-1} (the last is 1 - their sum), the means
mu_k (D each, component after component), then the covariances' free entries: M of them per component
(component after component) or M shared by every component (tied, EEI, EII), where the M entries are
  full, tied         the upper triangle (a <= b, row by row; sigma_ab stands for both (a, b) and (b, a))
  diag, EEI          the diagonal (the variances; the other entries are 0)
  spherical, EII     the one variance (the covariance is it times the identity)
so that Sigma_k = sum_m theta_m E_m with symmetric unit matrices E_m (M, D, D): the covariance's derivative with
respect to theta_m is E_m, and its second derivatives are 0 (what the closed forms below assume).

Louis's identity, taken point by point (z_i the component of point i, r_ik its responsibility at theta):
    -d2 log p(x_i) = E[B_i | x_i] - Var[S_i | x_i],
B_i = -d2 log p(x_i, z_i) the complete-data information and S_i = d log p(x_i, z_i) the complete-data score. Summed
over the points (times their frequency weights) it is minus the Hessian of the observed-data log-likelihood: exact
at any theta, so at the fit's whether or not its EM stopped exactly at the maximum (the outer product of the
per-point scores, the 'empirical information', agrees with it only in expectation). E[B | x] sums in closed form
over the points (the weighted moments of each component); Var[S | x] = sum_k r_ik s_ik s_ik^T - s_i s_i^T with the
per-point scores s_ik (N, K, P), taken in chunks of points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..model.covariances import covariance_type as registered_type

CHUNK = 4096  # points a chunk: the per-point scores (CHUNK, K, P) stay a few MB at moderate K and D
# mclust's name -> (the free entries' basis, whether every component shares them); the module docstring's table
STRUCTURES = {
    "VVV": ("upper", False),
    "EEE": ("upper", True),
    "VVI": ("diagonal", False),
    "EEI": ("diagonal", True),
    "VII": ("identity", False),
    "EII": ("identity", True),
}
SINGULAR = (
    "--information: the observed information matrix is singular or not positive definite (a component with too few "
    "points, an orientation not identified by a spherical shape, or the fit not at a maximum): use --bootstrap instead"
)


@dataclass(frozen=True)
class Information:
    """The observed information (P, P) of the free parameters, and the standard errors it gives: weights (K,),
    means (K, D), covariances (K, D, D) (the fit's layout, the bootstrap's standard_errors')."""

    matrix: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    method: str = "louis"  # or "autograd" (information_smooth.py: the eight constrained models), "autograd_missing"

    def standard_errors(self) -> dict[str, np.ndarray]:
        """Standard errors: weights (K,), means (K, D), covariances (K, D, D)."""
        return {"weights": self.weights, "means": self.means, "covariances": self.covariances}

    def meta(self) -> dict:
        """What the parameters' export carries: standard_errors_information, and how they were computed."""
        se = {k: v.tolist() for k, v in self.standard_errors().items()}
        how = {"method": self.method, "parameters": int(self.matrix.shape[0])}
        return {"standard_errors_information": se, "information": how}


def upper_basis(d: int) -> np.ndarray:
    """The symmetric unit matrices E_ab (M, D, D), M = D (D + 1) / 2, a <= b row by row: the derivative of the
    covariance with respect to its entry sigma_ab."""
    rows, cols = np.triu_indices(d)
    basis = np.zeros((rows.size, d, d))
    basis[np.arange(rows.size), rows, cols] = 1.0
    basis[np.arange(rows.size), cols, rows] = 1.0
    return basis


def check_covariance_type(covariance_type: str) -> str:
    """The mclust name of a covariance type (its registry or mclust name); UserError naming --bootstrap for a type
    that has none (registered elsewhere)."""
    try:
        model = registered_type(covariance_type).model
    except KeyError:
        model = ""
    if len(model) != 3:
        raise UserError(f"--information knows mclust's fourteen models, not {covariance_type!r}: use --bootstrap")
    return model


def structure(covariance_type: str, d: int) -> tuple[np.ndarray, bool]:
    """The free covariance entries of a linear covariance type (STRUCTURES): their unit matrices (M, D, D) and
    whether every component shares them. UserError for the eight constrained models (information() takes them)."""
    model = check_covariance_type(covariance_type)
    if model not in STRUCTURES:
        raise UserError(f"Louis's closed forms need free entries that are linear, not {model}'s: use information()")
    kind, shared = STRUCTURES[model]
    if kind == "upper":
        return upper_basis(d), shared
    if kind == "diagonal":
        return np.eye(d)[:, None, :] * np.eye(d)[:, :, None], shared  # E_a = e_a e_a^T
    return np.eye(d)[None], shared


def _sigma_at(k: int, d: int, m: int, shared: bool, c: int) -> int:
    """Where component c's covariance entries start in theta."""
    return k - 1 + k * d + (0 if shared else c * m)


def _n_free(k: int, d: int, m: int, shared: bool) -> int:
    """P, the number of free parameters."""
    return k - 1 + k * d + (m if shared else k * m)


def _responsibilities(x: np.ndarray, w: np.ndarray, m: np.ndarray, prec: np.ndarray, logdet: np.ndarray):
    """Responsibilities (N, K) and centred points (N, K, D) of x (N, D)."""
    diff = x[:, None, :] - m[None]
    maha = np.einsum("nka,kab,nkb->nk", diff, prec, diff)
    log_joint = np.log(w) - 0.5 * (maha + logdet + x.shape[1] * np.log(2 * np.pi))
    log_joint -= log_joint.max(axis=1, keepdims=True)
    r = np.exp(log_joint)
    return r / r.sum(axis=1, keepdims=True), diff


def _scores(w: np.ndarray, prec: np.ndarray, diff: np.ndarray, basis: np.ndarray, shared: bool) -> np.ndarray:
    """The complete-data scores s_ik = d log(w_k N(x_i | mu_k, S_k)) / d theta (N, K, P) of centred points diff
    (N, K, D); the covariance entries' unit matrices basis (M, D, D), shared by every component or not."""
    n, k, d = diff.shape
    m = basis.shape[0]
    out = np.zeros((n, k, _n_free(k, d, m, shared)))
    idx = np.arange(k - 1)
    out[:, idx, idx] = 1.0 / w[:-1]
    out[:, k - 1, : k - 1] = -1.0 / w[-1]
    u = np.einsum("kab,nkb->nka", prec, diff)  # S^-1 (x - mu)
    g = 0.5 * (u[..., :, None] * u[..., None, :] - prec[None])  # d log N / d S as a symmetric matrix (N, K, D, D)
    sig = np.einsum("nkab,mab->nkm", g, basis)  # tr(G E_ab): sigma_ab moves (a, b) and (b, a)
    for c in range(k):
        out[:, c, k - 1 + c * d : k - 1 + (c + 1) * d] = u[:, c]
        at = _sigma_at(k, d, m, shared, c)
        out[:, c, at : at + m] = sig[:, c]
    return out


def _complete_information(w, prec, n_k, b_k, a_k, basis, shared) -> np.ndarray:
    """E[complete-data information | x] (P, P) from each component's weighted responsibility sums n_k (K,),
    centred first moments b_k = sum r (x - mu_k) (K, D) and second moments a_k (K, D, D); shared entries sum
    every component's terms."""
    k, d = b_k.shape
    m = basis.shape[0]
    p = _n_free(k, d, m, shared)
    info = np.zeros((p, p))
    info[: k - 1, : k - 1] = np.diag(n_k[:-1] / w[:-1] ** 2) + n_k[-1] / w[-1] ** 2
    for c in range(k):
        mu = slice(k - 1 + c * d, k - 1 + (c + 1) * d)
        sg = slice(_sigma_at(k, d, m, shared, c), _sigma_at(k, d, m, shared, c) + m)
        pe = np.einsum("ab,mbc->mac", prec[c], basis)  # P E_m (M, D, D)
        info[mu, mu] = n_k[c] * prec[c]
        cross = np.einsum("mab,bc,c->am", pe, prec[c], b_k[c])  # (P E_m P b)_a
        info[mu, sg], info[sg, mu] = cross, cross.T
        pep = np.einsum("mab,lbc->mlac", pe, pe)  # P E_m P E_l
        tr2 = np.einsum("mlaa->ml", pep)
        tr3 = np.einsum("mlab,bc,ca->ml", pep, prec[c], a_k[c])  # tr(P E_m P E_l P A)
        info[sg, sg] += -0.5 * n_k[c] * tr2 + 0.5 * (tr3 + tr3.T)  # adds 0 to a block of its own (exact)
    return info


def observed_information(
    data: np.ndarray,
    fitted: tuple[np.ndarray, np.ndarray, np.ndarray],
    weights: np.ndarray | None = None,
    covariance_type: str = "full",
) -> np.ndarray:
    """Louis's observed information (P, P) of the free parameters (module docstring) of the mixture fitted =
    (weights (K,), means (K, D), covariances (K, D, D), of covariance_type's form) on data (N, D) with frequency
    weights (N,) or None."""
    w, m, c = (np.asarray(a, dtype=np.float64) for a in fitted)
    x = np.asarray(data, dtype=np.float64)
    fw = np.ones(x.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    k, d = m.shape
    prec = np.linalg.inv(c)
    logdet = np.linalg.slogdet(c)[1]
    basis, shared = structure(covariance_type, d)
    n_k, b_k, a_k = np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d))
    spread = 0.0  # sum_i f_i Var[S_i | x_i] (P, P)
    for at in range(0, x.shape[0], CHUNK):
        r, diff = _responsibilities(x[at : at + CHUNK], w, m, prec, logdet)
        rf = r * fw[at : at + CHUNK, None]
        n_k += rf.sum(axis=0)
        b_k += np.einsum("nk,nka->ka", rf, diff)
        a_k += np.einsum("nk,nka,nkb->kab", rf, diff, diff)
        s = _scores(w, prec, diff, basis, shared)
        s_i = np.einsum("nk,nkp->np", r, s)
        outer = np.einsum("n,np,nq->pq", fw[at : at + CHUNK], s_i, s_i)
        spread = spread + np.einsum("nk,nkp,nkq->pq", rf, s, s) - outer
    return _complete_information(w, prec, n_k, b_k, a_k, basis, shared) - spread


def information(
    data: np.ndarray,
    fitted: tuple[np.ndarray, np.ndarray, np.ndarray],
    covariance_type: str = "full",
    weights: np.ndarray | None = None,
) -> Information:
    """The observed information of the fit and the standard errors sqrt(diag(I^-1)) mapped back to the fit's layout
    by the delta method: Louis's (observed_information) for the six linear types (the last weight's SE: Var(1 - sum)
    = 1^T V 1; a covariance entry's: that of the free entry it is, every component's for a shared one, 0 for an
    entry fixed at 0), autograd's for the eight constrained ones (information_smooth.py) and for data (N, D) with
    missing values (NaN: the observed-data log-likelihood's). UserError for an information matrix that is not
    positive definite."""
    k, d = np.asarray(fitted[1]).shape
    model = check_covariance_type(covariance_type)
    missing = bool(np.isnan(data).any())  # Louis's sums below are over complete points
    if model not in STRUCTURES or missing:
        from .information_smooth import delta_standard_errors, smooth_information

        info, jac = smooth_information(data, fitted, model, weights)
        method = "autograd_missing" if missing else "autograd"
        return Information(info, *delta_standard_errors(_inverse(info), jac, k, d), method=method)
    basis, shared = structure(covariance_type, d)
    info = observed_information(data, fitted, weights, covariance_type)
    return Information(info, *_mapped(_inverse(info), k, basis, shared))


def _inverse(info: np.ndarray) -> np.ndarray:
    """I^-1 (P, P) by Cholesky; UserError where I is not positive definite."""
    try:
        chol = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        raise UserError(SINGULAR) from None
    inv_chol = np.linalg.solve(chol, np.eye(info.shape[0]))
    return inv_chol.T @ inv_chol


def _mapped(cov: np.ndarray, k: int, basis: np.ndarray, shared: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standard errors from the parameters' covariance (P, P): weights (K,), means (K, D), covariances (K, D, D).
    Each covariance entry (a, b) is one free entry's value (the unit matrices basis (M, D, D) do not overlap), or
    0: the delta method's Jacobian has a single 1 in its row, or none."""
    var = np.diag(cov)
    m, d = basis.shape[0], basis.shape[1]
    se_w = np.empty(k)
    se_w[:-1] = np.sqrt(var[: k - 1])
    se_w[-1] = np.sqrt(cov[: k - 1, : k - 1].sum())
    se_m = np.sqrt(var[k - 1 : k - 1 + k * d]).reshape(k, d)
    which = np.argmax(basis, axis=0)  # (D, D): the free entry that moves (a, b), where one does
    moved = basis.max(axis=0) > 0
    se_c = np.zeros((k, d, d))
    for c in range(k):
        se_c[c][moved] = np.sqrt(var[_sigma_at(k, d, m, shared, c) + which[moved]])
    return se_w, se_m, se_c
