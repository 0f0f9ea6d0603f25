"""The observed information beyond full covariances (issue 25). Louis's for tied (EEE), diag (VVI), spherical
(VII), EEI and EII in their own free parameters (the K - 1 weights, the means, the covariances' free entries);
autograd's in lambda_k D_k A_k D_k^T for the eight constrained models (information_smooth.py). References are
independent of engine/selection/: minus the Hessian of the observed-data log-likelihood by torch autograd with each
model's covariances written out by hand, the closed forms at K = 1, the bootstrap's standard errors, the
information of the repeated rows that integer weights stand for, and (for the smooth route) Louis's at a maximum
made exact by Newton steps on the reference log-likelihood."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine import FitConfig, run_to_end
from engine.errors import UserError
from engine.model.covariances import covariance_type
from engine.selection.bootstrap import bootstrap
from engine.selection.information import information, observed_information
from engine.selection.information_smooth import delta_standard_errors, smooth_information

LINEAR = ("tied", "diag", "spherical", "EEI", "EII")
FAITHFUL = Path(__file__).resolve().parents[1] / "data" / "mclust" / "faithful.csv"
CONSTRAINED = ("VEI", "EVI", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV")
ROWS, COLS = np.triu_indices(3)


def _mixture(n: int, seed: int) -> np.ndarray:
    """n points of three overlapping 3-D Gaussians (they overlap, so that Var[S | x] matters)."""
    rng = np.random.default_rng(seed)
    sizes = rng.multinomial(n, [0.5, 0.3, 0.2])
    centres = np.array([[0.0, 0.0, 0.0], [2.5, 1.0, -1.0], [-1.5, 2.5, 1.0]])
    scale = np.array([[1.0, 0.3, 0.1], [0.3, 0.8, -0.2], [0.1, -0.2, 0.6]])
    return np.concatenate([rng.multivariate_normal(centres[k], scale * (1 + k / 3), size=sizes[k]) for k in range(3)])


def _fit(x: np.ndarray, k: int, ct: str, weights: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    cfg = FitConfig(n_components=k, covariance_type=ct, reg_covar=0.0, tol=1e-10, max_iter=5000, seed=3)
    snap = run_to_end(x, cfg, weights=weights)
    return snap.weights, snap.means, snap.covariances


def _free_entries(c: np.ndarray, ct: str) -> np.ndarray:
    """The model's free covariance entries read off the fit's full matrices c (K, D, D), in the engine's order."""
    return {
        "full": lambda: c[:, ROWS, COLS].ravel(),
        "tied": lambda: c[0, ROWS, COLS],
        "diag": lambda: np.diagonal(c, axis1=1, axis2=2).ravel(),
        "spherical": lambda: c[:, 0, 0],
        "EEI": lambda: np.diag(c[0]),
        "EII": lambda: c[0, :1, 0],
    }[ct]()


def _covariances(t: torch.Tensor, ct: str, k: int, d: int) -> torch.Tensor:
    """The model's covariances (K, D, D) from its free entries t, written out for each model."""
    eye = torch.eye(d, dtype=t.dtype)
    if ct == "full":
        each = torch.zeros(k, d, d, dtype=t.dtype)
        each[:, ROWS, COLS] = t.reshape(k, -1)
        each[:, COLS, ROWS] = t.reshape(k, -1)
        return each
    if ct == "tied":
        one = torch.zeros(d, d, dtype=t.dtype)
        one[ROWS, COLS] = t
        one[COLS, ROWS] = t
        return one.expand(k, d, d)
    if ct == "diag":
        return torch.diag_embed(t.reshape(k, d))
    if ct == "spherical":
        return t[:, None, None] * eye
    if ct == "EEI":
        return torch.diag(t).expand(k, d, d)
    return (t[0] * eye).expand(k, d, d)  # EII


