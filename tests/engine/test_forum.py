"""The forum recipe, faithfully and better: gradient-em against the plain re-implementation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine import FitConfig, run_to_end
from engine.io.data import forum_sample as forum_data


@pytest.mark.slow
def test_gradient_em_ends_at_least_as_high_as_the_plain_recipe() -> None:
    """Recipe settings on both sides: seeds 0..99, best by initial loss, 10,000 Adam steps, float32.

    Only the end says it: the order changes along the way. Measured every 250 steps: the recipe is ahead until
    1,000 steps (by 1.76 per point at 250: the two draw different z), gradient-em from 1,250 on, by 0.0011 at
    the least (5,500 steps), 0.0037 at 10,000 (the recipe still climbing, gradient-em on EM's solution from
    about 7,000). No shorter run gives the recipe's end, so both run all 10,000 steps: ours here, the recipe's end
    read from tests/data/forum_recipe.json (tests/data/make_forum_recipe.py ran tests/forum_recipe.py once with
    these settings: 20-35 s that the suite no longer spends on every run)."""
    recipe = json.loads((Path(__file__).resolve().parents[1] / "data" / "forum_recipe.json").read_text())
    assert recipe["settings"] == {"n": 1000, "data_seed": 0, "k": 3, "steps": 10_000, "n_seeds": 100}
    x = forum_data(1000, seed=0)
    ours = run_to_end(x, FitConfig(n_components=3, algorithm="gradient-em", restarts=100, dtype="float32"))
    cfg = ours.config
    assert (cfg.max_iter, cfg.lr, cfg.betas, cfg.init, cfg.select_by) == (10_000, 1e-3, (0.8, 0.99), "forum", "initial")
    assert ours.iteration == 10_000 and ours.restart == int(np.argmin(ours.restarts.initial_loss))
    # measured: ours -4.5678, the recipe -4.5715 (both chose seed 39); exact EM's best of 100 is -4.5677
    assert recipe["seed"] == ours.restarts.seeds[ours.restart]  # from the same seed
    assert ours.mean_log_likelihood >= recipe["mean_log_likelihood"]
