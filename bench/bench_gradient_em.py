"""gradient-em (the forum recipe over the shared, vectorised model) against the plain recipe as written
(Python loop over components, global parameter store, pyro.optim through SVI): time per step.

    .venv/bin/python bench/bench_gradient_em.py [--steps 500]

Both run on the 1000-point forum data in float32 from a fixed start. "per chain-step" divides a batched
step over R restarts by R: the cost of advancing one chain when the recipe's 100 seeds are trained together.
"""

from __future__ import annotations

import argparse
import sys
import time

import pyro
import torch
from common import ROOT, forum_data, parse_args, snapshot_intervals, table

sys.path.insert(0, str(ROOT / "tests"))  # the plain recipe, the reference the tests use too
import forum_recipe  # noqa: E402

from engine import FitConfig, fit


def recipe_step_time(x, steps: int) -> float:
    xt = torch.as_tensor(x, dtype=torch.float32)
    model, guide = forum_recipe.make_model_and_guide(3, 2)
    svi = pyro.infer.SVI(model, guide, pyro.optim.Adam({"lr": 0.001, "betas": (0.8, 0.99)}), loss=forum_recipe.em_loss)
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    for _ in range(20):
        svi.step(xt)
    t = time.perf_counter()
    for _ in range(steps):
        svi.step(xt)
    return (time.perf_counter() - t) / steps


def ours_step_time(x, steps: int, restarts: int) -> float:
    cfg = FitConfig(
        n_components=3,
        algorithm="gradient-em",
        restarts=restarts,
        select_by="final",
        max_iter=steps + 20,
        dtype="float32",
    )
    intervals, _ = snapshot_intervals(fit(x, cfg), skip=20)
    return sum(intervals) / len(intervals)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=500)
    args = parse_args(ap, steps=3)
    x = forum_data(1000, seed=0)
    ref = recipe_step_time(x, args.steps)
    rows = [["plain recipe (loop over K, global store, SVI)", 1, ref * 1e3, ref * 1e3, "1.0"]]
    for r in (1, 10, 100):
        t = ours_step_time(x, args.steps, r)
        rows.append(
            [f"gmm-studio gradient-em, {r} restart(s) batched", r, t * 1e3, t / r * 1e3, f"{ref / (t / r):.1f}"]
        )
    print(f"gradient-em step time, forum data N=1000, K=3, float32, {args.steps} steps (snapshots included)")
    print(table(["implementation", "chains", "ms / step", "ms / chain-step", "speed-up per chain-step"], rows))


if __name__ == "__main__":
    main()