def _log_lik(x: np.ndarray, ct: str, k: int):
    """theta -> sum_i log sum_k w_k N(x_i | mu_k, S_k), theta = (w_1 .. w_{K-1}, means, the model's free
    covariance entries)."""
    pts = torch.as_tensor(x)
    d = x.shape[1]

    def log_lik(theta: torch.Tensor) -> torch.Tensor:
        weights = torch.cat([theta[: k - 1], 1 - theta[: k - 1].sum(dim=0, keepdim=True)])
        means = theta[k - 1 : k - 1 + k * d].reshape(k, d)
        cov = _covariances(theta[k - 1 + k * d :], ct, k, d)
        lp = torch.distributions.MultivariateNormal(means, covariance_matrix=cov).log_prob(pts[:, None, :])
        return torch.logsumexp(lp + torch.log(weights), dim=1).sum()

    return log_lik


def _theta(fitted: tuple[np.ndarray, ...], ct: str) -> torch.Tensor:
    w, m, c = fitted
    return torch.as_tensor(np.concatenate([w[:-1], m.ravel(), _free_entries(c, ct)]))


def _autograd_information(x: np.ndarray, fitted: tuple[np.ndarray, ...], ct: str) -> np.ndarray:
    """Minus the Hessian (P, P) of the log-likelihood (_log_lik) at the fit, by torch autograd."""
    return -torch.autograd.functional.hessian(_log_lik(x, ct, len(fitted[0])), _theta(fitted, ct)).numpy()


@pytest.mark.parametrize("ct", LINEAR)
def test_louis_equals_minus_the_hessian_by_autograd(ct: str) -> None:
    """K = 3, D = 3, 600 overlapping points, at the MLE and at a point off it (the identity is exact at any theta):
    Louis's information equals autograd's -Hessian in the model's own parameters (measured: at most 2e-15 of its
    largest entry over the five models)."""
    x = _mixture(600, 0)
    fitted = _fit(x, 3, ct)
    p = {"tied": 6, "diag": 9, "spherical": 3, "EEI": 3, "EII": 1}[ct] + 2 + 9
    for point in (fitted, (fitted[0], fitted[1] + 0.3, fitted[2] * 1.2)):
        ours = observed_information(x, point, covariance_type=ct)
        ref = _autograd_information(x, point, ct)
        assert ours.shape == (p, p)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-11 * np.abs(ref).max())


def test_one_component_gives_the_closed_forms() -> None:
    """K = 1 with the MLE (divisor n): SE(mean_a) = sqrt(v_a / n) for the model's variance v_a on axis a, SE of
    a variance sqrt(2 / n) v_a (diag, EEI), of the one variance sqrt(2 / (n D)) v (spherical, EII: n D squares
    estimate it); tied is full at K = 1 (SE(s_ab) = sqrt((s_aa s_bb + s_ab^2) / n)). Entries fixed at 0 have SE 0,
    the weight too (fixed at 1). Asserted to rtol 1e-12."""
    rng = np.random.default_rng(5)
    x = rng.multivariate_normal([1.0, -2.0, 0.5], [[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.7]], size=400)
    n, d = x.shape
    mean, cov = x.mean(axis=0), np.cov(x.T, bias=True)
    var, sphere = np.diag(cov), np.diag(cov).mean()
    full_se = np.sqrt((np.outer(var, var) + cov**2) / n)
    expected = {
        "tied": (cov, np.sqrt(var / n), full_se),
        "diag": (np.diag(var), np.sqrt(var / n), np.diag(np.sqrt(2.0 / n) * var)),
        "EEI": (np.diag(var), np.sqrt(var / n), np.diag(np.sqrt(2.0 / n) * var)),
        "spherical": (sphere * np.eye(d), np.full(d, np.sqrt(sphere / n)), np.sqrt(2.0 / (n * d)) * sphere * np.eye(d)),
        "EII": (sphere * np.eye(d), np.full(d, np.sqrt(sphere / n)), np.sqrt(2.0 / (n * d)) * sphere * np.eye(d)),
    }
    for ct, (model_cov, se_mean, se_cov) in expected.items():
        se = information(x, (np.ones(1), mean[None], model_cov[None]), ct).standard_errors()
        np.testing.assert_allclose(se["means"][0], se_mean, rtol=1e-12, err_msg=ct)
        np.testing.assert_allclose(se["covariances"][0], se_cov, rtol=1e-12, atol=0, err_msg=ct)
        assert se["weights"][0] == 0.0


