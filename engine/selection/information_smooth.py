"""The observed information of the eight mclust models whose covariances constrain a shape or an orientation (VEI,
EVI, VEE, EVE, VVE, EEV, VEV, EVV; issue 25): not linear in the covariances' entries, so Louis's closed forms
(information.py) do not carry over. Instead minus the Hessian of the observed-data log-likelihood, by torch autograd,
in a smooth parametrisation of mclust's decomposition Sigma_k = lambda_k D_k A_k D_k^T taken around the fit:

  theta = (w_1 .. w_{K-1}, the means (K D), log lambda (1 shared, E, or K, V), the log shape's first D - 1 entries
          (its last is minus their sum, so det A = 1; D - 1 shared or K (D - 1); none for I), the orientation's
          rotation D_k = D0_k expm(S_k) from the fit's D0_k, S_k skew with its D (D - 1) / 2 upper entries free
          (shared or per component; none for I)),

P = mclust's nMclustParams. The standard errors of the weights, means and covariance entries (the bootstrap's
layout) follow by the delta method, diag(J I^-1 J^T) with J their Jacobian by autograd: at the maximum they do
not depend on the smooth parametrisation chosen (tested on VVV against Louis's, whose parameters are the entries).
An orientation is not identified where a shape has equal entries (a sphere): the information is then singular and
refused. Any of the fourteen names parametrises this way (the test's VVV); information.py uses it for the eight.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch

from ..errors import UserError

CHUNK = 65536  # points a Hessian pass: autograd keeps a few (CHUNK, K) tensors per parameter
GOLDEN = 0.6180339887498949  # weights that make a coincidence of the combined eigenvalues unlikely (_common_axes)
# relative to the largest entry: theta's start must reproduce the fit's covariances (of the model's form). Measured on
# Old Faithful, K = 3, the eight models: 6e-16 for a float64 fit, 4e-8 for a float32 one (the fit's parts agree
# to its rounding); the information is then taken at that start, as near the fit as the fit's own precision
FORM_TOL = 1e-6


def counts(model: str, k: int, d: int) -> tuple[int, int, int]:
    """The free log volumes, log shape entries and rotation entries of the mclust model (volume, shape,
    orientation letters)."""
    per = {"E": 1, "V": k, "I": 0}
    return per[model[0]], per[model[1]] * (d - 1), per[model[2]] * (d * (d - 1) // 2)


def _common_axes(cov: np.ndarray) -> np.ndarray:
    """An orthogonal D0 (D, D) that diagonalises every covariance (K, D, D) of a common orientation: the
    eigenvectors of a combination with unequal weights (its eigenvalues coincide only where every one's do)."""
    scale = np.linalg.det(cov) ** (1.0 / cov.shape[1])
    mix = np.einsum("k,kab->ab", (1.0 + GOLDEN * np.arange(cov.shape[0])) / scale, cov)
    return np.linalg.eigh(mix)[1]


def decompose(cov: np.ndarray, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sigma_k = lambda_k D_k A_k D_k^T of covariances (K, D, D): log volumes (K,), log shapes (K, D) (each summing
    to 0), orientations (K, D, D). A varying orientation takes the eigenvectors in ascending order, so that a common
    shape's entries line up across the components."""
    k, d = cov.shape[:2]
    if model[2] == "I":
        axes = np.broadcast_to(np.eye(d), (k, d, d))
    elif model[2] == "E":
        axes = np.broadcast_to(_common_axes(cov), (k, d, d))
    else:
        axes = np.linalg.eigh(cov)[1]
    with np.errstate(invalid="ignore", divide="ignore"):  # not positive definite: NaN, refused by the form check
        log_e = np.log(np.diagonal(np.einsum("kba,kbc,kcd->kad", axes, cov, axes), axis1=1, axis2=2))
    log_volume = log_e.mean(axis=1)
    return log_volume, log_e - log_volume[:, None], np.array(axes)


def start(fitted: tuple[np.ndarray, ...], model: str) -> tuple[np.ndarray, np.ndarray]:
    """theta at the fit (P,) (module docstring) and the orientations D0 (K, D, D) its rotations start from; a shared
    part is the components' mean (they are equal to rounding)."""
    w, m, c = fitted
    log_volume, log_shape, axes = decompose(c, model)
    parts = [w[:-1], m.ravel()]
    parts.append(log_volume.mean(keepdims=True) if model[0] == "E" else log_volume)
    shape = log_shape[:, :-1]
    parts.append({"E": shape.mean(axis=0), "V": shape.ravel(), "I": np.zeros(0)}[model[1]])
    parts.append(np.zeros(counts(model, *m.shape)[2]))
    return np.concatenate(parts), axes


def covariances(t: torch.Tensor, axes: torch.Tensor, model: str) -> torch.Tensor:
    """The covariances (K, D, D) of the covariance part t of theta (its log volumes, log shapes, rotations) around
    the orientations axes (K, D, D)."""
    k, d = axes.shape[:2]
    n_v, n_a, n_o = counts(model, k, d)
    log_volume = t[:n_v].expand(k)
    log_shape = torch.zeros(k, d, dtype=t.dtype)
    if n_a:
        alpha = t[n_v : n_v + n_a].reshape(-1, d - 1).expand(k, d - 1)
        log_shape = torch.cat([alpha, -alpha.sum(dim=1, keepdim=True)], dim=1)
    q = axes
    if n_o:
        rows, cols = np.triu_indices(d, 1)
        upper = t[n_v + n_a :].reshape(-1, len(rows))
        skew = torch.zeros(upper.shape[0], d, d, dtype=t.dtype)
        skew[:, rows, cols] = upper
        skew[:, cols, rows] = -upper
        q = axes @ torch.linalg.matrix_exp(skew)
    return torch.exp(log_volume)[:, None, None] * (q * torch.exp(log_shape)[:, None, :]) @ q.transpose(1, 2)


def _unpack(theta: torch.Tensor, axes: torch.Tensor, model: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """weights (K,), means (K, D), covariances (K, D, D) of theta (P,)."""
    k, d = axes.shape[:2]
    weights = torch.cat([theta[: k - 1], 1 - theta[: k - 1].sum(dim=0, keepdim=True)])
    means = theta[k - 1 : k - 1 + k * d].reshape(k, d)
    return weights, means, covariances(theta[k - 1 + k * d :], axes, model)


def _log_likelihood(theta: torch.Tensor, x: torch.Tensor, f: torch.Tensor, axes: torch.Tensor, model: str):
    """sum_i f_i log sum_k w_k N(x_i | mu_k, Sigma_k) of points x (N, D) with frequency weights f (N,)."""
    w, m, c = _unpack(theta, axes, model)
    normal = torch.distributions.MultivariateNormal(m, covariance_matrix=c, validate_args=False)
    return (f * torch.logsumexp(normal.log_prob(x[:, None, :]) + torch.log(w), dim=1)).sum()


def _observed_log_likelihood(
    theta: torch.Tensor, x: torch.Tensor, f: torch.Tensor, seen: torch.Tensor, axes: torch.Tensor, model: str
):
    """The observed-data log-likelihood sum_i f_i log sum_k w_k N(x_i,o | mu_k,o, Sigma_k,oo) of points x (N, D) of
    one missingness pattern (every row observes the columns seen (D,) bool) with frequency weights f (N,)."""
    w, m, c = _unpack(theta, axes, model)
    cols = torch.nonzero(seen).ravel()
    normal = torch.distributions.MultivariateNormal(
        m[:, cols], covariance_matrix=c[:, cols][:, :, cols], validate_args=False
    )
    return (f * torch.logsumexp(normal.log_prob(x[:, None, cols]) + torch.log(w), dim=1)).sum()


def _hessian_terms(x: torch.Tensor, f: torch.Tensor, axes: torch.Tensor, model: str):
    """The log-likelihood's terms, one function of theta per chunk of points x (N, D) (frequency weights f (N,)),
    whose Hessians add up: with missing values (NaN) one per missingness pattern (and chunk), each on its rows'
    observed coordinates (the observed-data log-likelihood, the one EM with --missing em maximises)."""
    seen = ~torch.isnan(x)
    if bool(seen.all()):
        for at in range(0, x.shape[0], CHUNK):
            yield partial(_log_likelihood, x=x[at : at + CHUNK], f=f[at : at + CHUNK], axes=axes, model=model)
        return
    patterns, which = torch.unique(seen, dim=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        rows = torch.nonzero(which == p).ravel()
        for at in range(0, rows.numel(), CHUNK):
            part = rows[at : at + CHUNK]
            yield partial(_observed_log_likelihood, x=x[part], f=f[part], seen=pattern, axes=axes, model=model)


def smooth_information(
    data: np.ndarray, fitted: tuple[np.ndarray, ...], model: str, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Minus the Hessian (P, P) of the log-likelihood in theta at the fit (weights (K,), means (K, D), covariances
    (K, D, D) of the mclust model's form) on data (N, D) (NaN: a missing value; the observed-data log-likelihood)
    with frequency weights (N,) or None, and the Jacobian
    (K + K D + K D D, P) of the weights, means and covariance entries. UserError where the covariances are not of
    the model's form."""
    fitted = tuple(np.asarray(a, dtype=np.float64) for a in fitted)
    theta0, axes0 = start(fitted, model)
    axes = torch.as_tensor(axes0)
    theta = torch.as_tensor(theta0)
    got = covariances(theta[len(fitted[0]) - 1 + fitted[1].size :], axes, model).numpy()
    if not np.abs(got - fitted[2]).max() <= FORM_TOL * np.abs(fitted[2]).max():  # NaN too (not positive definite)
        raise UserError(f"--information: the covariances are not of {model}'s form (fit them as {model} first)")
    x = torch.as_tensor(np.asarray(data, dtype=np.float64))
    f = torch.ones(x.shape[0], dtype=x.dtype) if weights is None else torch.as_tensor(weights, dtype=x.dtype)
    info = torch.zeros(theta.numel(), theta.numel(), dtype=x.dtype)
    for log_lik in _hessian_terms(x, f, axes, model):
        info -= torch.autograd.functional.hessian(log_lik, theta)
    jac = torch.autograd.functional.jacobian(lambda t: torch.cat([p.ravel() for p in _unpack(t, axes, model)]), theta)
    return info.numpy(), jac.numpy()


def delta_standard_errors(
    cov: np.ndarray, jac: np.ndarray, k: int, d: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sqrt(diag(J V J^T)) of the parameters' covariance V (P, P) and the Jacobian (K + K D + K D D, P), laid out as
    weights (K,), means (K, D), covariances (K, D, D); an entry theta does not move (a diagonal model's
    off-diagonal) has SE 0."""
    var = np.einsum("ip,pq,iq->i", jac, cov, jac)
    se = np.sqrt(np.clip(var, 0.0, None))  # rounding may leave a zero variance a hair below 0
    return se[:k], se[k : k + k * d].reshape(k, d), se[k + k * d :].reshape(k, d, d)
