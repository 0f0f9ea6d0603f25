"""EM time per iteration at N=1e6, K=3, D=2 (full covariance) against scikit-learn, same start; then what
weights and missing values cost per iteration, against the complete unweighted fit in the same run (issue 25: at
most 1.3x).

    .venv/bin/python bench/bench_em.py [--n 1000000] [--iters 15] [--rounds 3]

scikit-learn's iteration is timed as its own loop body: GaussianMixture._e_step then _m_step.
Ours is the time between consecutive snapshots of the fit generator (the whole loop, snapshots included).
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from common import (
    cost_ratios,
    forum_data,
    parse_args,
    sklearn_iterations,
    snapshot_intervals,
    table,
    with_missing,
)

from engine import FitConfig, fit, run_to_end
from engine.io.export import MixtureParams


def ours(x: np.ndarray, init, dtype: str, iters: int) -> tuple[float, float]:
    # reg_covar in the data's units, as scikit-learn adds it: the same model, so the log-likelihoods compare
    cfg = FitConfig(n_components=3, init_params=init, max_iter=iters, tol=0.0, dtype=dtype, reg_covar_units="data")
    intervals, last = snapshot_intervals(fit(x, cfg))
    return statistics.median(intervals), last.mean_log_likelihood


def sklearn_iter(x: np.ndarray, start, iters: int) -> tuple[float, float]:
    times, score = sklearn_iterations(x, start, iters)
    return statistics.median(times), score


def costs(x: np.ndarray, init, iters: int, rounds: int) -> list[list]:
    """Rows [fit, ms / iteration, ratio to the complete unweighted fit]: the same fit with integer weights 1..4, and
    with 5% of the rows missing one coordinate (both D = 2 patterns), float64, paired rounds (common.cost_ratios)."""
    weights = np.random.default_rng(2).integers(1, 5, len(x)).astype(np.float64)
    holes = with_missing(x, 3, 0.05, seed=3)
    cfg = FitConfig(n_components=3, init_params=init, max_iter=iters, tol=0.0)
    fits = {
        "complete, unweighted": lambda: fit(x, cfg),
        "weights (integers 1..4)": lambda: fit(x, cfg, weights=weights),
        "missing values (5% of rows, 3 patterns)": lambda: fit(holes, cfg, missing="em"),
    }
    return [[name, t * 1e3, f"{ratio:.2f}"] for name, (t, ratio) in cost_ratios(fits, rounds).items()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--iters", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=3, help="paired rounds of the weights and missing values costs")
    args = parse_args(ap, n=2000, iters=2, rounds=1)
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
    print(
        f"Weights and missing values: ms per iteration (median interval between snapshots, median of {args.rounds} "
        "paired rounds), and the ratio to the complete unweighted fit of the same round (the median of the ratios)"
    )
    print(table(["fit (float64)", "ms / iteration", "ratio"], costs(x, init, args.iters, args.rounds)))


if __name__ == "__main__":
    main()
