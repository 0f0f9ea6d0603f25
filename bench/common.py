"""Helpers for the benchmarks: timing, tables, the forum data."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.io.data import forum_sample  # noqa: E402


def forum_data(n: int = 1000, seed: int = 0) -> np.ndarray:
    """The forum preset (symmetric second covariance), n points."""
    return forum_sample(n, seed)


@contextmanager
def reference_blas():
    """scikit-learn as its users run it: NumPy's BLAS on its default thread count while the reference runs (the engine
    set it to one thread when it was imported; see engine/threads.py). Changed here, on the benchmark's only thread,
    with no fit running: threadpoolctl's documented use."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=os.cpu_count(), user_api="blas"):
        yield


def sklearn_iterations(x: np.ndarray, start, iters: int) -> tuple[list[float], float]:
    """scikit-learn's EM iteration timed as its own loop body (GaussianMixture._e_step then _m_step), `iters` times
    from `start` (weights (K,), means (K, D), covariances (K, D, D); full, reg_covar 1e-6). Returns the times (s)
    and the mean log-likelihood after them."""
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(
        len(start.weights),
        weights_init=start.weights,
        means_init=start.means,
        precisions_init=np.linalg.inv(start.covariances),
        max_iter=1,
        reg_covar=1e-6,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(x[:1000])  # initialise the estimator's parameters from the *_init arrays
    gm.weights_, gm.means_ = start.weights.copy(), start.means.copy()
    gm.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(start.covariances)).astype(x.dtype)
    times = []
    with reference_blas():
        for _ in range(iters):
            t = time.perf_counter()
            _, log_resp = gm._e_step(x)
            gm._m_step(x, log_resp)
            times.append(time.perf_counter() - t)
        return times, float(gm.score(x))


def median_time(fn, repeat: int) -> float:
    """Median wall time of fn() in seconds over `repeat` runs (after one warm-up run)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# NumPy's BLAS (OpenBLAS) keeps its threads spinning after its last call: after a scikit-learn fit (D = 10,
# N = 2e5) this process burnt 39-48 ms of CPU in the next 50 ms and 0-11 in the 50 ms after, none later
# (process CPU time over 50 ms sleeps). Timed right after it, the next fit shared the two cores with those threads.
SETTLE_S = 0.2


def paired_times(fns, repeat: int) -> list[list[float]]:
    """Wall times (s) of each of fns over `repeat` rounds (after one warm-up of each), the fns run one after another
    within a round: a busy machine's drift then hits every fn of a round alike, and the ratios of a round's times
    compare like with like. Each starts SETTLE_S after the last ended, so none is timed while the one before's
    threads still spin. Returns one list of `repeat` times per fn."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, times, strict=True):
            time.sleep(SETTLE_S)
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return times


def snapshot_intervals(snapshots, skip: int = 0, before_stamp=None, clock=time.perf_counter):
    """Seconds between consecutive snapshots of a fit generator (the whole loop, snapshots included),
    ignoring the first `skip` iterations; returns (intervals, last snapshot). before_stamp() runs before
    each time stamp (e.g. torch.cuda.synchronize); clock: wall time, or time.process_time (CPU seconds of every
    thread of this process: on a machine shared with other work, what the fit itself costs)."""
    stamps, last = [], None
    for last in snapshots:
        if before_stamp is not None:
            before_stamp()
        if last.iteration >= skip:
            stamps.append(clock())
    return list(np.diff(stamps)), last


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(h) for h in headers]] + [[c if isinstance(c, str) else f"{c:.4g}" for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def parse_args(parser: argparse.ArgumentParser, **tiny) -> argparse.Namespace:
    """The bench's arguments; with --tiny, the values in `tiny` replace the parsed ones: a run of seconds that only
    shows the bench still works (tests/test_benches.py runs every bench so; its numbers mean nothing)."""
    parser.add_argument("--tiny", action="store_true", help="a few seconds' run that checks the bench works")
    args = parser.parse_args()
    if args.tiny:
        for name, value in tiny.items():
            setattr(args, name, value)
    return args


def with_missing(x: np.ndarray, patterns: int, rows_share: float, seed: int = 0) -> np.ndarray:
    """x (N, D) with `rows_share` of its rows missing some coordinates (NaN), spread evenly over `patterns` - 1
    distinct missingness patterns drawn at random (each keeps a coordinate and misses one), so that the data hold
    `patterns` patterns with the complete rows' (fewer when D leaves fewer: 2^D - 2 at most)."""
    rng = np.random.default_rng(seed)
    n, d = x.shape
    masks: list[tuple] = []
    possible = 2**d - 2
    while len(masks) < min(patterns - 1, possible):
        mask = tuple(rng.integers(0, 2, d).astype(bool))
        if any(mask) and not all(mask) and mask not in masks:
            masks.append(mask)
    out = x.copy()
    rows = rng.permutation(n)[: int(rows_share * n)]
    for part, mask in zip(np.array_split(rows, len(masks)) if masks else [], masks, strict=True):
        out[np.ix_(part, np.flatnonzero(mask))] = np.nan
    return out


def cost_ratios(fits: dict, rounds: int, clock=time.perf_counter) -> dict[str, tuple[float, float]]:
    """For fit generators' makers {name: () -> fit generator} (the first the reference), each one's median seconds per
    iteration (the median interval between its snapshots, medians over `rounds` paired rounds, each fit after
    SETTLE_S; clock as in snapshot_intervals) and its ratio to the first's (the median of the rounds' ratios)."""
    times: dict[str, list[float]] = {name: [] for name in fits}
    for _ in range(rounds):
        for name, make in fits.items():
            time.sleep(SETTLE_S)
            times[name].append(statistics.median(snapshot_intervals(make(), clock=clock)[0]))
    first = np.array(next(iter(times.values())))
    return {name: (statistics.median(t), float(np.median(np.array(t) / first))) for name, t in times.items()}


def scipy_total_ll(x: np.ndarray, w: np.ndarray, weights, means, covariances) -> float:
    """sum_n w_n log sum_k pi_k N(x_n | mu_k, Sigma_k), by SciPy (the reference a bootstrap replicate's end is
    measured against): points x (N, D), frequency weights w (N,), weights (K,), means (K, D), covariances (K, D, D)."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    parts = [np.log(weights[k]) + multivariate_normal(means[k], covariances[k]).logpdf(x) for k in range(len(weights))]
    return float(w @ logsumexp(np.stack(parts, axis=1), axis=1))


def squarem_alone(point, model, e_step, totals, gain, dtype, steps_at_most, cancel=None):
    """The bootstrap's accelerator before Anderson's (replicate_start.squarem), in replicate_anderson.accelerate's
    place and signature: SQUAREM's cycles of three E-steps within the same budget of E-steps."""
    from engine.selection.replicate_start import squarem

    return squarem(point, model, e_step, totals, gain, dtype, steps_at_most // 3, cancel)
