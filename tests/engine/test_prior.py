"""mclust's default conjugate prior and its MAP M-steps against mclust 6.0.0 (issue 24, the prior).

The references are exported once by tests/data/mclust/make_prior_reference.R (prior_reference.json; the tests never
call R): defaultPrior on faithful at G = 3 for the fourteen models; mstep(model, faithful, z, prior =
priorControl()) for the ten models mclust fits with a prior, z a fixed random responsibility matrix (set.seed(24));
the same on iris (D = 4) at G = 4 with a strong shrinkage (0.5) and nu = D + 5.5, so that no denominator's D, K and
nu can be confused; me() from z and mclustBIC(faithful, G = 3, prior = priorControl()) with its hc start.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.model.prior import (
    DIAGONAL,
    NO_PRIOR_MODELS,
    PER_AXIS_SCALING_MODELS,
    PRIOR_MODELS,
    Prior,
    default_prior,
    prior_to_std,
)
from engine.model.prior_fit import log_responsibilities, mixture_log_likelihood, prior_bic
from engine.model.prior_mstep import map_mstep, map_weights, scatter_from_moments, sufficient_statistics

DATA = Path(__file__).resolve().parents[1] / "data" / "mclust"
REF = json.loads((DATA / "prior_reference.json").read_text())
FAITHFUL = np.loadtxt(DATA / "faithful.csv", delimiter=",", skiprows=1)
ALL_MODELS = PRIOR_MODELS[:7] + NO_PRIOR_MODELS[:3] + PRIOR_MODELS[7:9] + NO_PRIOR_MODELS[3:] + PRIOR_MODELS[9:]


def as_prior(p: dict, model: str) -> Prior:
    """mclust's prior list as ours (a diagonal model's scale is one number in mclust, one per axis here)."""
    mean, scale = np.array(p["mean"]), np.array(p["scale"])
    scale = np.full(mean.shape, scale) if model in DIAGONAL else scale
    return Prior(shrinkage=p["shrinkage"], mean=mean, dof=p["dof"], scale=scale)


def relative_error(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Largest error relative to the reference's largest magnitude (entries near 0 in a matrix are measured
    against the matrix's scale, not their own)."""
    theirs = np.asarray(theirs, dtype=np.float64)
    return float(np.abs(np.asarray(ours) - theirs).max() / np.abs(theirs).max())


def map_fit(model: str, x: np.ndarray, z: np.ndarray, prior: Prior, flavour: str = "em") -> tuple[np.ndarray, ...]:
    """Our weights (K,), means (K, D) and covariances (K, D, D) from responsibilities z (N, K)."""
    xt, zt = torch.as_tensor(x), torch.as_tensor(z)[None]
    nk, ybar, scatter = sufficient_statistics(xt, zt)
    means, covs = map_mstep(model, nk, ybar, scatter, prior, flavour)
    return map_weights(nk)[0].numpy(), means[0].numpy(), covs[0].numpy()


def test_the_default_prior_is_mclusts_for_each_family() -> None:
    assert tuple(REF["prior"]) == ALL_MODELS  # mclust's order of the fourteen
    for model, theirs in REF["prior"].items():
        ours = default_prior(FAITHFUL, 3, model)
        assert ours.shrinkage == theirs["shrinkage"] == 0.01 and ours.dof == theirs["dof"] == 4
        assert relative_error(ours.mean, theirs["mean"]) < 1e-14
        scale = np.asarray(theirs["scale"])  # mclust: a number for the spherical and diagonal models
        expected = np.full(2, scale) if ours.family == "diagonal" else scale
        assert np.shape(ours.scale) == np.shape(expected) and relative_error(ours.scale, expected) < 1e-13, model


# mclust's EM (me) and its stand-alone mstep() compute EEI, EVI and EEV otherwise: each flavour against its own
# (me_once: me() stopped after its first M-step, which returns that M-step's parameters)
FLAVOURS = [("em", "me_once"), ("mstep", "mstep_tight")]


@pytest.mark.parametrize("model", PRIOR_MODELS)
@pytest.mark.parametrize(("flavour", "key"), FLAVOURS)
def test_the_map_mstep_is_mclusts_on_faithful(model: str, flavour: str, key: str) -> None:
    theirs = REF[key][model]  # the inner loops (VEI, VEV) run to 1e-14 in R too
    pro, means, covs = map_fit(model, FAITHFUL, np.array(REF["z"]), default_prior(FAITHFUL, 3, model), flavour)
    assert relative_error(pro, theirs["pro"]) < 1e-13
    assert relative_error(means, theirs["mean"]) < 1e-13
    for k in range(3):
        assert relative_error(covs[k], theirs["sigma"][k]) < 1e-12, (model, k)  # measured: at most 6e-15