# two components' true covariances of each model's form: the information assumes the model (the bootstrap does not)
TRUE = {
    "tied": ([[1.0, 0.3], [0.3, 0.9]],) * 2,
    "diag": (np.diag([1.0, 0.5]), np.diag([0.6, 0.9])),
    "spherical": (np.eye(2), 0.6 * np.eye(2)),
    "EEI": (np.diag([1.0, 0.5]),) * 2,
    "EII": (0.8 * np.eye(2),) * 2,
}


@pytest.mark.parametrize("ct", LINEAR)
def test_agrees_with_the_bootstrap_on_separated_clusters(ct: str) -> None:
    """N = 1500, K = 2, D = 2, well separated, drawn from the model: every standard error within 20% of the
    nonparametric bootstrap's (B = 400); a shared entry's is the same for every component, an entry fixed at 0 has
    0 in both (measured: ratios 0.96 to 1.08 over the five models; 0.87 to 1.15 over three data seeds each)."""
    rng = np.random.default_rng(11)
    first, second = TRUE[ct]
    x = np.concatenate(
        [
            rng.multivariate_normal([0.0, 0.0], first, size=900),
            rng.multivariate_normal([6.0, 4.0], second, size=600),
        ]
    )
    fitted = _fit(x, 2, ct)
    louis = _within_the_bootstrap(x, fitted, ct)
    if ct in ("tied", "EEI", "EII"):
        np.testing.assert_array_equal(louis["covariances"][0], louis["covariances"][1])


@pytest.mark.parametrize("ct", LINEAR)
def test_integer_weights_give_the_repeated_rows_information(ct: str) -> None:
    """Frequency weights 1..3 on 300 points: the information of the rows repeated that many times (measured: 1.6e-15
    of its largest entry)."""
    x = _mixture(300, 2)
    counts = np.random.default_rng(4).integers(1, 4, size=x.shape[0])
    fitted = _fit(x, 3, ct, weights=counts.astype(float))
    weighted = observed_information(x, fitted, counts.astype(float), ct)
    repeated = observed_information(np.repeat(x, counts, axis=0), fitted, covariance_type=ct)
    np.testing.assert_allclose(weighted, repeated, rtol=0, atol=1e-12 * np.abs(repeated).max())


def _polished(x: np.ndarray, fitted: tuple[np.ndarray, ...], ct: str) -> tuple[np.ndarray, ...]:
    """The fit moved to the exact maximum by three Newton steps on the reference log-likelihood (EM's tol leaves a
    gradient of 4e-3; after them 1e-13)."""
    k, d = fitted[1].shape
    log_lik, theta = _log_lik(x, ct, k), _theta(fitted, ct)
    for _ in range(3):
        step = torch.linalg.solve(
            -torch.autograd.functional.hessian(log_lik, theta), torch.autograd.functional.jacobian(log_lik, theta)
        )
        theta = theta + step
    t = theta.detach()
    w = torch.cat([t[: k - 1], 1 - t[: k - 1].sum(dim=0, keepdim=True)])
    return w.numpy(), t[k - 1 : k - 1 + k * d].reshape(k, d).numpy(), _covariances(t[k - 1 + k * d :], ct, k, d).numpy()


@pytest.mark.parametrize("ct", ["full", "tied", "diag", "EII"])  # orientation varying, shared, the axes; no shape
def test_the_smooth_route_equals_louis_at_the_maximum(ct: str) -> None:
    """At the exact maximum the delta method's standard errors do not depend on the parametrisation: autograd's in
    lambda_k D_k A_k D_k^T (information_smooth.py, which the eight constrained models take) equal Louis's in the
    free entries (measured: 3.3e-15 of the largest over the six linear models)."""
    x = _mixture(600, 0)
    model = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}.get(ct, ct)
    fitted = _polished(x, _fit(x, 3, ct), ct)
    louis = information(x, fitted, ct).standard_errors()
    info, jac = smooth_information(x, fitted, model)
    smooth = delta_standard_errors(np.linalg.inv(info), jac, 3, 3)
    for name, se in zip(louis, smooth, strict=True):
        np.testing.assert_allclose(se, louis[name], rtol=0, atol=1e-12 * louis[name].max(), err_msg=name)


