"""Exact EM in D dimensions against scikit-learn, per iteration, and the peak memory of a large-D fit.

Per iteration: full covariances, K = 5, float64, both from the same start (the engine's k-means++ start, given
to scikit-learn as its initial parameters), tol 0, medians of --repeat rounds; each round runs fits of ITER and
2 ITER iterations of each, one after the other (each after a pause that lets the previous fit's BLAS threads stop
spinning: see common.paired_times), and a ratio is the median of the rounds' ratios (this machine drifts by 20% from
minute to minute: blocks of one fit then the other skewed the ratio). Two figures from these: a whole
fit of ITER iterations over ITER (with each side's fixed costs), and one more iteration, (T(2 ITER) - T(ITER)) / ITER;
then a third: one iteration inside a running fit, timed as bench_em.py times it (in_fit).
Restarts: the best of 100 k-means++ restarts at D = 10 (N = --restarts-n, K = 5, full, tol 1e-6 and reg_covar
1e-6 for both), batched against scikit-learn's n_init = 100, one run each. Weights and missing values (issue 25:
at most 1.3x): one iteration inside a running fit, as in_fit times it, with integer weights 1..4 and with
--missing-rows of the rows missing some coordinates over --patterns missingness patterns, each against the complete
unweighted fit of the same round. Peak memory: a fit of N = 1e6 points in
D = 30 in a fresh process (resident set size over the interpreter's own), against the data's own size.

    .venv/bin/python bench/bench_dims.py [--repeat 3] [--dims 2,10,30] [--restarts-n 50000] [--no-restarts]
        [--no-memory] [--no-costs] [--patterns 28] [--missing-rows 0.2]
    GMM_STUDIO_THREADS=1 .venv/bin/python bench/bench_dims.py --missing-grid --cpu-time [--repeat 3] [--grid-rows 0,9]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings

import numpy as np
from common import (
    ROOT,
    SETTLE_S,
    cost_ratios,
    paired_times,
    parse_args,
    reference_blas,
    sklearn_iterations,
    snapshot_intervals,
    table,
    with_missing,
)

from engine import FitConfig, fit, run_to_end
from engine.io.export import MixtureParams

ITER = 10
CASES = ((2, 200_000), (10, 200_000), (30, 100_000))
MEMORY = """
import resource, sys
import numpy as np
sys.path.insert(0, {root!r})
import engine
from engine import FitConfig, run_to_end

def hwm():  # this process's own peak: ru_maxrss survives exec and would start at the parent's resident set
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

def rss():  # the resident set now (the peak, ru_maxrss, would keep any earlier high-water mark)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()

