"""The immutable settings of one fit."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .algorithms import ALGORITHMS
from .errors import UserError
from .fixed import FixedParams, fixed_checks
from .model.covariances import COVARIANCE_TYPES, MCLUST_MODELS
from .model.covariances import covariance_type as find_covariance_type
from .model.prior import PRIOR_MODELS
from .runtime.limits import MAX_ITER, MAX_RESTARTS, MAX_SEED

PRIORS = ("default",)  # mclust's priorControl(): the data-dependent conjugate prior of Fraley & Raftery 2007
INIT_METHODS = ("kmeans++", "kmeans", "random-data", "forum", "hc", "params")
SELECT_BY = ("final", "initial")
DTYPES = ("float64", "float32")
# What reg_covar is measured in: "relative" multiplies it by each column's variance (a fit is then the same
# whatever the data's units, from 1e-140 to 1e145); "data" adds it as it is, in the data's units, as
# scikit-learn's reg_covar does (exact parity with scikit-learn; what sessions saved before this choice meant).
REG_COVAR_UNITS = ("relative", "data")


def covariance_names() -> list[str]:
    """Every registered covariance type's registry name, in mclust's order (EII ... VVV); types without an mclust
    name last, in the order they were registered."""
    rank = {model: i for i, model in enumerate(MCLUST_MODELS)}
    types = list(COVARIANCE_TYPES.values())
    return [t.name for t in sorted(types, key=lambda t: (rank.get(t.model, len(rank)), types.index(t)))]


def covariance_choices() -> str:
    """The registered types for a message or a help text, in mclust's order, both names where they differ:
    'VII (spherical), VVI (diag), EEE (tied), VVV (full)'."""
    types = [COVARIANCE_TYPES[name] for name in covariance_names()]
    return ", ".join(t.model + (f" ({t.name})" if t.name != t.model else "") if t.model else t.name for t in types)


def algorithm_defaults(algorithm: str) -> dict[str, Any]:
    """The settings an algorithm uses where the user leaves them at None (tol, max_iter, init, ...)."""
    return dict(ALGORITHMS[algorithm].defaults)


@dataclass(frozen=True)
class InitParams:
    """Explicit initial parameters in data units: weights (K,), means (K, D), covariances (K, D, D)."""

    weights: tuple
    means: tuple
    covariances: tuple

    @classmethod
    def from_arrays(cls, weights, means, covariances) -> InitParams:
        """From array-likes (K,), (K, D), (K, D, D): nested tuples, so the config stays hashable."""
        w, m, c = (np.asarray(a, dtype=np.float64) for a in (weights, means, covariances))
        return cls(tuple(w.tolist()), tuple(map(tuple, m.tolist())), tuple(tuple(map(tuple, x)) for x in c.tolist()))


@dataclass(frozen=True)
class FitConfig:
    """Everything that decides a fit. None means "the algorithm's default" (see `resolved`)."""

    n_components: int = 3
    algorithm: str = "em"
    covariance_type: str = "full"
    init: str | None = None
    init_params: InitParams | None = None
    restarts: int = 1
    select_by: str | None = None
    seed: int = 0
    tol: float | None = None
    max_iter: int | None = None
    reg_covar: float = 1e-6
    reg_covar_units: str = "relative"
    device: str = "cpu"
    dtype: str = "float64"
    standardize: bool | None = None
    lr: float | None = None
    betas: tuple[float, float] | None = None
    empty_policy: str = "reseed"
    prior: str | None = None  # "default": mclust's default conjugate prior, MAP EM (engine/model/prior.py)
    fixed: FixedParams | None = None  # pinned weights, means, covariances of init_params (engine/fixed.py)
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # either name is accepted (full or VVV, any case); the registry's is kept, so that exports, sessions and
        # comparisons see one name per model
        if isinstance(self.covariance_type, str):
            try:
                object.__setattr__(self, "covariance_type", find_covariance_type(self.covariance_type).name)
            except KeyError:
                pass  # validate() names the choices

    @property
    def memory_factor(self) -> float:
        """The algorithm's working memory against exact EM's (runtime.limits.fit_bytes's factor)."""
        return ALGORITHMS[self.algorithm].memory_factor

    def resolved(self) -> FitConfig:
        """This config with every None replaced by the algorithm's default, validated."""
        if not _known(self.algorithm, ALGORITHMS):
            raise UserError(f"unknown algorithm {self.algorithm!r}: choose one of {', '.join(ALGORITHMS)}")
        defaults = ALGORITHMS[self.algorithm].defaults
        filled = {k: (getattr(self, k) if getattr(self, k) is not None else v) for k, v in defaults.items()}
        if self.init_params is not None:
            filled["init"] = "params"
        if self.fixed is not None and self.init_params is not None:  # every weight but one pinned pins that one
            filled["fixed"] = self.fixed.completed(len(self.init_params.weights))
        cfg = replace(self, **filled)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise UserError naming the first setting that is out of range (or of the wrong type)."""
        self._check_numbers()
        for ok, message in [*self._range_checks(), *self._algorithm_checks(), *fixed_checks(self)]:
            if not ok:
                raise UserError(message)

    def _check_numbers(self) -> None:
        """The algorithm's name, tol, reg_covar and seed, which the range checks compare, are of the right type."""
        if not _known(self.algorithm, ALGORITHMS):
            raise UserError(f"unknown algorithm {self.algorithm!r}: choose one of {', '.join(ALGORITHMS)}")
        for name in ("tol", "reg_covar"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UserError(f"{name.replace('_', '-')} must be a finite number, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise UserError(f"seed must be a whole number from 0 to {MAX_SEED} (2**62), got {self.seed!r}")

    def _range_checks(self) -> list[tuple[bool, str]]:
        """(in range, the message if not) for every setting but the algorithm's own limits."""
        return [
            (
                _whole(self.n_components) and self.n_components >= 1,
                f"number of components must be a whole number >= 1, got {self.n_components!r}",
            ),
            (
                _known(self.covariance_type, COVARIANCE_TYPES),
                f"unknown covariance type {self.covariance_type!r}: choose one of {covariance_choices()}",
            ),
            (
                self.init in INIT_METHODS,
                f"unknown initialisation {self.init!r}: choose one of {', '.join(INIT_METHODS[:-1])} "
                "or a parameters JSON file",
            ),
            (
                self.init != "params" or self.init_params is not None,
                "init 'params' needs explicit initial parameters (a parameters JSON file)",
            ),
            (
                _whole(self.restarts) and 1 <= self.restarts <= MAX_RESTARTS,
                f"restarts must be a whole number from 1 to {MAX_RESTARTS:,}, got {self.restarts!r:.40}",
            ),
            (self.select_by in SELECT_BY, f"select-by must be one of {', '.join(SELECT_BY)}, got {self.select_by!r}"),
            (self.tol >= 0, f"tol must be >= 0, got {self.tol}"),
            (
                _whole(self.max_iter) and 0 <= self.max_iter <= MAX_ITER,
                f"max-iter must be a whole number from 0 to {MAX_ITER:,}, got {self.max_iter!r:.40}",
            ),
            (self.reg_covar >= 0, f"reg-covar must be >= 0, got {self.reg_covar}"),
            (
                self.reg_covar_units in REG_COVAR_UNITS,
                f"reg-covar-units must be one of {', '.join(REG_COVAR_UNITS)}, got {self.reg_covar_units!r}",
            ),
            (self.lr is None or (_real(self.lr) and self.lr > 0), f"lr must be a number > 0, got {self.lr!r}"),
            (
                self.betas is None or (len(self.betas) == 2 and all(_real(b) and 0 <= b < 1 for b in self.betas)),
                f"betas must be two numbers in [0, 1), got {self.betas!r}",
            ),
            (self.dtype in DTYPES, f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}"),
            (
                isinstance(self.device, str) and (self.device == "cpu" or self.device.startswith("cuda")),
                f"device must be 'cpu' or 'cuda' (or 'cuda:N'), got {self.device!r}",
            ),
            (
                self.empty_policy in ("reseed", "report"),
                f"empty-policy must be 'reseed' or 'report', got {self.empty_policy!r}",
            ),
        ]

    def _algorithm_checks(self) -> list[tuple[bool, str]]:
        """(supported, the message if not): the covariance type and the device the algorithm can run."""
        algorithm = ALGORITHMS[self.algorithm]
        supported = algorithm.supported_covariance_types()
        return [
            *self._prior_checks(),
            (
                self.covariance_type in supported,
                f"{self.algorithm} ({algorithm.description}) fits {' or '.join(supported)} covariances only: "
                f"use --covariance {supported[0]}",
            ),
            (
                not isinstance(self.device, str) or self.device.split(":")[0] in algorithm.devices,
                f"{self.algorithm} runs on {' or '.join(algorithm.devices)} only, not {self.device!r}",
            ),
        ]

    def _prior_checks(self) -> list[tuple[bool, str]]:
        """(allowed, the message if not): a prior is mclust's default one, for exact EM and the ten models mclust
        fits it for."""
        if self.prior is None:
            return []
        model = COVARIANCE_TYPES[self.covariance_type].model if _known(self.covariance_type, COVARIANCE_TYPES) else ""
        return [
            (self.prior in PRIORS, f"prior must be one of {', '.join(PRIORS)}, got {self.prior!r:.40}"),
            (
                self.algorithm == "em",
                f"--prior fits the MAP estimate by exact EM: use --algorithm em, not {self.algorithm}",
            ),
            (
                model in PRIOR_MODELS,
                f"--prior: mclust fits no prior for {model or self.covariance_type}; "
                f"use one of {', '.join(PRIOR_MODELS)}",
            ),
        ]


def _known(name, registry: dict) -> bool:
    """Whether name is a string registered there (a session file may hold anything, a list even)."""
    return isinstance(name, str) and name in registry


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
