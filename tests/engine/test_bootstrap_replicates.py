"""The bootstrap (issue 25): replicates as rows of one batched EM with one weight vector a row. References are
independent: each row fitted alone with its weights, the closed form of the mean's standard error at K = 1, and
mclust's MclustBootstrap standard errors on Old Faithful (tests/data/mclust/make_bootstrap_reference.R)."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import FitConfig, InitParams, run_to_end
from engine.errors import UserError
from engine.model import gaussian
from engine.selection.bootstrap import bootstrap, replicate_weights

MCLUST = Path(__file__).resolve().parents[1] / "data" / "mclust"


def _faithful() -> np.ndarray:
    return np.loadtxt(MCLUST / "faithful.csv", delimiter=",", skiprows=1)


def _tied3() -> FitConfig:
    """mclust's EEE, G = 3, from its hc start, reg_covar 0 (mclust adds none)."""
    return FitConfig(n_components=3, covariance_type="tied", init="hc", reg_covar=0.0)


def _fitted(x: np.ndarray, cfg: FitConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    snap = run_to_end(x, cfg)
    return snap.weights, snap.means, snap.covariances


@pytest.mark.parametrize("d", [2, 12])  # quadratic features; whitened distances (D >= 11, R*K <= D / 2)
def test_per_row_weights_give_each_row_its_own_weighted_sums(d: int) -> None:
    """The E-step with weights (R, N) equals R E-steps with one weight vector (N,) each: the same statistics and
    log p(x) up to the products' rounding (their blocking differs with the rows; measured: 9e-16 relative with
    features, 2.3e-13 with whitened distances)."""
    rng = np.random.default_rng(1)
    r, k, n = 3, 2, 5000
    x = torch.as_tensor(rng.normal(size=(n, d)))
    w = torch.as_tensor(rng.exponential(size=(r, n)))
    log_w = torch.log(torch.as_tensor(rng.dirichlet(np.ones(k), size=r)))
    means = torch.as_tensor(rng.normal(size=(r, k, d)))
    chol = torch.linalg.cholesky(torch.eye(d) * torch.as_tensor(rng.uniform(0.5, 2.0, size=(r, k, 1, 1))))

    def e_step(rows: slice, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if d > 10:
            return gaussian.whitened_statistics(x, log_w[rows], means[rows], chol[rows], weights=weights)
        coef = gaussian.log_joint_coefficients(log_w[rows], means[rows], chol[rows])
        return gaussian.e_step_statistics(gaussian.features_of(x), coef, weights=weights)

    assert gaussian.use_whitened(d, r * k) == (d > 10)
    stats, log_norm = e_step(slice(None), w)
    for i in range(r):
        alone, alone_norm = e_step(slice(i, i + 1), w[i])
        torch.testing.assert_close(stats[i : i + 1], alone, rtol=1e-11, atol=0)
        torch.testing.assert_close(log_norm[i : i + 1], alone_norm, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["nonparametric", "weighted"])
def test_each_replicate_is_its_lone_weighted_fit(kind: str) -> None:
    """Batched = alone: replicate b of the batch ends where a fit of the data with replicate b's weights, started
    from the fit's parameters, ends, both run to tol 1e-13. The replicates go on from EM's first step by Anderson
    acceleration (selection/replicate_anderson.py), the lone fit by plain EM: the same fixed point, each stopped by
    its rule a little short of it on its own side (EM's rate here is 0.99): measured 8.7e-6 apart, relative, at most
    (8.4e-6 with SQUAREM alone)."""
    x = _faithful()
    cfg = replace(_tied3(), tol=1e-13, max_iter=5000)
    fitted = _fitted(x, _tied3())
    boot = bootstrap(x, fitted, cfg, 4, kind, seed=7)
    rows = replicate_weights(kind, len(x), 4, np.random.default_rng(7))  # the same draw: the seed's first
    assert boot.weights.shape == (4, 3) and boot.failed == 0 and boot.not_converged == 0
    alone_cfg = replace(cfg, init="params", init_params=InitParams.from_arrays(*fitted))
    for b in range(4):
        alone = run_to_end(x, alone_cfg, weights=rows[b])
        order = [int(np.argmin(np.abs(alone.means[:, 1] - m))) for m in boot.means[b, :, 1]]
        np.testing.assert_allclose(boot.weights[b], alone.weights[order], rtol=1e-4)
        np.testing.assert_allclose(boot.means[b], alone.means[order], rtol=1e-4)
        np.testing.assert_allclose(boot.covariances[b], alone.covariances[order], rtol=1e-4)


def test_all_rows_in_another_order_take_each_rows_own_weights() -> None:
    """use_rows with every row of the weights (R, N) in another order: the E-step's row i has the weights of row
    rows[i]. All R rows were taken as 0..R-1 whatever their order: the bootstrap's rows handed to SQUAREM at
    different steps each went on with another replicate's weights (replicate_anderson.py)."""
    from engine.inference.sources import PointsInMemory

    rng = np.random.default_rng(4)
    r, k, n, d = 4, 2, 300, 2
    x = torch.as_tensor(rng.normal(size=(n, d)))
    w = torch.as_tensor(rng.exponential(size=(r, n)))
    log_w = torch.log(torch.full((r, k), 0.5, dtype=torch.float64))
    means = torch.as_tensor(rng.normal(size=(r, k, d)))
    chol = torch.eye(d, dtype=torch.float64).expand(r, k, d, d).clone()
    source = PointsInMemory(x, w)
    order = torch.tensor([2, 0, 3, 1])
    source.use_rows(order)
    stats, _ = source.e_step(log_w, means, chol)
    for i, row in enumerate(order.tolist()):
        source.use_rows(torch.tensor([row]))
        alone, _ = source.e_step(log_w[i : i + 1], means[i : i + 1], chol[i : i + 1])
        torch.testing.assert_close(stats[i : i + 1], alone, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("kind", "n_plus"),
    [("nonparametric", 0), ("parametric", 0), ("weighted", 1)],
)
def test_k1_mean_standard_error_is_the_closed_form(kind: str, n_plus: int) -> None:
    """K = 1: each replicate's mean is the (re)sample's mean, whose standard deviation is sd / sqrt(n) (the
    Bayesian bootstrap's Dirichlet weights: sd / sqrt(n + 1)), sd the data's (divided by n). B = 2000: the
    standard deviation of a standard error estimated from B replicates is about 1 / sqrt(2B) = 1.6% of it, so
    5% is three of them."""
    rng = np.random.default_rng(3)
    x = rng.normal([1.0, -2.0], [0.5, 3.0], size=(400, 2))
    cfg = FitConfig(n_components=1, covariance_type="full", init="kmeans")
    boot = bootstrap(x, _fitted(x, cfg), cfg, 2000, kind, seed=11)
    expected = x.std(axis=0) / np.sqrt(len(x) + n_plus)
    np.testing.assert_allclose(boot.standard_errors()["means"][0], expected, rtol=0.05)
    assert boot.standard_errors()["weights"][0] == 0.0  # one component: its weight is 1 in every replicate


def _mclust_reference() -> list[dict]:
    with open(MCLUST / "bootstrap_faithful_eee3.csv") as f:
        return list(csv.DictReader(f))


def test_standard_errors_agree_with_mclust_bootstrap_on_old_faithful() -> None:
    """Old Faithful, EEE (tied), G = 3, nonparametric: our standard errors from B = 500 replicates within 35% of
    MclustBootstrap's (nboot = 999, type "bs") for every weight, mean and covariance entry (the issue's bound).
    Measured at seeds 0 to 4: ratios 0.92 to 1.24 (the largest for the small component overlapping another), their
    mean 1.02 to 1.06; at B = 200, 0.91 to 1.28 (replicates stopped at plain EM's rule); here (seed 0) 0.92 to
    1.12 (1.10 stopped at that rule)."""
    x = _faithful()
    cfg = _tied3()
    fitted = _fitted(x, cfg)
    boot = bootstrap(x, fitted, cfg, 500, "nonparametric", seed=0)
    se = boot.standard_errors()
    ref = _mclust_reference()
    ours_of = {}  # mclust's component -> ours: the nearest estimated mean
    for row in (r for r in ref if r["parameter"] == "mean" and r["i"] == "1"):
        ours_of[row["component"]] = int(np.argmin(np.abs(fitted[1][:, 1] - float(row["estimate"]))))
    assert sorted(ours_of.values()) == [0, 1, 2]
    ratios = []
    for row in ref:
        k, i, j = ours_of[row["component"]], int(row["i"]), int(row["j"])
        ours = {"pro": se["weights"][k], "mean": se["means"][k, i], "variance": se["covariances"][k, i, j]}
        ratios.append(ours[row["parameter"]] / float(row["se"]))
    assert len(ratios) == 21
    assert 0.65 <= min(ratios) and max(ratios) <= 1.35, np.round(ratios, 3)


def test_intervals_hold_the_estimate_and_the_export_says_how_they_were_made() -> None:
    x = _faithful()
    cfg = _tied3()
    fitted = _fitted(x, cfg)
    boot = bootstrap(x, fitted, cfg, 50, "weighted", seed=5)
    lo, hi = boot.intervals()["means"]
    assert np.all(lo < fitted[1]) and np.all(fitted[1] < hi)
    meta = boot.meta()
    assert meta["bootstrap"].pop("iterations") >= 1
    assert meta["bootstrap"] == {
        "B": 50,
        "type": "weighted",
        "seed": 5,
        "used": 50,
        "failed": 0,
        "not_converged": 0,
    }
    assert meta["intervals"]["level"] == 0.95
    np.testing.assert_allclose(meta["intervals"]["weights"]["lower"], np.quantile(boot.weights, 0.025, axis=0))
    np.testing.assert_allclose(meta["standard_errors"]["covariances"], boot.covariances.std(axis=0, ddof=1))


def test_bad_requests_are_one_line() -> None:
    x = _faithful()
    cfg = _tied3()
    fitted = _fitted(x, cfg)
    with pytest.raises(UserError, match="at least 2 replicates"):
        bootstrap(x, fitted, cfg, 1)
    with pytest.raises(UserError, match="unknown bootstrap type 'jackknife'"):
        bootstrap(x, fitted, cfg, 10, "jackknife")


def _three_point_cluster() -> tuple[np.ndarray, tuple[np.ndarray, ...], FitConfig]:
    """200 points around 0 and a cluster of three points far away, fitted by K = 2 with reg_covar 0: a replicate
    that draws too few of the three can make that component's covariance singular (mclust's rule), and fails."""
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.normal(0.0, 1.0, (200, 2)), [[10.0, 10.0], [10.3, 10.1], [10.1, 10.4]]])
    cfg = FitConfig(n_components=2, covariance_type="full", init="kmeans", reg_covar=0.0)
    return x, _fitted(x, cfg), cfg


