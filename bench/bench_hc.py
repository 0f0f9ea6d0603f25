"""The hierarchical start's agglomeration (engine/inference/hc.py) on its sample, against mclust's hc.

    .venv/bin/python bench/bench_hc.py [--dims 2,5,12,30] [--repeat 3]

For each D: hc.sample_size(D) points (2,000 up to D = 12) of four Gaussian blobs, mclust's use = "SVD"
transformation and the whole agglomeration (all S - 1 merges), median wall time. Where Rscript with mclust is
installed, R's hc(x, "VVV", use = "SVD") on the same points, timed inside R (system.time: no R start-up), and
whether its partitions at K = 2..9 are ours.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from common import median_time, parse_args, table

from engine.inference import hc

R_SCRIPT = """
suppressMessages(library(mclust))
x <- as.matrix(read.csv("{data}", header = FALSE))
t <- system.time(for (i in 1:{repeat}) h <- hc(x, modelName = "VVV", use = "SVD"))[["elapsed"]] / {repeat}
write.table(hclass(h, 2:9), "{classes}", row.names = FALSE, col.names = FALSE)
cat(t, "\\n")
"""


def blobs(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Four Gaussian blobs of different spreads (n, d)."""
    rng = np.random.default_rng(seed)
    which = rng.integers(0, 4, n)
    return rng.normal(size=(n, d)) * (0.5 + which[:, None] * 0.3) + which[:, None] * 3.0


def mclust_hc(x: np.ndarray, repeat: int) -> tuple[float, np.ndarray] | None:
    """R's hc on x (N, D): (seconds per call, hclass at K = 2..9 (N, 8)), or None without Rscript and mclust."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data, classes = Path(tmp) / "x.csv", Path(tmp) / "classes.txt"
        np.savetxt(data, x, delimiter=",", fmt="%.17g")
        script = R_SCRIPT.format(data=data, classes=classes, repeat=repeat)
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=1200)
        if out.returncode != 0:
            return None
        return float(out.stdout.split()[-1]), np.loadtxt(classes, dtype=int)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", default="2,5,12,30")
    ap.add_argument("--repeat", type=int, default=3)
    args = parse_args(ap, dims="2", repeat=1)
    rows = []
    for d in (int(v) for v in args.dims.split(",")):
        s = hc.sample_size(d) if not args.tiny else 200
        x = blobs(s, d)
        ours = median_time(lambda x=x: hc.merges(hc.transformed(x)), args.repeat)
        steps = hc.merges(hc.transformed(x))
        theirs = mclust_hc(x, args.repeat)
        if theirs is None:
            rows.append([str(d), str(s), ours, "-", "-"])
            continue
        same = all(np.array_equal(hc.classes(steps, k) + 1, theirs[1][:, k - 2]) for k in range(2, 10))
        rows.append([str(d), str(s), ours, theirs[0], "yes" if same else "no"])
    print(f"Model-based hierarchical clustering (VVV, use = SVD), all merges, median of {args.repeat}")
    print(table(["D", "points", "ours (s)", "mclust hc (s)", "same partitions K=2..9"], rows))


if __name__ == "__main__":
    main()