def test_the_constrained_models_at_one_component_give_the_closed_forms() -> None:
    """K = 1: VEI and EVI are diag (lambda A is any positive diagonal), the six with an orientation are full
    (lambda D A D^T is any covariance): the closed forms of test_one_component_gives_the_closed_forms, by autograd
    in lambda, A, D (measured: 2e-15 relative)."""
    rng = np.random.default_rng(5)
    x = rng.multivariate_normal([1.0, -2.0, 0.5], [[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.7]], size=400)
    n = x.shape[0]
    mean, cov = x.mean(axis=0), np.cov(x.T, bias=True)
    var = np.diag(cov)
    for ct in CONSTRAINED:
        axis_aligned = ct[2] == "I"
        model_cov = np.diag(var) if axis_aligned else cov
        se = information(x, (np.ones(1), mean[None], model_cov[None]), ct)
        assert se.method == "autograd" and se.matrix.shape == (6 if axis_aligned else 9,) * 2
        expected = np.diag(np.sqrt(2.0 / n) * var) if axis_aligned else np.sqrt((np.outer(var, var) + cov**2) / n)
        np.testing.assert_allclose(se.means[0], np.sqrt(var / n), rtol=1e-12, err_msg=ct)
        np.testing.assert_allclose(se.covariances[0], expected, rtol=1e-12, atol=0, err_msg=ct)
        assert se.weights[0] == 0.0


def _lda(volume: float, shape: float, angle: float) -> np.ndarray:
    """lambda D A D^T (2, 2): A = diag(shape, 1 / shape), D the rotation by angle."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return volume * rot @ np.diag([shape, 1.0 / shape]) @ rot.T


# two components of each constrained model (volume, shape, orientation: E equal, V varying, I the axes)
CONSTRAINED_TRUE = {
    "VEI": (_lda(1.0, 1.6, 0.0), _lda(0.6, 1.6, 0.0)),
    "EVI": (_lda(0.8, 1.6, 0.0), _lda(0.8, 0.6, 0.0)),
    "VEE": (_lda(1.0, 1.6, 0.5), _lda(0.6, 1.6, 0.5)),
    "EVE": (_lda(0.8, 1.6, 0.5), _lda(0.8, 0.6, 0.5)),
    "VVE": (_lda(1.0, 1.6, 0.5), _lda(0.6, 0.5, 0.5)),
    "EEV": (_lda(0.8, 1.6, 0.5), _lda(0.8, 1.6, -0.7)),
    "VEV": (_lda(1.0, 1.6, 0.5), _lda(0.6, 1.6, -0.7)),
    "EVV": (_lda(0.8, 1.6, 0.5), _lda(0.8, 2.2, -0.7)),
}


def _separated(covariances: tuple[np.ndarray, np.ndarray], n: int = 1500) -> np.ndarray:
    """n points, 60% around (0, 0) and 40% around (6, 4), with the two covariances."""
    rng = np.random.default_rng(11)
    first = rng.multivariate_normal([0.0, 0.0], covariances[0], size=n * 3 // 5)
    return np.concatenate([first, rng.multivariate_normal([6.0, 4.0], covariances[1], size=n - first.shape[0])])


def _within_the_bootstrap(x: np.ndarray, fitted: tuple, ct: str) -> dict[str, np.ndarray]:
    """The information's standard errors of the K = 2 fit of x (N, 2): zero exactly where the nonparametric
    bootstrap's (B = 400) are, and within 20% of them elsewhere; returned."""
    ses = information(x, fitted, ct).standard_errors()
    cfg = FitConfig(n_components=2, covariance_type=ct, reg_covar=0.0, tol=1e-8, max_iter=1000)
    boot = bootstrap(x, fitted, cfg, 400, seed=1).standard_errors()
    for name in ("weights", "means", "covariances"):
        free = boot[name] > 0
        np.testing.assert_array_equal(ses[name] > 0, free, err_msg=name)
        ratio = ses[name][free] / boot[name][free]
        assert np.all(np.abs(ratio - 1.0) < 0.20), (name, ratio)
    return ses


