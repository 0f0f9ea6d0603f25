"""The bootstrap of a fit with missing values (issue 25: `fit --missing em --bootstrap B`) against the same points'
complete-data bootstrap, in the same run.

N points of the forum preset, K = 3, D = 2, full covariances; --rows-missing of the rows miss a coordinate (both
one-coordinate patterns, common.with_missing). Each data set is fitted (the best of 10 k-means++ restarts; with
missing values by exact EM on the observed coordinates) and its B replicates run as one batch
(engine/selection/bootstrap.py; with missing values each replicate is missing-values EM,
selection/replicate_missing.py). A row's iterations are the batch's E-steps; "first E-step" is the missing-values
replicates' first sums (one batched E-step at the fit, where complete data takes one shared product: the part of the
time a shared product could save at most).

    .venv/bin/python bench/bench_bootstrap_missing.py [--n 100000] [--b 200] [--rows-missing 0.2]
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


def rows_for(x: np.ndarray, holes: np.ndarray, b: int, kind: str) -> list[list]:
    """The fit and bootstrap of the complete points x (N, D) and of the same points with holes (NaN)."""
    cfg = FitConfig(n_components=3, covariance_type="full", seed=0, restarts=10)
    spent = _timed_first_sums()
    rows, reference = [], None
    for name, data in (("complete data", x), (f"{np.isnan(holes).any(1).mean():.0%} of rows missing a value", holes)):
        start = time.perf_counter()
        snap = run_to_end(data, cfg, missing="em")
        fit_s = time.perf_counter() - start
        fitted = (snap.weights, snap.means, snap.covariances)
        spent[0] = 0.0
        start = time.perf_counter()
        boot = bootstrap(data, fitted, cfg, b, kind, seed=0)
        seconds = time.perf_counter() - start
        reference = reference or seconds
        rows.append([f"{name}: the fit (best of 10 restarts)", fit_s, snap.iteration, "", ""])
        first = f"{spent[0]:.3f}" if spent[0] else ""
        rows.append([f"{name}: bootstrap B={b} {kind}", seconds, boot.iterations, f"{seconds / reference:.2f}", first])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--b", type=int, default=200)
    ap.add_argument("--rows-missing", type=float, default=0.2)
    ap.add_argument("--type", default="nonparametric", choices=["nonparametric", "weighted"])
    args = parse_args(ap, n=2000, b=10)
    x = forum_data(args.n, seed=1)
    holes = with_missing(x, 3, args.rows_missing)
    print(f"the bootstrap with missing values, N={args.n}, K=3, D=2, full, B={args.b}; one run each, seconds")
    print(table(HEADERS, rows_for(x, holes, args.b, args.type)))


if __name__ == "__main__":
    main()
