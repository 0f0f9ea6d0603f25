"""A fit on a busy machine: 1e5 points, K=3, 4 restarts, alone and beside two processes that keep every core
busy, with the engine's thread settings and with torch's defaults (OpenMP threads that spin while they
wait); scikit-learn's GaussianMixture on the same job as the reference. Each fit runs in a fresh process (the
OpenMP settings are read when the library loads). Prints a table of medians.

    .venv/bin/python bench/bench_busy.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

from common import ROOT, table

FIT = """
import json, sys, time
sys.path.insert(0, {root!r})
import numpy as np
rng = np.random.default_rng(0)
x = np.concatenate([rng.normal(c, 1.0, (33_334, 2)) for c in ([0, 0], [2, 2], [0, 3])])  # overlapping
if {sklearn}:
    from sklearn.mixture import GaussianMixture
    t = time.perf_counter()
    GaussianMixture(3, n_init=4, tol=1e-6, max_iter=200, init_params="k-means++", random_state=0).fit(x)
else:
    from engine import FitConfig, run_to_end
    run_to_end(x[:1000], FitConfig(n_components=3, max_iter=2))  # imports and first calls, not timed
    t = time.perf_counter()
    run_to_end(x, FitConfig(n_components=3, restarts=4, tol=1e-6, max_iter=200))
print(json.dumps(time.perf_counter() - t))
"""


def spin(stop_at: float, kind: str) -> None:
    """Keep a core busy as another user's program would: pure Python, or torch's own multi-threaded kernels
    (another numerical program with its OpenMP threads: the case where spinning threads fight)."""
    if kind == "torch":
        import torch

        a = torch.randn(300, 300)
        while time.time() < stop_at:
            (a @ a).sum()
    while time.time() < stop_at:
        sum(i * i for i in range(10_000))


def run_fit(kind: str) -> float:
    env = dict(os.environ)
    if kind == "torch defaults":
        env["GMM_STUDIO_THREADS"] = "torch-defaults"
    code = FIT.format(root=str(ROOT), sklearn=kind == "scikit-learn")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--busy", type=int, default=2, help="competing busy processes")
    p.add_argument("--load", choices=["python", "torch"], default="torch", help="what the busy processes run")
    args = p.parse_args()
    kinds = ["gmm-studio", "torch defaults", "scikit-learn"]
    rows = []
    for kind in kinds:
        alone = statistics.median(run_fit(kind) for _ in range(args.repeat))
        busy_times = []
        for _ in range(args.repeat):
            stop_at = time.time() + 600
            procs = [
                multiprocessing.Process(target=spin, args=(stop_at, args.load), daemon=True) for _ in range(args.busy)
            ]
            for proc in procs:
                proc.start()
            try:
                time.sleep(0.5)
                busy_times.append(run_fit(kind))
            finally:
                for proc in procs:
                    proc.terminate()
                    proc.join()
        busy = statistics.median(busy_times)
        rows.append([kind, alone, busy, max(busy_times), busy / alone])
        print(f"{kind}: alone {alone:.3f} s, busy {busy_times}", file=sys.stderr)
    print(
        f"N=1e5, K=3, 4 restarts, tol 1e-6; {os.cpu_count()} cores; {args.busy} busy {args.load} processes; "
        f"medians of {args.repeat}"
    )
    print(table(["fit", "alone (s)", "busy (s)", "worst busy (s)", "busy / alone"], rows))


if __name__ == "__main__":
    main()
