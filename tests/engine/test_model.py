"""The one Pyro model: the fast E-step, enumeration and the forum loss all evaluate the same mixture."""

from __future__ import annotations

import numpy as np
import pyro
import pytest
import torch
from data_sets import blobs
from pyro.infer import TraceEnum_ELBO, config_enumerate
from scipy.stats import multivariate_normal

from engine.model import gaussian
from engine.model.model import AssignedNormal, InverseCdfCategorical, MixtureModel, forum_loss, pyro_section


def _random_params(r: int, k: int, d: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    weights = torch.softmax(torch.randn(r, k, generator=g, dtype=torch.float64), -1)
    means = torch.randn(r, k, d, generator=g, dtype=torch.float64) * 2
    a = torch.randn(r, k, d, d, generator=g, dtype=torch.float64)
    cov = a @ a.transpose(-1, -2) + 0.5 * torch.eye(d, dtype=torch.float64)
    return weights, means, cov


@pytest.mark.parametrize("d", [1, 2, 3])
def test_fast_log_joint_equals_the_pyro_model_and_scipy(d: int) -> None:
    weights, means, cov = _random_params(4, 3, d, seed=d)
    x = torch.as_tensor(np.random.default_rng(d).normal(size=(50, d)) * 2)
    fast = gaussian.quadratic_features(x) @ gaussian.log_joint_coefficients(
        torch.log(weights), means, torch.linalg.cholesky(cov)
    ).transpose(-1, -2)
    model = MixtureModel(weights, means, torch.linalg.cholesky(cov))
    torch.testing.assert_close(fast, model.log_joint(x).detach(), rtol=1e-10, atol=1e-10)
    ref = np.log(weights[1, 2].item()) + multivariate_normal(means[1, 2].numpy(), cov[1, 2].numpy()).logpdf(x.numpy())
    np.testing.assert_allclose(fast[1, :, 2].numpy(), ref, rtol=1e-10)


@pytest.mark.parametrize(("chunk", "segment"), [(None, None), (37, None), (4096, 512), (1000, 300), (None, 10_000)])
def test_fused_e_step_equals_the_model_responsibilities(chunk, segment) -> None:
    # the fused, chunked, in-place E-step against responsibilities from the Pyro model's log-joint, with
    # its statistics' product cut into segments (with a remainder) or not
    weights, means, cov = _random_params(5, 3, 2, seed=7)
    x = torch.as_tensor(blobs(3, 2500))
    features = gaussian.quadratic_features(x)
    coef = gaussian.log_joint_coefficients(torch.log(weights), means, torch.linalg.cholesky(cov))
    stats, log_norm = gaussian.e_step_statistics(features, coef, chunk=chunk, segment=segment)
    lj = MixtureModel(weights, means, torch.linalg.cholesky(cov)).log_joint(x).detach()  # (R, N, K)
    resp = torch.softmax(lj, -1)
    torch.testing.assert_close(log_norm, torch.logsumexp(lj, -1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(stats, resp.transpose(-1, -2) @ features, rtol=1e-10, atol=1e-10)


def test_assigned_normal_equals_the_mvn_of_the_gathered_parameters() -> None:
    # the recipe's formulation: MultivariateNormal(means[z], scale_tril[z]) per point; values and gradients
    weights, means, cov = _random_params(3, 4, 2, seed=8)
    x = torch.as_tensor(blobs(4, 120))
    z = torch.randint(0, 4, (3, 120), generator=torch.Generator().manual_seed(1))
    restart = torch.arange(3).unsqueeze(-1)
    results = []
    for assigned in (True, False):
        m = means.clone().requires_grad_()
        tril = torch.linalg.cholesky(cov).requires_grad_()
        if assigned:
            d = AssignedNormal(
                pyro.distributions.MultivariateNormal(m.unsqueeze(-3), scale_tril=tril.unsqueeze(-4)), z, 120
            )
        else:
            d = pyro.distributions.MultivariateNormal(m[restart, z], scale_tril=tril[restart, z])
        lp = d.log_prob(x)
        lp.sum().backward()
        results.append((lp.detach(), m.grad, tril.grad))
        assert d.batch_shape == (3, 120)
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_inverse_cdf_categorical_draws_the_categorical_distribution(dtype) -> None:
    # frequencies of 400,000 draws per row against the probabilities, within 5 standard errors; a category
    # of probability 0 (logit -inf) or far below float resolution is never drawn
    probs = torch.tensor([[0.2, 0.5, 0.3], [0.0, 0.999, 0.001], [1e-30, 0.5, 0.5]], dtype=torch.float64)
    d = InverseCdfCategorical(logits=torch.log(probs).to(dtype))
    torch.manual_seed(0)
    draws = d.sample((400_000,))  # (400000, 3)
    assert draws.shape == (400_000, 3) and draws.dtype == torch.int64
    freq = torch.nn.functional.one_hot(draws, 3).double().mean(0)  # (3 rows, 3 categories)
    stderr = torch.sqrt(probs * (1 - probs) / 400_000)
    assert torch.all((freq - probs).abs() <= 5 * stderr + 1e-12), (freq, probs)
    assert freq[1, 0] == 0 and freq[2, 0] == 0


def test_enumerated_model_loss_is_minus_the_log_likelihood() -> None:
    weights, means, cov = _random_params(3, 4, 2, seed=5)
    x = torch.as_tensor(blobs(0, 90))
    model = MixtureModel(weights, means, torch.linalg.cholesky(cov))
    loss = TraceEnum_ELBO(max_plate_nesting=2).differentiable_loss(
        config_enumerate(model.model, default="parallel"), lambda data: None, x
    )
    log_lik = torch.logsumexp(model.log_joint(x), -1).sum()
    assert loss.item() == pytest.approx(-log_lik.item(), rel=1e-12)


def test_forum_loss_is_the_complete_data_log_probability_at_the_sampled_z() -> None:
    weights, means, cov = _random_params(2, 3, 2, seed=6)
    x = torch.as_tensor(blobs(1, 60))
    model = MixtureModel(weights, means, torch.linalg.cholesky(cov))
    rng = torch.Generator().manual_seed(0)
    with pyro_section(rng):
        trace = pyro.poutine.trace(model.posterior_guide).get_trace(x)
    z = trace.nodes["z"]["value"]  # (R, N)
    rng = torch.Generator().manual_seed(0)  # same stream: same z
    with pyro_section(rng):
        loss, _ = forum_loss(model, x)
    lj = model.log_joint(x)  # (R, N, K)
    expected = -lj.gather(-1, z.unsqueeze(-1)).squeeze(-1).sum(-1)
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=1e-8)


def test_fits_never_touch_the_global_param_store() -> None:
    from engine import FitConfig, run_to_end

    pyro.clear_param_store()
    run_to_end(blobs(2, 90), FitConfig(n_components=2, algorithm="gradient-em", max_iter=3))
    run_to_end(blobs(2, 90), FitConfig(n_components=2, algorithm="marginal", max_iter=3))
    assert len(pyro.get_param_store()) == 0
