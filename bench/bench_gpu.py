"""EM on a CUDA GPU (run on the device machine; not measured yet: this task was not lent one).

    python bench/bench_gpu.py [--n 10000000] [--k 8] [--iters 20] [--big 100000000]

Prints the median ms per EM iteration at N=1e7, K=8, float32 on cuda (target under 5 ms), then fits
N=1e8 to check it fits in GPU memory (peak memory printed).
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
from common import snapshot_intervals, table

from engine import FitConfig, fit


def per_iteration(n: int, k: int, iters: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2)) + rng.integers(0, 4, size=(n, 1)) * 3.0
    cfg = FitConfig(n_components=k, max_iter=iters, tol=0.0, dtype="float32", device="cuda", init="random-data")
    torch.cuda.reset_peak_memory_stats()
    intervals, _ = snapshot_intervals(fit(x, cfg), before_stamp=torch.cuda.synchronize)
    return statistics.median(intervals) * 1e3, torch.cuda.max_memory_allocated() / 2**30


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--big", type=int, default=100_000_000)
    args = ap.parse_args()
    rows = []
    for n, iters in ((args.n, args.iters), (args.big, 3)):
        ms, gib = per_iteration(n, args.k, iters)
        rows.append([f"{n:.0e}", args.k, ms, gib])
    print(f"EM on {torch.cuda.get_device_name()}, float32")
    print(table(["N", "K", "ms / iteration (median)", "peak GPU memory GiB"], rows))


if __name__ == "__main__":
    main()