@pytest.mark.parametrize("model", PRIOR_MODELS)
def test_mclusts_default_inner_tolerance_stops_near_the_fixed_point(model: str) -> None:
    """mstep() with mclust's default inner tolerance (sqrt(eps): VEI, VEV stop a little short)."""
    _, _, covs = map_fit(model, FAITHFUL, np.array(REF["z"]), default_prior(FAITHFUL, 3, model), "mstep")
    assert max(relative_error(covs[k], REF["mstep"][model]["sigma"][k]) for k in range(3)) < 1e-11  # VEV: 4e-13


@pytest.mark.parametrize("model", PRIOR_MODELS)
@pytest.mark.parametrize(("flavour", "key"), FLAVOURS)
def test_the_map_mstep_is_mclusts_in_four_dimensions_with_a_strong_prior(model: str, flavour: str, key: str) -> None:
    iris = REF["iris"]
    theirs = iris[key.removesuffix("_tight")][model]
    x, z = np.array(iris["x"]), np.array(iris["z"])
    pro, means, covs = map_fit(model, x, z, as_prior(iris["prior"][model], model), flavour)
    assert relative_error(pro, theirs["pro"]) < 1e-13
    assert relative_error(means, theirs["mean"]) < 1e-13
    for k in range(4):
        assert relative_error(covs[k], theirs["sigma"][k]) < 1e-12, (model, k)  # measured: at most 6e-15


@pytest.mark.parametrize("model", ["VEI", "EEV", "VEV", "EII"])
def test_restarts_are_independent(model: str) -> None:
    """Two restarts in one batch give what each gives alone (the shared sums run per restart)."""
    z = np.array(REF["z"])
    prior = default_prior(FAITHFUL, 3, model)
    both = torch.as_tensor(np.stack([z, z[:, ::-1].copy()]))
    means, covs = map_mstep(model, *sufficient_statistics(torch.as_tensor(FAITHFUL), both), prior)
    for r in range(2):
        _, alone_means, alone_covs = map_fit(model, FAITHFUL, both[r].numpy(), prior)
        assert relative_error(covs[r].numpy(), alone_covs) < 1e-12
        assert relative_error(means[r].numpy(), alone_means) < 1e-14


def test_the_four_models_without_a_prior_and_a_wrong_prior_are_refused_in_one_line() -> None:
    stats = sufficient_statistics(torch.as_tensor(FAITHFUL), torch.as_tensor(np.array(REF["z"]))[None])
    for model in NO_PRIOR_MODELS:
        with pytest.raises(ValueError, match=f"model {model} is not fitted with a prior"):
            map_mstep(model, *stats, default_prior(FAITHFUL, 3, model))
    with pytest.raises(ValueError, match="a spherical prior's scale does not suit model VVV"):
        map_mstep("VVV", *stats, default_prior(FAITHFUL, 3, "EII"))
    with pytest.raises(ValueError, match="model 'XYZ' has no default prior"):
        default_prior(FAITHFUL, 3, "XYZ")
    with pytest.raises(ValueError, match="prior shrinkage 0"):
        Prior(shrinkage=0, mean=np.zeros(2), dof=4, scale=1.0)
    with pytest.raises(ValueError, match=r"prior scale of shape \(2, 2\): give a symmetric positive definite"):
        Prior(shrinkage=0.01, mean=np.zeros(2), dof=4, scale=np.array([[1.0, 2.0], [2.0, 1.0]]))


def params_of(fit: dict) -> tuple[torch.Tensor, ...]:
    """mclust's (pro, mean, sigma) as batched tensors (1, K), (1, K, D), (1, K, D, D)."""
    return tuple(torch.as_tensor(np.array(fit[key]))[None] for key in ("pro", "mean", "sigma"))


@pytest.mark.parametrize("model", PRIOR_MODELS)
def test_mclusts_loglik_with_a_prior_is_the_plain_log_likelihood_at_the_map_parameters(model: str) -> None:
    fit = REF["me"][model]
    ours = float(mixture_log_likelihood(torch.as_tensor(FAITHFUL), *params_of(fit))[0])
    assert abs(ours - fit["loglik"]) < 1e-11 * abs(fit["loglik"])  # measured: 5e-12 absolute
    assert fit["plain_loglik"] == pytest.approx(fit["loglik"], rel=1e-13)  # R's own estep() at me()'s answer


