"""The one Pyro definition of the Gaussian mixture, shared by every inference procedure.

Parameters live in a PyroModule with module-local parameters, so each fit owns its parameters and no fit
reads or writes Pyro's global parameter store. Pyro's effect-handler stack is process-global, though, so
every section that runs Pyro handlers (trace, replay, enumeration) holds PYRO_LOCK and uses the fit's own
random-number state (see `pyro_section`); two fits in two threads then give the same results as alone.

Shapes: R restarts (a batch dimension everywhere), N points, K components, D dimensions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pyro
import pyro.distributions as dist
import torch
from pyro.nn import PyroModule, PyroParam
from pyro.ops.indexing import Vindex
from torch.distributions import constraints

pyro.settings.set(module_local_params=True)

PYRO_LOCK = threading.RLock()


@contextmanager
def pyro_section(rng: torch.Generator, device_rng: torch.Generator | None = None) -> Iterator[None]:
    """Hold the Pyro lock and run with the fit's own random-number state: Pyro samples from torch's global
    generators, the CPU one, and on a GPU that device's one (device_rng, a generator on that device)."""
    with PYRO_LOCK:
        saved = torch.get_rng_state()
        torch.set_rng_state(rng.get_state())
        if device_rng is not None:
            device = device_rng.device
            saved_device = torch.cuda.get_rng_state(device)
            torch.cuda.set_rng_state(device_rng.get_state(), device)
        try:
            yield
        finally:
            rng.set_state(torch.get_rng_state())
            torch.set_rng_state(saved)
            if device_rng is not None:
                device_rng.set_state(torch.cuda.get_rng_state(device))
                torch.cuda.set_rng_state(saved_device, device)


def device_generator(rng: torch.Generator, device: torch.device) -> torch.Generator | None:
    """A generator on a GPU device seeded like rng (the fit's CPU stream), or None on the CPU."""
    if device.type != "cuda":
        return None
    return torch.Generator(device=device).manual_seed(rng.initial_seed())


class MixtureModel(PyroModule):
    """z_n ~ Categorical(weights), x_n ~ MultivariateNormal(mean_z, scale_tril_z), batched over restarts.

    weights (R, K) on the simplex; means (R, K, D); scale_tril (R, K, D, D) constrained lower-Cholesky,
    so the covariance scale_tril @ scale_tril^T is always valid (the forum recipe's factor @ diag(scale)
    is not: see forum-algorithm.md).
    """

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, scale_tril: torch.Tensor) -> None:
        super().__init__()
        self.weights = PyroParam(weights, constraint=constraints.simplex)
        self.means = PyroParam(means)
        self.scale_tril = PyroParam(scale_tril, constraint=constraints.lower_cholesky)

    @property
    def n_restarts(self) -> int:
        return self.means.shape[0]

    def log_joint(self, data: torch.Tensor) -> torch.Tensor:
        """log p(z = k, x_n) for every point and component: (R, N, K). The exact E-step's input."""
        weights, means, scale_tril = self.weights, self.means, self.scale_tril
        components = dist.MultivariateNormal(means.unsqueeze(-3), scale_tril=scale_tril.unsqueeze(-4),
                                             validate_args=False)  # batch (R, 1, K)
        return torch.log(weights).unsqueeze(-2) + components.log_prob(data.unsqueeze(-2))

    def forward(self, data: torch.Tensor) -> None:
        """The generative model (the Pyro model). data (N, D)."""
        r, n = self.n_restarts, data.shape[0]
        weights, means, scale_tril = self.weights, self.means, self.scale_tril  # one read per parameter
        with pyro.plate("restarts", r, dim=-2), pyro.plate("data", n, dim=-1):
            z = pyro.sample("z", dist.Categorical(weights.unsqueeze(-2), validate_args=False))
            # component parameters of each point's assignment: (R, N, D) and (R, N, D, D); the index
            # broadcasts over Pyro's enumeration dimensions too (z then has shape (K, 1, 1))
            restart = torch.arange(r, device=data.device).unsqueeze(-1)  # (R, 1)
            loc = Vindex(means)[restart, z]
            tril = Vindex(scale_tril)[restart, z]
            pyro.sample("x", dist.MultivariateNormal(loc, scale_tril=tril, validate_args=False), obs=data)

    model = forward

    def posterior_guide(self, data: torch.Tensor) -> torch.Tensor:
        """The forum recipe's guide: sample z from its exact posterior under the SAME parameters.

        Returns the per-point log-likelihood log p(x_n) (R, N), computed on the way.
        """
        with torch.no_grad():
            log_joint = self.log_joint(data)
        with pyro.plate("restarts", self.n_restarts, dim=-2), pyro.plate("data", data.shape[0], dim=-1):
            pyro.sample("z", dist.Categorical(logits=log_joint, validate_args=False))
        return torch.logsumexp(log_joint, dim=-1)


def forum_loss(module: MixtureModel, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The forum recipe's loss: minus the model's complete-data log-probability replayed at the guide's z.

    Returns per-restart losses (R,) (differentiable) and per-point log-likelihoods (R, N) (no grad).
    Call inside `pyro_section`.
    """
    guide_trace = pyro.poutine.trace(module.posterior_guide).get_trace(data)
    log_lik = guide_trace.nodes["_RETURN"]["value"]
    model_trace = pyro.poutine.trace(pyro.poutine.replay(module.model, trace=guide_trace)).get_trace(data)
    complete = sum(model_trace.nodes[site]["fn"].log_prob(model_trace.nodes[site]["value"]) for site in "zx")
    return -complete.sum(-1), log_lik

