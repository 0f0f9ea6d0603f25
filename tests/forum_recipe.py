"""A plain re-implementation of the forum recipe as written (see docs/forum-algorithm.md).

The reference that gradient-em is measured against: parameters in Pyro's GLOBAL parameter store, a Python
loop over components, factor @ diag(scale) as the "Cholesky" scale, a custom EM loss (trace the guide,
replay the model, minus the log-probability sum), pyro.optim.Adam(lr 0.001, betas (0.8, 0.99)) through
SVI, and best-of-N seeds by initial loss. Not part of the product: the tests and bench/bench_gradient_em.py
measure gradient-em against it.

tests/data/make_forum_recipe.py ran it once with the recipe's own settings (tests/data/forum_recipe.json).
"""

from __future__ import annotations

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.infer import SVI
from torch.distributions import constraints


def _params(k: int, d: int):
    weights = pyro.param("weights", lambda: torch.ones(k) / k, constraint=constraints.simplex)
    means = pyro.param("means", lambda: torch.randn(k, d))
    factor = pyro.param("cholesky_factor", lambda: torch.eye(d).repeat(k, 1, 1))
    scale_diag = pyro.param("scale_diag", lambda: torch.ones(k, d), constraint=constraints.positive)
    scales = torch.stack([factor[j] @ torch.diag(scale_diag[j]) for j in range(k)])
    return weights, means, scales


def make_model_and_guide(k: int, d: int):
    def model(data):
        weights, means, scales = _params(k, d)
        with pyro.plate("data", data.shape[0]):
            z = pyro.sample("z", dist.Categorical(weights))
            pyro.sample("x", dist.MultivariateNormal(means[z], scale_tril=scales[z]), obs=data)

    def guide(data):
        weights, means, scales = _params(k, d)
        with torch.no_grad():
            log_probs = torch.stack(
                [
                    torch.log(weights[j]) + dist.MultivariateNormal(means[j], scale_tril=scales[j]).log_prob(data)
                    for j in range(k)
                ],
                dim=-1,
            )
        with pyro.plate("data", data.shape[0]):
            pyro.sample("z", dist.Categorical(logits=log_probs))

    return model, guide


def em_loss(model, guide, *args, **kwargs):
    guide_trace = poutine.trace(guide).get_trace(*args, **kwargs)
    model_trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(*args, **kwargs)
    return -model_trace.log_prob_sum()


def mean_log_likelihood(data: torch.Tensor) -> float:
    """Mean per-point log-likelihood of the data under the current global parameters."""
    store = pyro.get_param_store()
    weights, means = store["weights"].detach(), store["means"].detach()
    factor, scale_diag = store["cholesky_factor"].detach(), store["scale_diag"].detach()
    scales = factor @ torch.diag_embed(scale_diag)
    comps = dist.MultivariateNormal(means, scale_tril=scales)
    log_probs = torch.log(weights) + comps.log_prob(data.unsqueeze(-2))
    return float(torch.logsumexp(log_probs, -1).mean())


def run_recipe(data: np.ndarray, k: int = 3, steps: int = 10_000, n_seeds: int = 100) -> dict:
    """Best-of-n_seeds by initial loss, then `steps` SVI steps. Returns the fitted parameters and LL."""
    x = torch.as_tensor(data, dtype=torch.float32)
    model, guide = make_model_and_guide(k, x.shape[1])
    optim = pyro.optim.Adam({"lr": 0.001, "betas": (0.8, 0.99)})
    svi = SVI(model, guide, optim, loss=em_loss)

    def initialise(seed: int) -> float:
        pyro.set_rng_seed(seed)
        pyro.clear_param_store()
        return float(svi.loss(model, guide, x).detach())

    losses = [initialise(seed) for seed in range(n_seeds)]
    best_seed = int(np.argmin(losses))
    initialise(best_seed)
    for _ in range(steps):
        svi.step(x)
    store = pyro.get_param_store()
    return {
        "seed": best_seed,
        "weights": store["weights"].detach().numpy().copy(),
        "means": store["means"].detach().numpy().copy(),
        "mean_log_likelihood": mean_log_likelihood(x),
    }
