"""Every registered covariance model in a selection: either name (registry or mclust, any case) in a config, the
models in mclust's order, and the batched grid running a model whose components share a part (a test-only type
whose update divides by each component's scatter: a zero padded component must never enter it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import FitConfig, run_to_end
from engine.config import covariance_choices, covariance_names
from engine.errors import UserError
from engine.inference.collapse import collapses, points_needed
from engine.inference.grid import batchable, fit_cells
from engine.model.covariances import COVARIANCE_TYPES, MCLUST_MODELS, CovarianceType, register

TEST_TYPE = "test-shared-shape"


def _shared_shape(cov: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Each component's volume det(S_k)^(1/D), one shape-and-orientation for all: the mean of the components'
    unit-determinant S_k / det(S_k)^(1/D), scaled to determinant 1 (like mclust's VEE; not its exact M-step: the
    grid only has to run it as the lone fit does). A zero S_k (a padded component) gives 0/0."""
    d = cov.shape[-1]
    volume = torch.linalg.det(cov) ** (1.0 / d)  # (..., K)
    shape = (cov / volume[..., None, None]).mean(-3, keepdim=True)
    shape = shape / torch.linalg.det(shape)[..., None, None] ** (1.0 / d)
    return volume[..., None, None] * shape


@pytest.fixture
def fifth_type():
    """A registered type beyond the four, removed afterwards."""
    register(
        CovarianceType(
            TEST_TYPE,
            "test only: varying volume, one shape and orientation",
            lambda second, nk, outer, previous=None: _shared_shape(second / nk[..., None, None] - outer),
            _shared_shape,
            lambda k, d: k + d * (d + 1) // 2 - 1,
            lambda full: full.copy(),
        )
    )
    yield TEST_TYPE
    del COVARIANCE_TYPES[TEST_TYPE]


def test_a_config_takes_either_name_and_keeps_the_registrys() -> None:
    for name, kept in [("VVV", "full"), ("vvv", "full"), ("Eee", "tied"), ("VVI", "diag"), ("vii", "spherical")]:
        assert FitConfig(covariance_type=name).covariance_type == kept
        assert FitConfig(covariance_type=name).resolved().covariance_type == kept
    assert FitConfig(covariance_type="tied") == FitConfig(covariance_type="EEE")
    with pytest.raises(UserError) as caught:
        FitConfig(covariance_type="XYZ").resolved()
    assert str(caught.value) == f"unknown covariance type 'XYZ': choose one of {covariance_choices()}"
    assert "EEE (tied)" in covariance_choices() and "VVV (full)" in covariance_choices()


def test_the_models_come_in_mclusts_order_and_unnamed_ones_last(fifth_type) -> None:
    names = covariance_names()
    assert sorted(names) == sorted(COVARIANCE_TYPES) and names[-1] == fifth_type
    models = [COVARIANCE_TYPES[n].model for n in names[:-1]]
    assert models == [m for m in MCLUST_MODELS if m in models]
    assert names[:4] == ["spherical", "diag", "tied", "full"] or len(names) > 5  # VII, VVI, EEE, VVV


def test_the_batched_grid_runs_a_model_whose_components_share_a_part(faithful, fifth_type) -> None:
    """K = 1..4 of the test-only type padded to 4 beside full cells: each cell is its lone fit (on the old grid the
    padded components' 0/0 reached every component of the batch and the cells failed)."""
    cells = [
        FitConfig(n_components=k, covariance_type=t, restarts=2) for k in (1, 2, 3, 4) for t in (fifth_type, "full")
    ]
    assert batchable(len(faithful), cells)
    for result in fit_cells(faithful, cells):
        ref = run_to_end(faithful, result.config)
        assert result.snapshot is not None, result.error
        assert result.snapshot.iteration == ref.iteration
        assert result.snapshot.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-10)
        np.testing.assert_allclose(result.snapshot.covariances, ref.covariances, rtol=1e-8, atol=1e-10)


def test_the_points_a_component_needs_follow_mclusts_letters() -> None:
    """A fit is spurious where a component holds fewer points than its own part of the covariance needs: the four
    keep what they needed (full D + 1, tied 1, diag and spherical 2), and every mclust model has its count."""
    d = 3
    want = {"EII": 1, "EEI": 1, "EEE": 1, "EEV": 1, "EVV": d + 1, "VVV": d + 1}
    assert {m: points_needed(m, d) for m in MCLUST_MODELS} == {m: want.get(m, 2) for m in MCLUST_MODELS}
    assert points_needed("", d) == 2
    found = collapses(
        np.eye(3)[None].repeat(2, 0), np.array([0.999, 0.001]), np.zeros((2, 3)), 1000, np.zeros(3), "tied"
    )
    assert found == []  # one point is enough for a tied (EEE) component
    found = collapses(
        np.eye(3)[None].repeat(2, 0), np.array([0.999, 0.001]), np.zeros((2, 3)), 1000, np.zeros(3), "diag"
    )
    assert [c.component for c in found] == [1]