def mclust_prior_bic() -> dict[str, float]:
    """mclustBIC(faithful, G = 3, prior = priorControl()) by model (make_reference.R), NA for the four."""
    with open(DATA / "mclust_prior_faithful_k3.csv") as f:
        return {row["model"]: float(row["bic"]) if row["bic"] != "NA" else math.nan for row in csv.DictReader(f)}


@pytest.mark.parametrize("model", PRIOR_MODELS)
def test_the_bic_with_a_prior_is_mclusts_from_its_parameters(model: str) -> None:
    fit = REF["select"][model]
    loglik = float(mixture_log_likelihood(torch.as_tensor(FAITHFUL), *params_of(fit))[0])
    ours = prior_bic(loglik, len(FAITHFUL), fit["n_parameters"])
    assert abs(-ours - mclust_prior_bic()[model]) < 1e-8
    assert all(math.isnan(mclust_prior_bic()[m]) for m in NO_PRIOR_MODELS)


def map_em(model: str, x: np.ndarray, z: np.ndarray, prior: Prior, tol: float) -> tuple[float, int]:
    """MAP EM from responsibilities z (N, K) with mclust's stopping rule (relative change of the plain
    log-likelihood below tol, measured after each E-step): (final log-likelihood, iterations)."""
    xt, resp = torch.as_tensor(x), torch.as_tensor(z)[None]
    previous, iteration = math.inf, 0
    while True:
        iteration += 1
        nk, ybar, scatter = sufficient_statistics(xt, resp)
        means, covs = map_mstep(model, nk, ybar, scatter, prior)
        weights = map_weights(nk)
        loglik = float(mixture_log_likelihood(xt, weights, means, covs)[0])
        resp = log_responsibilities(xt, weights, means, covs).exp()
        if abs(previous - loglik) / (1 + abs(loglik)) <= tol or iteration >= 1000:
            return loglik, iteration
        previous = loglik


@pytest.mark.parametrize("model", PRIOR_MODELS)
def test_map_em_from_mclusts_hc_start_reaches_its_bic(model: str) -> None:
    fit = REF["select"][model]
    prior = default_prior(FAITHFUL, 3, model)
    loglik, iterations = map_em(model, FAITHFUL, np.array(REF["hc_z"], dtype=np.float64), prior, REF["em_tol"][0])
    ours = prior_bic(loglik, len(FAITHFUL), fit["n_parameters"])
    assert abs(-ours - mclust_prior_bic()[model]) < 1e-7  # the issue asks 0.01; measured: at most 6e-10 (VEV)
    assert iterations == fit["iterations"]  # the same path, step for step


SCALINGS = [(model, False) for model in PRIOR_MODELS] + [(model, True) for model in PER_AXIS_SCALING_MODELS]


@pytest.mark.parametrize(("model", "per_axis"), SCALINGS)
def test_the_map_mstep_on_standardised_data_maps_back_to_the_one_on_the_data(model: str, per_axis: bool) -> None:
    """The engine fits standardised data: with prior_to_std the MAP parameters map back exactly (per-axis scales
    for the models that commute with them, one common scale for all)."""
    z = np.array(REF["z"])
    center = np.array([3.5, 70.0])
    scale = np.array([1.1, 13.0]) if per_axis else np.array([9.0, 9.0])
    prior = default_prior(FAITHFUL, 3, model)
    _, means, covs = map_fit(model, FAITHFUL, z, prior)
    _, std_means, std_covs = map_fit(model, (FAITHFUL - center) / scale, z, prior_to_std(prior, center, scale))
    assert relative_error(std_means * scale + center, means) < 1e-14
    assert relative_error(std_covs * np.outer(scale, scale), covs) < 1e-12


def test_a_spherical_prior_refuses_per_axis_scales() -> None:
    with pytest.raises(ValueError, match="a spherical prior needs one common scale on every axis"):
        prior_to_std(default_prior(FAITHFUL, 3, "VII"), np.zeros(2), np.array([1.0, 2.0]))


def test_the_scatter_from_the_engines_raw_moments_is_the_centred_one() -> None:
    x = torch.as_tensor((FAITHFUL - FAITHFUL.mean(0)) / FAITHFUL.std(0))  # standardised, as the engine fits
    resp = torch.as_tensor(np.array(REF["z"]))[None]
    nk, ybar, scatter = sufficient_statistics(x, resp)
    second = torch.einsum("rnk,ni,nj->rkij", resp, x, x)
    assert relative_error(scatter_from_moments(second, nk, ybar).numpy(), scatter.numpy()) < 1e-13