bare = rss()
x = np.load({path!r})  # read whole, no temporaries: the peak so far is the interpreter and its data
with_data = rss()
run_to_end(x, FitConfig(n_components=5, max_iter=3, tol=0.0))
peak = hwm()
print(bare, with_data, peak, x.nbytes)
"""


def data(d: int, n: int, k: int = 5) -> np.ndarray:
    rng = np.random.default_rng(d)
    centres = rng.normal(0.0, 3.0, (k, d))
    return centres[rng.integers(0, k, n)] + rng.normal(size=(n, d))


def per_iteration(x: np.ndarray, repeat: int) -> list[float]:
    """[ours, scikit-learn, ratio] per iteration two ways, medians over paired rounds: a whole fit of ITER iterations
    divided by ITER (its fixed costs included: our data check and standardisation, scikit-learn's k-means, which it
    runs even when given its start), and the cost of one more iteration, (T(2 ITER) - T(ITER)) / ITER."""
    from sklearn.mixture import GaussianMixture

    start = run_to_end(x, FitConfig(n_components=5, max_iter=0))
    init = MixtureParams(start.weights, start.means, start.covariances).as_init()

    def ours(iterations: int):
        cfg = FitConfig(n_components=5, init_params=init, max_iter=iterations, tol=0.0)
        for _ in fit(x, cfg, every=False):
            pass

    def theirs(iterations: int):
        gm = GaussianMixture(
            5,
            weights_init=start.weights,
            means_init=start.means,
            precisions_init=np.linalg.inv(start.covariances),
            max_iter=iterations,
            tol=0.0,
            random_state=0,
        )
        with warnings.catch_warnings(), reference_blas():
            warnings.simplefilter("ignore")
            gm.fit(x)

    fns = [lambda: ours(ITER), lambda: ours(2 * ITER), lambda: theirs(ITER), lambda: theirs(2 * ITER)]
    mine, mine2, sk, sk2 = (np.array(t) for t in paired_times(fns, repeat))
    fit_ratio = np.median(sk / mine)
    mine_more, sk_more = (mine2 - mine) / ITER, (sk2 - sk) / ITER
    more_ratio = np.median(sk_more / mine_more)
    med = np.median
    return [med(mine) / ITER, med(sk) / ITER, fit_ratio, med(mine_more), med(sk_more), more_ratio]


def in_fit(x: np.ndarray, repeat: int) -> list[float]:
    """[ours, scikit-learn, ratio]: one iteration inside a running fit, as bench_em.py times it (ours: the median
    interval between the snapshots of a fit of 2 ITER iterations; scikit-learn's: the median of ITER of its loop
    bodies, _e_step then _m_step), medians over `repeat` rounds of one of each, the ratio the median of theirs."""
    start = run_to_end(x, FitConfig(n_components=5, max_iter=0))
    init = MixtureParams(start.weights, start.means, start.covariances).as_init()
    cfg = FitConfig(n_components=5, init_params=init, max_iter=2 * ITER, tol=0.0)
    mine, sk = [], []
    for _ in range(repeat):
        time.sleep(SETTLE_S)
        mine.append(np.median(snapshot_intervals(fit(x, cfg))[0]))
        time.sleep(SETTLE_S)
        sk.append(np.median(sklearn_iterations(x, start, ITER)[0]))
    mine, sk = np.array(mine), np.array(sk)
    return [np.median(mine), np.median(sk), np.median(sk / mine)]


def costs(x: np.ndarray, repeat: int, patterns: int, share: float) -> list[list]:
    """Rows [D, N, fit, patterns, ms per iteration, ratio to the complete unweighted fit]: one iteration inside a
    running fit of 2 ITER iterations (the median snapshot interval), complete, with integer weights 1..4, and with
    `share` of the rows missing coordinates over `patterns` patterns; paired rounds (common.cost_ratios)."""
    start = run_to_end(x, FitConfig(n_components=5, max_iter=0))
    init = MixtureParams(start.weights, start.means, start.covariances).as_init()
    cfg = FitConfig(n_components=5, init_params=init, max_iter=2 * ITER, tol=0.0)
    weights = np.random.default_rng(2).integers(1, 5, len(x)).astype(np.float64)
    holes = with_missing(x, patterns, share, seed=3)
    found = len(np.unique(np.isnan(holes), axis=0))
    fits = {
        ("complete, unweighted", 1): lambda: fit(x, cfg),
        ("weights 1..4", 1): lambda: fit(x, cfg, weights=weights),
        (f"missing, {share:.0%} of rows", found): lambda: fit(holes, cfg, missing="em"),
    }
    n, d = x.shape
    return [[d, n, name, p, t * 1e3, f"{r:.2f}"] for (name, p), (t, r) in cost_ratios(fits, repeat).items()]


# --missing-grid: (N, D, K, restarts, patterns, share of rows with a missing value)
GRID = (
    (10_000, 5, 3, 1, 28, 0.2),
    (100_000, 5, 3, 1, 28, 0.2),
    (200_000, 5, 3, 1, 28, 0.2),
    (100_000, 2, 3, 1, 3, 0.1),
    (100_000, 3, 3, 1, 7, 0.15),
    (100_000, 5, 3, 1, 2, 0.2),
    (100_000, 10, 3, 1, 50, 0.2),
    (100_000, 5, 9, 1, 28, 0.2),
    (100_000, 5, 3, 10, 28, 0.2),
    (10_000, 10, 9, 1, 50, 0.2),
    (200_000, 10, 9, 1, 50, 0.2),
    (50_000, 30, 3, 1, 28, 0.2),
)


def missing_grid(repeat: int, clock, chosen: list[int] | None = None) -> list[list]:
    """Rows [N, D, K, restarts, patterns, complete ms, missing ms, ratio] per iteration (median snapshot interval of
    fits of 15 iterations, tol 0, float64; one restart from the engine's start, more from random-data starts),
    paired rounds (common.cost_ratios) over GRID, or over its rows `chosen` (their places in it, from 0)."""
    rows = []
    for n, d, k, r, patterns, share in GRID if chosen is None else [GRID[i] for i in chosen]:
        x = data(d, n, k)
        holes = with_missing(x, patterns, share, seed=3)
        if r == 1:
            start = run_to_end(x, FitConfig(n_components=k, max_iter=0))
            init = MixtureParams(start.weights, start.means, start.covariances).as_init()
            cfg = FitConfig(n_components=k, init_params=init, max_iter=15, tol=0.0)
        else:
            cfg = FitConfig(n_components=k, restarts=r, init="random-data", seed=1, max_iter=15, tol=0.0)
        fits = {
            "complete": lambda x=x, cfg=cfg: fit(x, cfg),
            "missing": lambda h=holes, cfg=cfg: fit(h, cfg, missing="em"),
        }
        (t, _), (t_missing, ratio) = cost_ratios(fits, repeat, clock).values()
        found = len(np.unique(np.isnan(holes), axis=0))
        rows.append([n, d, k, r, found, t * 1e3, t_missing * 1e3, f"{ratio:.2f}"])
    return rows


# --missing-grid by chunks (fit_stream over a .npy file, as --memory-limit reads it): (N, D, K, patterns, share of rows
# with a missing value, rows per chunk)
CHUNK_GRID = (
    (200_000, 5, 3, 28, 0.2, 16_384),
    (200_000, 5, 3, 28, 0.2, 65_536),
    (200_000, 10, 9, 50, 0.2, 65_536),
    (2_000_000, 5, 3, 28, 0.2, 524_288),  # the chunks of --memory-limit 64M at D = 5 (limits.chunk_rows_for)
)


def missing_chunks_grid(repeat: int, clock) -> list[list]:
    """Rows [N, D, K, patterns, rows per chunk, complete ms, missing ms, ratio] per pass of a fit by chunks (median
    snapshot interval of fits of 15 iterations from the engine's start, tol 0, float64), the complete data's and the
    same data's with missing values, each read from a .npy file chunk by chunk; paired rounds (common.cost_ratios)."""
    import tempfile

    from engine.inference.streaming import fit_stream
    from engine.io.npy import NpySource

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, d, k, patterns, share, chunk in CHUNK_GRID:
            x = data(d, n, k)
            np.save(f"{tmp}/x.npy", x)
            np.save(f"{tmp}/h.npy", with_missing(x, patterns, share, seed=3))
            start = run_to_end(x, FitConfig(n_components=k, max_iter=0))
            init = MixtureParams(start.weights, start.means, start.covariances).as_init()
            cfg = FitConfig(n_components=k, init_params=init, max_iter=15, tol=0.0)
            fits = {
                "complete": lambda cfg=cfg, c=chunk: fit_stream(NpySource(f"{tmp}/x.npy"), cfg, c),
                "missing": lambda cfg=cfg, c=chunk: fit_stream(NpySource(f"{tmp}/h.npy"), cfg, c, missing=True),
            }
            (t, _), (t_missing, ratio) = cost_ratios(fits, repeat, clock).values()
            rows.append([n, d, k, patterns, chunk, t * 1e3, t_missing * 1e3, f"{ratio:.2f}"])
    return rows


def restarts(n: int, r: int = 100) -> list:
    """Seconds and best total log-likelihood of the best of r restarts at D = 10, ours and scikit-learn's."""
    from sklearn.mixture import GaussianMixture

    x = data(10, n)
    t = time.perf_counter()
    cfg = FitConfig(n_components=5, restarts=r, init="kmeans++", tol=1e-6, max_iter=1000, reg_covar_units="data")
    ours = run_to_end(x, cfg)  # reg_covar in the data's units, as scikit-learn's: the same model
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    gm = GaussianMixture(5, n_init=r, init_params="k-means++", tol=1e-6, reg_covar=1e-6, max_iter=1000, random_state=0)
    with warnings.catch_warnings(), reference_blas():
        warnings.simplefilter("ignore")
        gm.fit(x)
    t_sk = time.perf_counter() - t
    return [
        [f"scikit-learn n_init = {r}", t_sk, "1.0", f"{gm.score(x) * n:.2f}"],
        [f"GMM Studio, {r} batched restarts", t_ours, f"{t_sk / t_ours:.1f}", f"{ours.log_likelihood:.2f}"],
    ]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--no-restarts", action="store_true")
    p.add_argument("--no-costs", action="store_true", help="skip the weights and missing values costs")
    p.add_argument("--patterns", type=int, default=28, help="missingness patterns of the missing values cost")
    p.add_argument("--missing-rows", type=float, default=0.2, help="share of rows with a missing value there")
    p.add_argument("--missing-grid", action="store_true", help="only the missing values grids (GRID, CHUNK_GRID)")
    p.add_argument("--chunks-only", action="store_true", help="with --missing-grid: only CHUNK_GRID")
    p.add_argument("--grid-rows", help="with --missing-grid: only these rows of GRID (e.g. 0,9), and no CHUNK_GRID")
    p.add_argument("--cpu-time", action="store_true", help="time the grid in CPU seconds (time.process_time)")
    p.add_argument("--restarts-n", type=int, default=50_000)
    p.add_argument("--dims", default="2,10,30", help="which of the per-iteration cases (D = 2, 10, 30) to run")
    p.add_argument("--n", type=int, help="points in each per-iteration case (default: the case's own N)")
    args = parse_args(p, repeat=1, no_memory=True, no_restarts=True, dims="2", n=1000)
    if args.missing_grid:
        clock = time.process_time if args.cpu_time else time.perf_counter
        print(
            f"Missing values per iteration against the complete fit, float64, medians of {args.repeat} paired rounds "
            f"({'CPU' if args.cpu_time else 'wall'} time; a ratio: the median of the rounds')"
        )
        head = ["N", "D", "K", "restarts", "patterns", "complete ms", "missing ms", "ratio"]
        chosen = None if args.grid_rows is None else [int(i) for i in args.grid_rows.split(",")]
        if not args.chunks_only:
            print(table(head, missing_grid(args.repeat, clock, chosen)))
        if chosen is not None:
            return
        print("The same by chunks (a fit read from a .npy file chunk by chunk, as --memory-limit reads it), per pass")
        head = ["N", "D", "K", "patterns", "rows per chunk", "complete ms", "missing ms", "ratio"]
        print(table(head, missing_chunks_grid(args.repeat, clock)))
        return
    rows, running, extra = [], [], []
    dims = {int(d) for d in args.dims.split(",")}
    for d, n in (case for case in CASES if case[0] in dims):
        n = args.n or n
        x = data(d, n)
        a, b, ratio, a_more, b_more, ratio_more = per_iteration(x, args.repeat)
        rows.append([d, n, a * 1e3, b * 1e3, ratio, a_more * 1e3, b_more * 1e3, ratio_more])
        a, b, ratio = in_fit(x, args.repeat)
        running.append([d, n, a * 1e3, b * 1e3, ratio])
        if not args.no_costs:
            extra += costs(x, args.repeat, args.patterns, args.missing_rows)
    print(
        f"EM per iteration, full, K = 5, float64, from the same start; medians of {args.repeat} rounds, each round "
        f"fits of {ITER} and {2 * ITER} iterations of each (a ratio is the median of the rounds' ratios). 'fit / "
        f"{ITER}': a fit of {ITER} iterations over {ITER}, its fixed costs included; 'one more': (T({2 * ITER}) - "
        f"T({ITER})) / {ITER}, the cost of an iteration itself"
    )
    head = ["D", "N", f"ours fit/{ITER} ms", f"sklearn fit/{ITER} ms", "ratio", "ours one more ms"]
    print(table([*head, "sklearn one more ms", "ratio"], rows))
    print(
        f"One iteration inside a running fit, as bench_em.py times it: ours the median interval between the "
        f"snapshots of a fit of {2 * ITER} iterations, scikit-learn's the median of {ITER} of its loop bodies "
        f"(_e_step, _m_step); medians of {args.repeat} rounds"
    )
    print(table(["D", "N", "ours ms", "sklearn ms", "ratio"], running))
    if extra:
        print(
            "Weights and missing values: one iteration inside a running fit (as above), against the complete "
            f"unweighted fit of the same round; medians of {args.repeat} rounds (a ratio: the median of the rounds')"
        )
        print(table(["D", "N", "fit", "patterns", "ms / iteration", "ratio"], extra))
    if not args.no_restarts:
        print(f"Best of 100 k-means++ restarts, D = 10, N = {args.restarts_n}, K = 5, full, tol 1e-6; one run each")
        print(table(["fit", "seconds", "speed-up", "best total log-likelihood"], restarts(args.restarts_n)))
    if args.no_memory:
        return
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/x.npy"
        np.save(path, np.random.default_rng(0).normal(size=(1_000_000, 30)))
        script = MEMORY.format(root=str(ROOT), path=path)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    bare, with_data, peak, data_bytes = map(int, out.stdout.split())
    print(
        f"peak memory of a fit, D = 30, N = 1e6, K = 5: {(peak - with_data) / 1e6:.0f} MB above the interpreter with "
        f"its data ({(peak - with_data) / data_bytes:.2f}x the data, {data_bytes / 1e6:.0f} MB); with the data "
        f"{(peak - bare) / 1e6:.0f} MB above the bare interpreter ({(peak - bare) / data_bytes:.2f}x the data)"
    )


if __name__ == "__main__":
    main()
