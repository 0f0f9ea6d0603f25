"""EM time per iteration for each of mclust's fourteen covariance models, N=1e5, K=3, D=4, the same start, and the
inner iterations of the iterative M-steps (VEI, VEE, VEV: alternating; EVE, VVE: common orientation).

    .venv/bin/python bench/bench_models.py [--n 100000] [--iters 15]

The time is between consecutive snapshots of the fit generator (the whole loop, snapshots included); the M-step
column times the covariance update alone on the last iteration's statistics. Inner iterations: median and largest
over the fit's M-steps (warm-started from the previous covariances, so the first ones count most).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from common import parse_args, snapshot_intervals, table

from engine import FitConfig, fit, run_to_end
from engine.io.export import MixtureParams
from engine.model.covariances import MCLUST_MODELS, alternating, covariance_type, orientation

ITERATIVE = {"VEI": (alternating, "vei_fit"), "VEE": (alternating, "vee_fit"), "VEV": (alternating, "vev_fit")}
ITERATIVE |= {"EVE": (orientation, "eve_fit"), "VVE": (orientation, "vve_fit")}


def data(n: int, d: int = 4, seed: int = 1) -> np.ndarray:
    """Three overlapping Gaussians of different volumes, shapes and orientations (N, D)."""
    rng = np.random.default_rng(seed)
    parts = [rng.normal(size=(n // 3, d)) @ rng.normal(size=(d, d)) * s + rng.normal(0, 2, d) for s in (0.5, 1, 2)]
    return np.concatenate(parts)


def counted(model: str) -> list[int]:
    """Inner iteration counts of the model's M-steps from now on (wraps its *_fit function)."""
    counts: list[int] = []
    if model in ITERATIVE:
        module, name = ITERATIVE[model]
        inner = getattr(module, f"_bench_{name}", getattr(module, name))
        setattr(module, f"_bench_{name}", inner)

        def spy(*args, **kwargs):
            cov, iterations = inner(*args, **kwargs)
            counts.append(iterations)
            return cov, iterations

        setattr(module, name, spy)
    return counts


def m_step_time(model: str, x: torch.Tensor, params: tuple) -> float:
    """Seconds of one covariance update (median of 5) on the statistics of params's responsibilities."""
    weights, means, cov = (torch.as_tensor(p)[None] for p in params)
    dist = torch.distributions.MultivariateNormal(means[0], cov[0])
    log_r = dist.log_prob(x[:, None, :]) + weights[0].log()
    r = torch.softmax(log_r, -1)
    nk = r.sum(0)[None]
    second = torch.einsum("nk,ni,nj->kij", r, x, x)[None]
    mu = (r.T @ x)[None] / nk[..., None]
    outer = mu[..., :, None] * mu[..., None, :]
    update = covariance_type(model).update
    times = []
    for _ in range(5):
        t = time.perf_counter()
        update(second, nk, outer, cov)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--iters", type=int, default=15)
    args = parse_args(ap, n=3000, iters=3)
    x = data(args.n)
    start = run_to_end(x[:20000], FitConfig(n_components=3, max_iter=0, seed=0))
    init = MixtureParams(start.weights, start.means, start.covariances).as_init()
    rows = []
    for model in MCLUST_MODELS:
        counts = counted(model)
        cfg = FitConfig(n_components=3, covariance_type=covariance_type(model).name, init_params=init, tol=0.0)
        intervals, last = snapshot_intervals(fit(x, FitConfig(**{**cfg.__dict__, "max_iter": args.iters})))
        params = (last.weights, last.means, last.covariances)
        inner = f"{statistics.median(counts):.0f} / {max(counts)}" if counts else "-"
        m_step = m_step_time(model, torch.as_tensor(x[:20000]), params) * 1e3
        rows.append([model, statistics.median(intervals) * 1e3, m_step, inner, f"{last.mean_log_likelihood:.6f}"])
    print(f"EM per iteration, N={args.n}, K=3, D=4, {args.iters} iterations from the same start (median), float64")
    print(table(["model", "ms / iteration", "M-step ms", "inner its (median / max)", "mean log-lik after"], rows))


if __name__ == "__main__":
    main()