@pytest.mark.parametrize("ct", ["EVI", "VVE", "EEV", "VEV"])
def test_the_constrained_models_agree_with_the_bootstrap(ct: str) -> None:
    """N = 1500, K = 2, D = 2, well separated, drawn from the model (an orientation fixed, shared and varying; a
    shape shared and varying): every standard error within 20% of the nonparametric bootstrap's (B = 400), the
    off-diagonals of EVI 0 in both (measured: ratios 0.92 to 1.09 over all eight; 0.85 to 1.18 over three data
    seeds each)."""
    x = _separated(CONSTRAINED_TRUE[ct])
    fitted = _fit(x, 2, ct)
    _within_the_bootstrap(x, fitted, ct)


@pytest.mark.parametrize("ct", ["VEI", "VEE", "EVE", "EVV"])  # the four the bootstrap test leaves
def test_the_constrained_models_integer_weights_give_the_repeated_rows_information(ct: str) -> None:
    """At the true parameters (of the model's form; the identity needs no maximum), frequency weights 1..3 on 200
    points give the repeated rows' information (measured: 2.5e-16 of its largest entry), in mclust's number of free
    parameters."""
    x = _separated(CONSTRAINED_TRUE[ct], 200)
    counts = np.random.default_rng(4).integers(1, 4, size=x.shape[0])
    point = (np.array([0.6, 0.4]), np.array([[0.0, 0.0], [6.0, 4.0]]), np.stack(CONSTRAINED_TRUE[ct]))
    weighted = information(x, point, ct, counts.astype(float)).matrix
    repeated = information(np.repeat(x, counts, axis=0), point, ct).matrix
    assert weighted.shape == (covariance_type(ct).n_parameters(2, 2),) * 2
    np.testing.assert_allclose(weighted, repeated, rtol=0, atol=1e-12 * np.abs(repeated).max())


def test_covariances_not_of_the_model_s_form_are_refused() -> None:
    x = _separated(CONSTRAINED_TRUE["EEV"], 200)
    point = (np.array([0.6, 0.4]), np.array([[0.0, 0.0], [6.0, 4.0]]), np.stack(CONSTRAINED_TRUE["VEV"]))
    with pytest.raises(UserError, match="the covariances are not of EEV's form"):
        information(x, point, "EEV")
    not_positive = np.array([[1.0, 2.0], [2.0, 1.0]])  # its log volume is NaN: refused, not NaN standard errors
    with pytest.raises(UserError, match="the covariances are not of EEV's form"):
        information(x, (point[0], point[1], np.stack([not_positive, not_positive])), "EEV")


def test_a_float32_fit_is_taken_at_its_precision() -> None:
    """A float32 fit's shared parts agree to its rounding (measured: its covariances 4e-8 from EEV's form, Old
    Faithful, K = 3): taken, not refused, and its standard errors within 2% of the float64 fit's (measured: 0.4%;
    the two fits stop at slightly different points)."""
    x = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    se = {}
    for dtype in ("float64", "float32"):
        cfg = FitConfig(n_components=3, covariance_type="EEV", reg_covar=0.0, seed=4, dtype=dtype, tol=1e-8)
        snap = run_to_end(x, cfg)
        se[dtype] = information(x, (snap.weights, snap.means, snap.covariances), "EEV").standard_errors()
    for name, ref in se["float64"].items():
        np.testing.assert_allclose(se["float32"][name], ref, rtol=0, atol=0.02 * ref.max(), err_msg=name)
