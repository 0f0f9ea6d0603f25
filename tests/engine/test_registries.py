"""The algorithm and covariance-type registries: a new entry is all a new algorithm or type needs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import engine
from engine import FitConfig, run_to_end
from engine.algorithms import Algorithm
from engine.errors import UserError
from engine.inference.em import ExactEM
from engine.io.export import information_criteria
from engine.model.covariances import CovarianceType


class ToyEM(ExactEM):
    """A test-only algorithm: exact EM under another name, built through the protocol's constructor."""


TOY = Algorithm(
    "toy-em",
    ToyEM,
    "exact EM again, registered by a test",
    dict(engine.ALGORITHMS["em"].defaults),
    covariance_types=("full", "diag"),
)


def _tied_spherical_update(second, nk, outer, previous=None):
    tied = engine.COVARIANCE_TYPES["tied"].update(second, nk, outer, previous)
    return engine.COVARIANCE_TYPES["spherical"].project(tied, None)


def _tied_spherical_project(cov, weights=None):
    tied = engine.COVARIANCE_TYPES["tied"].project(cov, weights)
    return engine.COVARIANCE_TYPES["spherical"].project(tied, None)


# one variance shared by every component (mclust's EII)
EII = CovarianceType(
    "eii",
    "one variance for every component and axis",
    _tied_spherical_update,
    _tied_spherical_project,
    lambda k, d: 1,
    lambda full: np.array(full[0, 0, 0]),
    isotropic=True,
)


def test_a_registered_algorithm_fits_through_the_protocol(monkeypatch, faithful) -> None:
    monkeypatch.setitem(engine.ALGORITHMS, "toy-em", TOY)
    toy = run_to_end(faithful, FitConfig(algorithm="toy-em", n_components=2, restarts=2))
    em = run_to_end(faithful, FitConfig(algorithm="em", n_components=2, restarts=2))
    assert toy.config.algorithm == "toy-em" and toy.iteration == em.iteration
    np.testing.assert_array_equal(toy.means, em.means)
    with pytest.raises(
        UserError,
        match=r"^toy-em \(exact EM again, registered by a test\) fits full or diag "
        r"covariances only: use --covariance full$",
    ):
        FitConfig(algorithm="toy-em", covariance_type="tied").resolved()


def test_gradient_procedures_fit_full_covariances_only() -> None:
    for name in ("gradient-em", "marginal"):
        with pytest.raises(UserError, match=rf"^{name} \(.*\) fits full covariances only: use --covariance full$"):
            FitConfig(algorithm=name, covariance_type="diag").resolved()


def test_a_registered_covariance_type_is_fitted_and_counted(monkeypatch, faithful) -> None:
    monkeypatch.setitem(engine.COVARIANCE_TYPES, "eii", EII)
    snap = run_to_end(faithful, FitConfig(n_components=3, covariance_type="eii", restarts=3))
    cov = snap.covariances
    # every component the same multiple of the identity
    np.testing.assert_allclose(cov, np.broadcast_to(cov[0, 0, 0] * np.eye(2), cov.shape), rtol=1e-12)
    spherical = run_to_end(faithful, FitConfig(n_components=3, covariance_type="spherical", restarts=3))
    assert snap.log_likelihood < spherical.log_likelihood  # fewer freedoms, a lower maximum
    bic, _ = information_criteria(snap.log_likelihood, len(faithful), 3, 2, "eii")
    assert bic == pytest.approx(-2 * snap.log_likelihood + (1 + 3 * 2 + 2) * np.log(len(faithful)))


def test_the_registries_refuse_a_name_twice() -> None:
    with pytest.raises(ValueError, match="already registered"):
        engine.algorithms.register(replace(TOY, name="em"))
    with pytest.raises(ValueError, match="already registered"):
        engine.model.covariances.register(replace(EII, name="full"))
    with pytest.raises(ValueError, match="has no default for tol"):
        engine.algorithms.register(replace(TOY, name="toy-2", defaults={}))
