"""Model selection on small data: K = 1..9 x the four covariance types on Old Faithful (272 points), in-process
(the interpreter's start-up excluded), against scikit-learn's GaussianMixture over the same grid and, when R
with mclust is installed (Debian: r-cran-mclust), `Mclust(faithful, G = 1:9)` timed inside R. Medians.

    .venv/bin/python bench/bench_select.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import warnings

from common import ROOT, median_time, table

from engine import FitConfig, load
from engine.select import run_selection

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


def sklearn_grid(x, restarts: int) -> tuple[int, str]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # K=9 fits on 272 points: expected

    best = None
    for k in range(1, 10):
        for ct in TYPES:
            gm = GaussianMixture(k, covariance_type=ct, n_init=restarts, random_state=0, tol=1e-6).fit(x)
            bic = gm.bic(x)
            if best is None or bic < best[0]:
                best = (bic, k, ct)
    return best[1], best[2]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    x = load(ROOT / "tests" / "data" / "old_faithful.csv", ["1", "2"]).points
    rows = []
    # mclust stops EM at a relative log-likelihood change of 1e-5; on Old Faithful (mean log-likelihood about
    # -4.15 per point) that is about 4e-5 per point, GMM Studio's tol unit
    for restarts, tol in ((1, 1e-6), (1, 4e-5), (5, 1e-6)):
        chosen = {}

        def ours(restarts=restarts, tol=tol, chosen=chosen):
            _, best = run_selection(x, list(range(1, 10)), TYPES, FitConfig(restarts=restarts, tol=tol))
            chosen["best"] = f"K={best.k} {best.covariance_type}"

        rows.append([f"GMM Studio select, {restarts} restart(s), tol {tol:g}", median_time(ours, args.repeat),
                     chosen["best"]])
        if tol != 1e-6:
            continue
        picked = {}

        def sk(restarts=restarts, picked=picked):
            k, ct = sklearn_grid(x, restarts)
            picked["best"] = f"K={k} {ct}"

        rows.append([f"scikit-learn, n_init={restarts}", median_time(sk, args.repeat), picked["best"]])
    if shutil.which("Rscript"):
        out = subprocess.run(["Rscript", "-e", MCLUST.format(repeat=args.repeat)], capture_output=True, text=True)
        if out.returncode == 0:
            seconds, model, g = out.stdout.split()
            rows.append(["R mclust Mclust(G = 1:9) (hierarchical init)", float(seconds), f"K={g} {model}"])
        else:
            print(out.stderr[-500:])
    else:
        print("(Rscript not found: install r-cran-mclust for the mclust row)")
    print(f"Old Faithful, K = 1..9 x {len(TYPES)} covariance types, tol 1e-6; medians of {args.repeat}")
    print(table(["grid", "seconds", "best by BIC"], rows))


if __name__ == "__main__":
    main()
