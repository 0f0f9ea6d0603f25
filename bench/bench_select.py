"""Model selection on small data: K = 1..9 x the four covariance types on Old Faithful (272 points), in-process
(the interpreter's start-up excluded), against scikit-learn's GaussianMixture over the same grid and, when R
with mclust is installed (Debian: r-cran-mclust), `Mclust(faithful, G = 1:9)` timed inside R. Medians.
GMM Studio runs the grid batched (engine/grid.py) and, for comparison, one fit at a time.

--sizes: where batching stops paying, on three blobs of N points (the bound in engine/grid.py).

    .venv/bin/python bench/bench_select.py [--repeat 3] [--sizes]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import warnings

import numpy as np
from common import ROOT, median_time, parse_args, reference_blas, table

from engine import FitConfig, load
from engine.inference import grid
from engine.selection.select import run_selection

TYPES = ["full", "tied", "diag", "spherical"]
MCLUST = """
suppressMessages(library(mclust))
t <- numeric(0)
for (i in 1:{repeat}) {{
  s <- Sys.time()
  m <- Mclust(faithful, G = 1:9, verbose = FALSE)
  t <- c(t, as.numeric(Sys.time() - s, units = "secs"))
}}
cat(median(t), m$modelName, m$G, "\\n")
"""


def sklearn_grid(x, restarts: int, ks: range = range(1, 10)) -> tuple[int, str]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # K=9 fits on 272 points: expected

    best = None
    for k in ks:
        for ct in TYPES:
            with reference_blas():
                gm = GaussianMixture(k, covariance_type=ct, n_init=restarts, random_state=0, tol=1e-6).fit(x)
            bic = gm.bic(x)
            if best is None or bic < best[0]:
                best = (bic, k, ct)
    return best[1], best[2]


def timed_grid(x, restarts: int, tol: float, batched: bool, repeat: int, ks: range = range(1, 10)) -> tuple[float, str]:
    """Median seconds of the whole K = 1..9 (`ks`) x 4 types selection, and its choice."""
    chosen = {}
    bound = grid.BATCH_MAX_ELEMENTS
    grid.BATCH_MAX_ELEMENTS = bound if batched else 0

    def run():
        _, best = run_selection(x, list(ks), TYPES, FitConfig(restarts=restarts, tol=tol))
        chosen["best"] = f"K={best.k} {best.covariance_type}"

    try:
        return median_time(run, repeat), chosen["best"]
    finally:
        grid.BATCH_MAX_ELEMENTS = bound


def sizes(repeat: int) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for n, restarts in ((1000, 1), (10_000, 1), (30_000, 1), (30_000, 4), (100_000, 4)):
        x = np.concatenate([rng.normal(c, 1.0, size=(n // 3, 2)) for c in (0, 4, 8)])
        batched, _ = timed_grid(x, restarts, 1e-6, True, repeat)
        alone, _ = timed_grid(x, restarts, 1e-6, False, repeat)
        elements = len(x) * 36 * restarts * 9
        rows.append([len(x), restarts, f"{elements:.2g}", batched, alone, alone / batched])
    print(
        f"three blobs, K = 1..9 x 4 types, tol 1e-6, bound {grid.BATCH_MAX_ELEMENTS:.2g} elements; medians of {repeat}"
    )
    print(table(["N", "restarts", "elements", "batched s", "one by one s", "ratio"], rows))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--sizes", action="store_true", help="where batching the grid stops paying")
    args = parse_args(p, repeat=1)
    if args.sizes:
        sizes(args.repeat)
        return
    x = load(ROOT / "tests" / "data" / "old_faithful.csv", ["1", "2"]).points
    rows = []
    ks = range(1, 3) if args.tiny else range(1, 10)
    # mclust stops EM at a relative log-likelihood change of 1e-5; on Old Faithful (mean log-likelihood about
    # -4.15 per point) that is about 4e-5 per point, GMM Studio's tol unit
    cases = ((1, 1e-6),) if args.tiny else ((1, 1e-6), (1, 4e-5), (5, 1e-6))
    for restarts, tol in cases:
        for batched in (True, False):
            seconds, best = timed_grid(x, restarts, tol, batched, args.repeat, ks)
            how = "batched" if batched else "one fit at a time"
            rows.append([f"GMM Studio select, {restarts} restart(s), tol {tol:g}, {how}", seconds, best])
        if tol != 1e-6:
            continue
        picked = {}

        def sk(restarts=restarts, picked=picked):
            k, ct = sklearn_grid(x, restarts, ks)
            picked["best"] = f"K={k} {ct}"

        rows.append([f"scikit-learn, n_init={restarts}", median_time(sk, args.repeat), picked["best"]])
    if args.tiny:
        pass  # mclust's row takes R's start-up: not part of a check that the bench works
    elif shutil.which("Rscript"):
        out = subprocess.run(["Rscript", "-e", MCLUST.format(repeat=args.repeat)], capture_output=True, text=True)
        if out.returncode == 0:
            seconds, model, g = out.stdout.split()
            rows.append(["R mclust Mclust(G = 1:9) (hierarchical init)", float(seconds), f"K={g} {model}"])
        else:
            print(out.stderr[-500:])
    else:
        print("(Rscript not found: install r-cran-mclust for the mclust row)")
    print(f"Old Faithful, K = 1..{ks[-1]} x {len(TYPES)} covariance types; medians of {args.repeat}")
    print(table(["grid", "seconds", "best by BIC"], rows))


if __name__ == "__main__":
    main()
