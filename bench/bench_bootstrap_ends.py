"""Where the bootstrap's replicates end (issue 25): each against plain EM of the same replicate's weights from the
fit's parameters at tol 1e-14 per point, run alone (run_to_end), and the accelerator's work against SQUAREM alone.

For each data set and bootstrap type, with the default settings (the replicates' own rule, 1e-4 in the total
log-likelihood; engine/selection/replicate_anderson.py: Anderson acceleration, SQUAREM where it stalls) and again with
SQUAREM alone (replicate_start.squarem, the accelerator before Anderson's): the row E-steps (replicates x batched
E-steps), the seconds, and for each replicate the total log-likelihood it lacks against plain EM's end (SciPy's,
largest and median), its parameters' largest offset from plain EM's in units of their standard errors (largest and
median) and the standard errors over plain EM's replicates' (smallest and largest ratio). Plain EM from the fit
creeps at the rate 0.98-0.99 there: each replicate takes thousands of iterations alone, so this runs for minutes.

    .venv/bin/python bench/bench_bootstrap_ends.py [--sets faithful,forum2000,forum10000] [--kinds nonparametric]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import forum_data, parse_args, scipy_total_ll, squarem_alone, table

from engine import FitConfig, InitParams, run_to_end
from engine.selection import bootstrap as boot_module
from engine.selection.bootstrap import Bootstrap, bootstrap, replicate_weights
from engine.selection.solutions import match_components

FAITHFUL = Path(__file__).resolve().parents[1] / "tests" / "data" / "mclust" / "faithful.csv"
SETS = {  # name: (points, fit settings, B)
    "faithful": (lambda: np.loadtxt(FAITHFUL, delimiter=",", skiprows=1), "tied-hc", 200),
    "forum2000": (lambda: forum_data(2000, 0), "full", 200),
    "forum10000": (lambda: forum_data(10000, 0), "full", 100),
}
HEADERS = [
    "data, type, B",
    "accelerator",
    "row E-steps",
    "seconds",
    "lacks: largest",
    "lacks: median",
    "offset (SE): largest",
    "offset (SE): median",
    "SEs / plain EM's",
]


def config(kind: str) -> FitConfig:
    if kind == "tied-hc":  # mclust's EEE, G = 3, from its hierarchical start
        return FitConfig(n_components=3, covariance_type="tied", init="hc", reg_covar=0.0)
    return FitConfig(n_components=3, covariance_type="full", seed=0, restarts=10)


def counted(accelerator, counter: list[int]):
    """accelerator (bootstrap's accelerate's signature) with its E-steps' rows counted into counter[0]."""

    def run(point, model, e_step, totals, gain, dtype, steps_at_most, cancel=None):
        def counting(rows, params):
            counter[0] += len(rows)
            return e_step(rows, params)

        return accelerator(point, model, counting, totals, gain, dtype, steps_at_most, cancel)

    return run


def plain_ends(x: np.ndarray, cfg: FitConfig, fitted, rows: np.ndarray) -> list:
    """Each replicate's plain EM from the fit's parameters with its weights rows[b], to tol 1e-14 per point."""
    plain = replace(cfg, init="params", init_params=InitParams.from_arrays(*fitted), tol=1e-14, max_iter=50000)
    return [run_to_end(x, plain, weights=w) for w in rows]


def compare(x, cfg, fitted, kind: str, b: int, accelerator, plain: list, rows: np.ndarray) -> list:
    """One table row's measurements: row E-steps, seconds, and the replicates against plain EM's ends."""
    counter = [0]
    saved = boot_module.accelerate
    boot_module.accelerate = counted(accelerator, counter)
    try:
        start = time.perf_counter()
        result = bootstrap(x, fitted, cfg, b, kind, seed=0)
        seconds = time.perf_counter() - start
    finally:
        boot_module.accelerate = saved
    assert result.failed == 0, "a replicate failed: its rows no longer line up with plain EM's"
    matched = _as_bootstrap(kind, plain, fitted)  # plain EM's ends, components in the fit's order
    lacks = [
        scipy_total_ll(x, rows[i], *_params(p)) - scipy_total_ll(x, rows[i], *_replicate(result, i))
        for i, p in enumerate(plain)
    ]
    se = matched.standard_errors()
    offsets = [_offset(_replicate(result, i), _replicate(matched, i), se) for i in range(len(plain))]
    ratios = np.concatenate([(result.standard_errors()[k] / se[k]).ravel() for k in se])
    ratios = ratios[np.isfinite(ratios)]
    return [
        counter[0],
        seconds,
        max(lacks),
        statistics.median(lacks),
        max(offsets),
        statistics.median(offsets),
        f"{ratios.min():.4f}-{ratios.max():.4f}",
    ]


def _params(snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return snap.weights, snap.means, snap.covariances


def _replicate(result: Bootstrap, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return result.weights[i], result.means[i], result.covariances[i]


def _as_bootstrap(kind: str, plain: list, fitted) -> Bootstrap:
    """Plain EM's ends as a Bootstrap (components matched to the fit's): their standard errors."""
    arrays = []
    for p in plain:
        order = match_components(fitted[1], fitted[2], p.means, p.covariances)
        arrays.append((p.weights[order], p.means[order], p.covariances[order]))
    w, m, c = (np.stack(a) for a in zip(*arrays, strict=True))
    return Bootstrap(kind, 0, len(plain), w, m, c, 0, 0)


def _offset(ours, plain, se: dict[str, np.ndarray]) -> float:
    """The largest |ours - plain| over all parameters in units of their standard errors (the fit's order)."""
    worst = 0.0
    for a, b, s in zip(ours, plain, (se["weights"], se["means"], se["covariances"]), strict=True):
        worst = max(worst, float(np.max(np.abs(a - b) / np.where(s > 0, s, np.inf))))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="faithful,forum2000,forum10000")
    parser.add_argument("--kinds", default="nonparametric,weighted")
    parser.add_argument("--b", type=int, default=0, help="replicates (default: each set's own)")
    args = parse_args(parser, sets="faithful", kinds="nonparametric", b=4)
    out = []
    for name in args.sets.split(","):
        load, fit_kind, b = SETS[name]
        b = args.b or b
        x, cfg = load(), config(fit_kind)
        snap = run_to_end(x, cfg)
        fitted = (snap.weights, snap.means, snap.covariances)
        for kind in args.kinds.split(","):
            rows = replicate_weights(kind, len(x), b, np.random.default_rng(0))  # the seed's first draw
            plain = plain_ends(x, cfg, fitted, rows)
            for label, accelerator in (
                ("Anderson, SQUAREM where it stalls", boot_module.accelerate),
                ("SQUAREM alone", squarem_alone),
            ):
                measured = compare(x, cfg, fitted, kind, b, accelerator, plain, rows)
                out.append([f"{name}, {kind}, {b}", label, *measured])
                print(table(HEADERS, out[-1:]), flush=True)
    print()
    print(table(HEADERS, out))


if __name__ == "__main__":
    main()