def test_failed_replicates_are_left_out_and_counted() -> None:
    x, fitted, cfg = _three_point_cluster()
    boot = bootstrap(x, fitted, cfg, 40, "nonparametric", seed=0)
    assert boot.failed > 0 and boot.weights.shape[0] == 40 - boot.failed >= 2
    assert np.isfinite(boot.standard_errors()["covariances"]).all()
    assert boot.meta()["bootstrap"]["failed"] == boot.failed


def test_too_few_replicates_left_is_one_line() -> None:
    x, fitted, cfg = _three_point_cluster()
    with pytest.raises(UserError, match="1 of 2 bootstrap replicates failed .* too many for a standard error"):
        bootstrap(x, fitted, cfg, 2, "nonparametric", seed=2)  # seed 2: the second replicate fails (7 of 40 do)


def test_weighted_data_resamples_in_proportion_to_the_weights() -> None:
    """With frequency weights w, nonparametric counts are Multinomial(sum w, w / sum w): each replicate draws
    sum w points, never one of weight 0, and a point's mean count is its weight (over 4000 replicates its standard
    error is at most sqrt(3 / 4000) = 0.03 here, so 0.15 is five of them); the weighted type keeps zeros at zero
    and sums to sum w."""
    w = np.array([0.0, 1.0, 3.0, 2.0, 0.0, 1.0])
    counts = replicate_weights("nonparametric", len(w), 4000, np.random.default_rng(0), w)
    assert (counts.sum(axis=1) == w.sum()).all() and (counts[:, w == 0] == 0).all()
    np.testing.assert_allclose(counts.mean(axis=0), w, atol=0.15)
    bayes = replicate_weights("weighted", len(w), 50, np.random.default_rng(0), w)
    np.testing.assert_allclose(bayes.sum(axis=1), w.sum())
    assert (bayes[:, w == 0] == 0).all() and (bayes[:, w > 0] > 0).all()


@pytest.mark.parametrize("n", [1, 272, 1001])
def test_nonparametric_counts_are_the_generators_draws_with_replacement(n: int) -> None:
    """Each row of nonparametric counts is the count of each point among N indices drawn with replacement by
    Generator.integers(0, N), the B rows' draws one after another (as one (B, N) draw): the seed's resamples, the
    same whichever way replicate_weights draws and counts them."""
    drawn = np.random.default_rng(5).integers(0, n, size=(7, n))
    expected = np.stack([np.bincount(row, minlength=n) for row in drawn]).astype(np.float64)
    np.testing.assert_array_equal(replicate_weights("nonparametric", n, 7, np.random.default_rng(5)), expected)
