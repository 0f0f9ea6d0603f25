"""The bootstrap of a fit with missing values (issue 25: `fit --missing em --bootstrap B`) against the same points'
complete-data bootstrap, in the same run.

N points of the forum preset, K = 3, D = 2, full covariances; --rows-missing of the rows miss a coordinate (both
one-coordinate patterns, common.with_missing). Each data set is fitted (the best of 10 k-means++ restarts; with
missing values by exact EM on the observed coordinates) and its B replicates run as one batch
(engine/selection/bootstrap.py; with missing values each replicate is missing-values EM,
selection/replicate_missing.py; parametric: points drawn from the fit missing the data's cells,
selection/replicate_simulated.py, against the complete data's parametric replicates). A row's iterations are the
batch's E-steps; "first E-step" is the nonparametric and weighted missing-values replicates' first sums (one batched
E-step at the fit, where complete data takes one shared product: the part of the time a shared product could save at
most).

    .venv/bin/python bench/bench_bootstrap_missing.py [--n 100000] [--b 200] [--rows-missing 0.2]
        [--type nonparametric|weighted|parametric] [--repeat 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import forum_data, parse_args, table, with_missing

from engine import FitConfig, run_to_end
from engine.selection import replicate_missing
from engine.selection.bootstrap import bootstrap

HEADERS = ["what", "seconds", "iterations (the batch's)", "time / complete data's", "first E-step (s)"]


def _timed_first_sums() -> list[float]:
    """Time ReplicateMissing.first_sums (seconds added to the returned list's one entry) from now on."""
    spent = [0.0]
    plain = replicate_missing.ReplicateMissing.first_sums

    def timed(self, one):
        start = time.perf_counter()
        out = plain(self, one)
        spent[0] += time.perf_counter() - start
        return out

    replicate_missing.ReplicateMissing.first_sums = timed
    return spent


def rows_for(x: np.ndarray, holes: np.ndarray, b: int, kind: str, repeat: int = 1) -> list[list]:
    """The fit and bootstrap of the complete points x (N, D) and of the same points with holes (NaN): each fitted
    once, then the two bootstraps run in turn `repeat` times (paired rounds); their median seconds and the median of
    the rounds' ratios."""
    cfg = FitConfig(n_components=3, covariance_type="full", seed=0, restarts=10)
    spent = _timed_first_sums()
    named = [("complete data", x), (f"{np.isnan(holes).any(1).mean():.0%} of rows missing a value", holes)]
    rows, fitted, seconds, firsts, iterations = [], [], [[], []], [[], []], [0, 0]
    for name, data in named:
        start = time.perf_counter()
        snap = run_to_end(data, cfg, missing="em")
        rows.append([f"{name}: the fit (best of 10 restarts)", time.perf_counter() - start, snap.iteration, "", ""])
        fitted.append((snap.weights, snap.means, snap.covariances))
    for _ in range(repeat):
        for i, (_, data) in enumerate(named):
            spent[0] = 0.0
            start = time.perf_counter()
            boot = bootstrap(data, fitted[i], cfg, b, kind, seed=0)
            seconds[i].append(time.perf_counter() - start)
            firsts[i].append(spent[0])
            iterations[i] = boot.iterations
    ratios = np.array(seconds[1]) / np.array(seconds[0])
    for i, (name, _) in enumerate(named):
        first = f"{np.median(firsts[i]):.3f}" if max(firsts[i]) else ""
        ratio = f"{np.median(ratios) if i else 1.0:.2f}"
        rows.append([f"{name}: bootstrap B={b} {kind}", float(np.median(seconds[i])), iterations[i], ratio, first])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--b", type=int, default=200)
    ap.add_argument("--rows-missing", type=float, default=0.2)
    ap.add_argument("--type", default="nonparametric", choices=["nonparametric", "weighted", "parametric"])
    ap.add_argument("--repeat", type=int, default=1, help="paired rounds of the two bootstraps (medians)")
    args = parse_args(ap, n=2000, b=10, repeat=1)
    x = forum_data(args.n, seed=1)
    holes = with_missing(x, 3, args.rows_missing)
    print(
        f"the bootstrap with missing values, N={args.n}, K=3, D=2, full, B={args.b}, {args.type}; seconds: the median "
        f"of {args.repeat} paired round(s), the ratio the median of the rounds' ratios"
    )
    print(table(HEADERS, rows_for(x, holes, args.b, args.type, args.repeat)))


if __name__ == "__main__":
    main()
