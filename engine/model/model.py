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
from pyro.distributions.torch_distribution import TorchDistribution
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
    is not: see docs/forum-algorithm.md).
    """

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, scale_tril: torch.Tensor) -> None:
        super().__init__()
        self.weights = PyroParam(weights, constraint=constraints.simplex)
        self.means = PyroParam(means)
        self.scale_tril = PyroParam(scale_tril, constraint=constraints.lower_cholesky)

    @property
    def n_restarts(self) -> int:
        return self.means.shape[0]

    def components(self) -> dist.MultivariateNormal:
        """The K component distributions of every restart: batch shape (R, 1, K), event (D,)."""
        return dist.MultivariateNormal(
            self.means.unsqueeze(-3), scale_tril=self.scale_tril.unsqueeze(-4), validate_args=False
        )

    def log_joint(self, data: torch.Tensor) -> torch.Tensor:
        """log p(z = k, x_n) for every point and component: (R, N, K). The exact E-step's input."""
        return torch.log(self.weights).unsqueeze(-2) + self.components().log_prob(data.unsqueeze(-2))

    def forward(self, data: torch.Tensor) -> None:
        """The generative model (the Pyro model). data (N, D)."""
        r, n = self.n_restarts, data.shape[0]
        weights = self.weights  # one read per parameter
        with pyro.plate("restarts", r, dim=-2), pyro.plate("data", n, dim=-1):
            z = pyro.sample("z", dist.Categorical(weights.unsqueeze(-2), validate_args=False))
            pyro.sample("x", AssignedNormal(self.components(), z, n), obs=data)

    model = forward

    def posterior_guide(self, data: torch.Tensor) -> torch.Tensor:
        """The forum recipe's guide: sample z from its exact posterior under the SAME parameters.

        Returns the per-point log-likelihood log p(x_n) (R, N), computed on the way.
        """
        with torch.no_grad():
            log_joint = self.log_joint(data)
        with pyro.plate("restarts", self.n_restarts, dim=-2), pyro.plate("data", data.shape[0], dim=-1):
            pyro.sample("z", InverseCdfCategorical(logits=log_joint, validate_args=False))
        return torch.logsumexp(log_joint, dim=-1)


class InverseCdfCategorical(dist.Categorical):
    """A Categorical that samples by inverse CDF: one uniform per draw, against torch.multinomial's one
    exponential per category plus a softmax. Exact, like it, and several times faster (bench_gradient_em.py).
    Used for the guide's posterior draws."""

    def sample(self, sample_shape: tuple[int, ...] = ()) -> torch.Tensor:
        shape = torch.Size(sample_shape) + self.batch_shape
        cdf = torch.cumsum(torch.exp(self.logits), dim=-1).expand(shape + self.logits.shape[-1:])
        # scaled by the total so that rounding in the sum can never leave u past the last category
        u = torch.rand(shape, dtype=cdf.dtype, device=cdf.device) * cdf[..., -1]
        # the first k with u < cdf_k: the number of cdf_k <= u among the first K-1
        return (cdf[..., :-1] <= u.unsqueeze(-1)).sum(-1)


class AssignedNormal(TorchDistribution):
    """x_n ~ MultivariateNormal(mean_{z_n}, scale_tril_{z_n}): each point from the component it is assigned.

    The recipe writes this as an MVN over the gathered per-point parameters, whose log_prob then solves a
    D x D triangular system for every point (docs/design.md: keep the hot path off per-point solves). Here the
    log-density is every component's MVN log-density at x (one triangular solve per component, all points
    as right-hand sides), picked at z_n: the same numbers and gradients, with N times fewer solves. z may
    carry Pyro's enumeration dimensions: z (K, 1, 1) gives (K, R, N).
    """

    arg_constraints: dict = {}
    support = constraints.real_vector

    def __init__(self, components: dist.MultivariateNormal, z: torch.Tensor, n_points: int) -> None:
        self.components = components  # batch (R, 1, K)
        self.z = z  # (..., R, N) component indices, or (K, 1, 1) when enumerated
        batch_shape = torch.broadcast_shapes(z.shape, (components.batch_shape[0], n_points))
        super().__init__(batch_shape, components.event_shape, validate_args=False)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """value (N, D) -> (..., R, N)."""
        per_component = self.components.log_prob(value.unsqueeze(-2))  # (R, N, K)
        r, n = per_component.shape[-3:-1]
        restart = torch.arange(r, device=value.device).unsqueeze(-1)  # (R, 1)
        point = torch.arange(n, device=value.device)  # (N,)
        return Vindex(per_component)[restart, point, self.z]

    def sample(self, sample_shape: tuple[int, ...] = ()) -> torch.Tensor:
        r = self.components.batch_shape[0]
        restart = torch.arange(r, device=self.z.device).unsqueeze(-1)
        loc = Vindex(self.components.loc.squeeze(-3))[restart, self.z]
        tril = Vindex(self.components.scale_tril.squeeze(-4))[restart, self.z]
        return dist.MultivariateNormal(loc, scale_tril=tril, validate_args=False).sample(torch.Size(sample_shape))


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
