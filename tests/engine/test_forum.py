"""The forum recipe, faithfully and better: gradient-em against the plain re-implementation.

Ours is the suite's longest single fit (10,000 Adam steps, on one core): it runs in the background from the session's
start (tests/background.py runs this file as a script, which prints its end), beside the other tests on the
otherwise idle core; the test checks that end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from engine import FitConfig, run_to_end
from engine.io.data import forum_sample as forum_data

ROOT = Path(__file__).resolve().parents[2]
MARK = "OURS "  # the script's line that carries its end, as JSON
HANG_S = 600  # measured 20-40 s


def ours_end() -> dict:
    """gradient-em with the recipe's settings (its defaults) on the recipe's data: what the test checks of its end."""
    x = forum_data(1000, seed=0)
    ours = run_to_end(x, FitConfig(n_components=3, algorithm="gradient-em", restarts=100, dtype="float32"))
    cfg = ours.config
    return {
        "settings": [cfg.max_iter, cfg.lr, list(cfg.betas), cfg.init, cfg.select_by],
        "iteration": ours.iteration,
        "restart": ours.restart,
        "lowest_initial_loss": int(np.argmin(ours.restarts.initial_loss)),
        "seed": int(ours.restarts.seeds[ours.restart]),
        "mean_log_likelihood": float(ours.mean_log_likelihood),  # exact through JSON (a double's repr)
    }


def queued(_name: str, folder: Path) -> list:
    """This file as a script, in folder (tests/background.py)."""
    from background import Command

    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return [Command([__file__], folder, dict(os.environ, PYTHONPATH=path), HANG_S)]


@pytest.mark.slow
@pytest.mark.background
def test_gradient_em_ends_at_least_as_high_as_the_plain_recipe(request: pytest.FixtureRequest, background_runs) -> None:
    """Recipe settings on both sides: seeds 0..99, best by initial loss, 10,000 Adam steps, float32.

    Only the end says it: the order changes along the way. Measured every 250 steps: the recipe is ahead until
    1,000 steps (by 1.76 per point at 250: the two draw different z), gradient-em from 1,250 on, by 0.0011 at
    the least (5,500 steps), 0.0037 at 10,000 (the recipe still climbing, gradient-em on EM's solution from
    about 7,000). No shorter run gives the recipe's end, so both run all 10,000 steps: ours here, the recipe's end
    read from tests/data/forum_recipe.json (tests/data/make_forum_recipe.py ran tests/forum_recipe.py once with
    these settings: 20-35 s that the suite no longer spends on every run)."""
    recipe = json.loads((ROOT / "tests" / "data" / "forum_recipe.json").read_text())
    assert recipe["settings"] == {"n": 1000, "data_seed": 0, "k": 3, "steps": 10_000, "n_seeds": 100}
    (ran,) = background_runs.results(request.node.nodeid)
    line = next((line for line in ran.printed.splitlines() if line.startswith(MARK)), None)
    assert ran.returncode == 0 and line is not None, f"exit {ran.returncode}:\n{ran.printed[-3000:]}"
    ours = json.loads(line[len(MARK) :])
    assert ours["settings"] == [10_000, 1e-3, [0.8, 0.99], "forum", "initial"]
    assert ours["iteration"] == 10_000 and ours["restart"] == ours["lowest_initial_loss"]
    # measured: ours -4.5678, the recipe -4.5715 (both chose seed 39); exact EM's best of 100 is -4.5677
    assert recipe["seed"] == ours["seed"]  # from the same seed
    assert ours["mean_log_likelihood"] >= recipe["mean_log_likelihood"]


if __name__ == "__main__":
    print(MARK + json.dumps(ours_end()), flush=True)
