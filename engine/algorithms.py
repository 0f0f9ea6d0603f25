"""The registry of inference procedures: name -> procedure class, defaults, what it supports, one line.

`fitting.fit` builds a procedure through this registry and drives it only through the `Procedure` protocol;
the command line's choices, the window's algorithm list, its default hints and the Compare tab read it too.
A new algorithm is one module with a class that follows the protocol, plus one `register` call here.

Importing this module does not import torch: a procedure class given as "module:Class" loads when a fit
first needs it (the window lists the algorithms before the engine's torch part has loaded).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .model.covariances import COVARIANCE_TYPES

if TYPE_CHECKING:
    from .procedure import Procedure

# The settings an algorithm's defaults must fill where the user leaves them at None.
DEFAULTED = ("tol", "max_iter", "init", "select_by", "standardize", "lr", "betas")


@dataclass(frozen=True)
class Algorithm:
    """One inference procedure over the mixture model."""

    name: str
    procedure: str | type  # the class, or "engine.module:Class" imported on first use
    description: str  # one line, for help texts and the window's hints
    defaults: Mapping[str, Any]  # a value for every name in DEFAULTED
    covariance_types: tuple[str, ...] | None = None  # None: every registered type
    devices: tuple[str, ...] = ("cpu", "cuda")
    batched_restarts: bool = True  # restarts run as one batch
    exact: bool = False  # reaches the likelihood's fixed point exactly: the reference others are compared with
    # working memory per point, component and restart against exact EM's (runtime.limits.fit_bytes): measured as
    # peak resident memory above a one-restart fit, 20,000 points, K=3, 200 restarts, 20 iterations: em 0.27 GB
    # (its estimate 0.55 GB), gradient-em 1.29 GB, marginal 2.36 GB (Pyro's traces and autograd's graph)
    memory_factor: float = 1.0

    def supported_covariance_types(self) -> tuple[str, ...]:
        return tuple(COVARIANCE_TYPES) if self.covariance_types is None else self.covariance_types

    def procedure_class(self) -> type[Procedure]:
        if not isinstance(self.procedure, str):
            return self.procedure
        module, name = self.procedure.split(":")
        return getattr(importlib.import_module(module), name)


ALGORITHMS: dict[str, Algorithm] = {}


def register(algorithm: Algorithm) -> Algorithm:
    """Add an algorithm (its name must be new, its defaults complete)."""
    if algorithm.name in ALGORITHMS:
        raise ValueError(f"algorithm {algorithm.name!r} is already registered")
    missing = [k for k in DEFAULTED if k not in algorithm.defaults]
    if missing:
        raise ValueError(f"algorithm {algorithm.name!r} has no default for {', '.join(missing)}")
    ALGORITHMS[algorithm.name] = algorithm
    return algorithm


register(
    Algorithm(
        "em",
        "engine.inference.em:ExactEM",
        "exact EM: closed-form E and M steps, restarts batched",
        dict(tol=1e-6, max_iter=1000, init="kmeans++", select_by="final", standardize=True, lr=None, betas=None),
        exact=True,
    )
)
# The forum recipe as published: 10,000 Adam steps, lr 0.001, betas (0.8, 0.99), no early stop, its own
# initialisation, the restart with the lowest initial loss trained alone, no standardisation. Its covariance is
# a free lower-Cholesky factor: full covariances only (so is marginal's).
register(
    Algorithm(
        "gradient-em",
        "engine.inference.gradient_em:ForumGradientEM",
        "the forum recipe: Adam on the complete-data loss at posterior draws of z",
        dict(
            tol=0.0, max_iter=10_000, init="forum", select_by="initial", standardize=False, lr=1e-3, betas=(0.8, 0.99)
        ),
        covariance_types=("full",),
        memory_factor=2.5,
    )
)
register(
    Algorithm(
        "marginal",
        "engine.inference.marginal:MarginalSVI",
        "Adam on the marginal likelihood (Pyro's TraceEnum_ELBO, z summed out)",
        dict(
            tol=1e-8, max_iter=3000, init="kmeans++", select_by="final", standardize=True, lr=0.02, betas=(0.9, 0.999)
        ),
        covariance_types=("full",),
        memory_factor=4.5,
    )
)
