"""A fit on a busy machine: 1e5 points, K=3, 4 restarts, alone and beside two processes that keep every core
busy, with the engine's thread settings and with torch's defaults (OpenMP threads that spin while they
wait); scikit-learn's GaussianMixture on the same job as the reference. Each fit runs in a fresh process (the
OpenMP settings are read when the library loads). Then fits in D = 10 and 30 as the window runs them (one E-step
worker), alone and busy. Prints a table of medians.

    .venv/bin/python bench/bench_busy.py [--repeat 3] [--only-dims]
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

from common import ROOT, parse_args, table

FIT = """
import json, sys, time
sys.path.insert(0, {root!r})
import numpy as np
rng = np.random.default_rng(0)
x = np.concatenate([rng.normal(c, 1.0, ({per}, 2)) for c in ([0, 0], [2, 2], [0, 3])])  # overlapping
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
# A fit as the window runs it (one E-step worker thread) in D dimensions: D = 10 takes the features' E-step, D = 30
# the whitened one; both call NumPy's BLAS, whose own threads spin after each call unless held to one.
FIT_D = """
import json, sys, time
sys.path.insert(0, {root!r})
import numpy as np
from engine import FitConfig, run_to_end
from engine.runtime.threads import set_chunk_workers
set_chunk_workers(1)
d, n = {d}, {n}
rng = np.random.default_rng(d)
x = rng.normal(0.0, 3.0, (5, d))[rng.integers(0, 5, n)] + rng.normal(size=(n, d))
run_to_end(x[:2000], FitConfig(n_components=5, max_iter=2))  # imports and first calls, not timed
t = time.perf_counter()
run_to_end(x, FitConfig(n_components=5, max_iter=20, tol=0.0))
print(json.dumps(time.perf_counter() - t))
"""
ONE_WORKER = {
    "gmm-studio, one worker, D = 10 (N = 2e5, K = 5)": (10, 200_000),
    "gmm-studio, one worker, D = 30 (N = 5e4, K = 5)": (30, 50_000),
}


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


def run_fit(kind: str, per: int = 33_334) -> float:
    """Seconds of one fit of `kind` in a fresh process (2-D fits: `per` points around each of 3 centres)."""
    env = dict(os.environ)
    if kind == "torch defaults":
        env["GMM_STUDIO_THREADS"] = "torch-defaults"
    if kind in ONE_WORKER:
        d, n = ONE_WORKER[kind]
        code = FIT_D.format(root=str(ROOT), d=d, n=n)
    else:
        code = FIT.format(root=str(ROOT), sklearn=kind == "scikit-learn", per=per)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--busy", type=int, default=2, help="competing busy processes")
    p.add_argument("--load", choices=["python", "torch"], default="torch", help="what the busy processes run")
    p.add_argument("--only-dims", action="store_true", help="only the D-dimensional fits with one worker")
    args = parse_args(p, repeat=1, busy=1, load="python")
    kinds = [] if args.only_dims else ["gmm-studio", "torch defaults", "scikit-learn"]
    kinds = ["gmm-studio"] if args.tiny else kinds + list(ONE_WORKER)
    per = 300 if args.tiny else 33_334
    rows = []
    for kind in kinds:
        alone = statistics.median(run_fit(kind, per) for _ in range(args.repeat))
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
                busy_times.append(run_fit(kind, per))
            finally:
                for proc in procs:
                    proc.terminate()
                    proc.join()
        busy = statistics.median(busy_times)
        rows.append([kind, alone, busy, max(busy_times), busy / alone])
        print(f"{kind}: alone {alone:.3f} s, busy {busy_times}", file=sys.stderr)
    print(
        f"2-D: N=1e5, K=3, 4 restarts, tol 1e-6; D = 10 and 30: 20 iterations, the window's one E-step worker; "
        f"{os.cpu_count()} cores; {args.busy} busy {args.load} processes; medians of {args.repeat}"
    )
    print(table(["fit", "alone (s)", "busy (s)", "worst busy (s)", "busy / alone"], rows))


if __name__ == "__main__":
    main()
