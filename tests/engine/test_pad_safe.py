"""Every registered covariance model treats a component with N_k = 0 as absent (CovarianceType.pad_safe), so the
grid's padded batch calls each type's M-step once per iteration, whatever K its cells have."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import FitConfig
from engine.inference.em import ExactEM
from engine.inference.grid import fit_cells
from engine.model import gaussian
from engine.model.covariances import COVARIANCE_TYPES, MCLUST_MODELS, covariance_type
from engine.model.features import quadratic_features

D, K, PAD = 3, 4, 2  # K real components, PAD padded ones after them


def _statistics(rng: np.random.Generator, n_padded: int) -> torch.Tensor:
    """S (2, K + n_padded, P) = resp^T F for 60 random points: two restarts' responsibilities over K real
    components, zero columns for the padded ones (a weight-0 component's responsibility is exactly 0)."""
    x = torch.as_tensor(rng.normal(size=(60, D)) * [1.0, 3.0, 0.5] + rng.normal(size=(60, 1)))
    resp = torch.as_tensor(rng.dirichlet(np.ones(K), size=(2, 60)))  # (2, N, K)
    resp = torch.cat([resp, resp.new_zeros(2, 60, n_padded)], -1)
    return resp.transpose(-1, -2) @ quadratic_features(x)


def _previous(name: str, stats: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """Covariances of the type's form (2, K, D, D) that are not this step's answer: the update on perturbed
    statistics (the iterative updates start from them)."""
    perturbed = stats * torch.linspace(0.8, 1.2, stats.shape[1], dtype=stats.dtype)[:, None]
    return gaussian.m_step(perturbed, 60, name, reg, None)[2]


@pytest.mark.parametrize("reg_value", [0.0, 1e-3])
@pytest.mark.parametrize("model", MCLUST_MODELS)
def test_a_padded_component_changes_no_real_one(model: str, reg_value: float) -> None:
    """The M-step of K real components and of those plus two with N_k = 0 (zero sums; identity as their previous
    covariance, as the grid holds them) agree to 1e-12 on the real ones, shared parts included, whether reg_covar
    enters the scatter or not; the padded ones' own values are finite. Measured: at most 1.7e-15 of the largest
    entry."""
    name = covariance_type(model).name
    assert COVARIANCE_TYPES[name].pad_safe
    rng = np.random.default_rng(1)
    reg = torch.full((D,), reg_value, dtype=torch.float64)
    stats = _statistics(rng, 0)
    padded_stats = torch.cat([stats, stats.new_zeros(2, PAD, stats.shape[-1])], 1)
    previous = _previous(name, stats, reg)
    padded_previous = torch.cat([previous, torch.eye(D, dtype=previous.dtype).expand(2, PAD, D, D)], 1)
    alone = gaussian.m_step(stats, 60, name, reg, previous)
    padded = gaussian.m_step(padded_stats, 60, name, reg, padded_previous)
    for got, want in zip(padded, alone, strict=True):
        assert bool(torch.isfinite(got).all())
        scale = want.abs().amax()
        torch.testing.assert_close(got[:, :K] / scale, want / scale, rtol=0.0, atol=1e-12)


def test_the_grid_calls_each_types_update_once_per_iteration(faithful, monkeypatch) -> None:
    """Three models with shared parts (EEI, VEE, EVV; none isotropic, so one batch), K = 1..3: every M-step of
    the batch calls each type's update once, padded to K = 3 (the old grid called it once per (type, K)), and the
    cells' answers are those of the batches of one K each (no padding)."""
    calls: list[list[int]] = []  # per M-step of the batch, the K of each update it called
    real_m_step, real_batch_step = gaussian.m_step, ExactEM._m_step

    def counting(stats, *args, **kwargs):
        if calls:
            calls[-1].append(stats.shape[1])
        return real_m_step(stats, *args, **kwargs)

    def batch_step(self, rows, stats):
        calls.append([])
        return real_batch_step(self, rows, stats)

    cells = [FitConfig(n_components=k, covariance_type=m, seed=0) for m in ("EEI", "VEE", "EVV") for k in (1, 2, 3)]
    alone = {
        r.config: r.snapshot for k in (1, 2, 3) for r in fit_cells(faithful, [c for c in cells if c.n_components == k])
    }
    monkeypatch.setattr(gaussian, "m_step", counting)
    monkeypatch.setattr(ExactEM, "_m_step", batch_step)
    results = list(fit_cells(faithful, cells))
    assert calls and all(len(step) <= 3 and set(step) <= {3} for step in calls)  # one padded call per type
    assert len(calls[0]) == 3
    for result in results:
        ref = alone[result.config]
        assert result.snapshot.iteration == ref.iteration
        assert result.snapshot.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-10)
