"""EM time per iteration at N=1e6, K=3, D=2 (full covariance) against scikit-learn, same start.

    .venv/bin/python bench/bench_em.py [--n 1000000] [--iters 15]

scikit-learn's iteration is timed as its own loop body: GaussianMixture._e_step then _m_step.
Ours is the time between consecutive snapshots of the fit generator (the whole loop, snapshots included).
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from common import forum_data, parse_args, sklearn_iterations, snapshot_intervals, table

from engine import FitConfig, fit, run_to_end
from engine.io.export import MixtureParams


def ours(x: np.ndarray, init, dtype: str, iters: int) -> tuple[float, float]:
    cfg = FitConfig(n_components=3, init_params=init, max_iter=iters, tol=0.0, dtype=dtype)
    intervals, last = snapshot_intervals(fit(x, cfg))
    return statistics.median(intervals), last.mean_log_likelihood


def sklearn_iter(x: np.ndarray, start, iters: int) -> tuple[float, float]:
    times, score = sklearn_iterations(x, start, iters)
    return statistics.median(times), score


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--iters", type=int, default=15)
    args = parse_args(ap, n=2000, iters=2)
    x = forum_data(args.n, seed=1)
    start = run_to_end(x[:20000], FitConfig(n_components=3, max_iter=0, seed=0))
    init = MixtureParams(start.weights, start.means, start.covariances).as_init()
    sk64, sk_ll64 = sklearn_iter(x, start, args.iters)
    sk32, sk_ll32 = sklearn_iter(x.astype(np.float32), start, args.iters)
    rows = [
        ["scikit-learn float64", sk64 * 1e3, "1.0", f"{sk_ll64:.10f}"],
        ["scikit-learn float32", sk32 * 1e3, f"{sk64 / sk32:.2f}", f"{sk_ll32:.10f}"],
    ]
    for dtype in ("float64", "float32"):
        t, ll = ours(x, init, dtype, args.iters)
        rows.append([f"gmm-studio em {dtype}", t * 1e3, f"{sk64 / t:.1f}", f"{ll:.10f}"])
    print(f"EM per iteration, N={args.n}, K=3, D=2, full, {args.iters} iterations from the same start (median)")
    print(table(["implementation", "ms / iteration", "speed-up vs sklearn float64", "mean log-lik after"], rows))


if __name__ == "__main__":
    main()
