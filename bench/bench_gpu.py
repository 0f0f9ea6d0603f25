"""EM on a CUDA GPU, against the same engine on the same machine's CPU (the device machine; see the README).

    python bench/bench_gpu.py [--n 10000000] [--k 8] [--iters 20] [--big 100000000] [--device cuda]

Four tables:
1. agreement: the same em fit (forum data, N=1e5, K=3, same start, 30 iterations, tol 0) on cpu and on the
   GPU, float64, for the four covariance types: largest difference of the per-iteration mean log-likelihood
   and of the final parameters; and float32 on the GPU against float64 on the cpu;
2. em per iteration at N=1e7, K=8 on the GPU (float32 and float64; target under 5 ms in float32), with the
   machine's CPU as the reference in the same run;
3. N=1e8, K=8, float32: it must fit in GPU memory (peak memory printed);
4. the other procedures and batched restarts on the GPU: 100 k-means++ restarts of the forum data, and
   gradient-em / marginal steps, each against the CPU in the same run.

`--device cpu` with small sizes is a dry run of the script on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import torch
from common import forum_data, snapshot_intervals, table

from engine import FitConfig, fit, run_to_end
from engine.io.export import MixtureParams

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def trace(x: np.ndarray, cfg: FitConfig) -> tuple[np.ndarray, object]:
    """Per-iteration mean log-likelihood (T,) and the last snapshot of a fit."""
    lls, last = [], None
    for last in fit(x, cfg):
        lls.append(last.mean_log_likelihood)
    return np.array(lls), last


def agreement(device: str, iters: int = 30) -> list[list]:
    """em on cpu vs the device from one start: largest relative LL difference and parameter difference."""
    x = forum_data(100_000, seed=2)
    start = run_to_end(x, FitConfig(n_components=3, max_iter=0, seed=0))
    init = MixtureParams(start.weights, start.means, start.covariances).as_init()
    rows = []
    for cov_type in COVARIANCE_TYPES:
        base = FitConfig(n_components=3, covariance_type=cov_type, init_params=init, max_iter=iters, tol=0.0)
        ll_cpu, end_cpu = trace(x, base)
        for dtype in ("float64", "float32"):
            ll_dev, end_dev = trace(x, dataclasses.replace(base, device=device, dtype=dtype))
            rel = float(np.max(np.abs(ll_dev - ll_cpu) / np.abs(ll_cpu)))
            dparam = max(
                float(np.max(np.abs(getattr(end_dev, a) - getattr(end_cpu, a))))
                for a in ("weights", "means", "covariances")
            )
            rows.append([cov_type, f"{dtype} on {device} vs float64 cpu", f"{rel:.2e}", f"{dparam:.2e}"])
    return rows


def em_per_iteration(n: int, k: int, iters: int, device: str, dtype: str) -> tuple[float, float, float]:
    """Median seconds per em iteration (whole loop, snapshots included), peak GPU GiB, final mean LL."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2)) + rng.integers(0, k, size=(n, 1)) * np.array([3.0, 1.5])
    # the start: K points spread over the data, the data's covariance (no O(N) initialisation in the timing)
    sample = x[rng.choice(n, size=k, replace=False)]
    cov = np.broadcast_to(np.cov(x[:100_000].T), (k, 2, 2)).copy()
    init = MixtureParams(np.full(k, 1.0 / k), sample, cov).as_init()
    cfg = FitConfig(n_components=k, init_params=init, max_iter=iters, tol=0.0, dtype=dtype, device=device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    intervals, last = snapshot_intervals(fit(x, cfg), skip=1, before_stamp=lambda: sync(device))
    gib = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else float("nan")
    return statistics.median(intervals), gib, last.mean_log_likelihood


def profile(n: int, k: int, device: str) -> str:
    """torch.profiler's table of 5 em iterations at N, K, float32: where an iteration's time goes."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2)) + rng.integers(0, k, size=(n, 1)) * np.array([3.0, 1.5])
    init = MixtureParams(np.full(k, 1.0 / k), x[:k].copy(), np.broadcast_to(np.eye(2), (k, 2, 2)).copy()).as_init()
    cfg = FitConfig(n_components=k, init_params=init, max_iter=5, tol=0.0, dtype="float32", device=device)
    run_to_end(x, cfg)  # warm-up
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.startswith("cuda"):
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        run_to_end(x, cfg)
    key = "cuda_time_total" if device.startswith("cuda") else "cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=18)


def timed_fit(x: np.ndarray, cfg: FitConfig) -> tuple[float, object]:
    sync(cfg.device)
    t = time.perf_counter()
    last = run_to_end(x, cfg)
    sync(cfg.device)
    return time.perf_counter() - t, last


def procedures(device: str) -> list[list]:
    """Restarts and the gradient procedures on cpu and the device (one warm-up each)."""
    x = forum_data(1000, seed=0)
    configs = [
        ("em, 100 k-means++ restarts, tol 1e-6", FitConfig(n_components=3, restarts=100, seed=0)),
        (
            "gradient-em, 100 chains, 300 steps",
            FitConfig(
                n_components=3, algorithm="gradient-em", restarts=100, select_by="final", max_iter=300, dtype="float32"
            ),
        ),
        ("marginal, 1 restart, 300 steps", FitConfig(n_components=3, algorithm="marginal", max_iter=300, tol=0.0)),
    ]
    rows = []
    for name, cfg in configs:
        results = {}
        for dev in ("cpu", device):
            c = dataclasses.replace(cfg, device=dev)
            # warm-up: the device's kernels, Pyro's first trace
            timed_fit(x, dataclasses.replace(c, max_iter=min(c.resolved().max_iter, 20)))
            results[dev] = timed_fit(x, c)
        (t_cpu, s_cpu), (t_dev, s_dev) = results["cpu"], results[device]
        rows.append(
            [
                name,
                t_cpu,
                t_dev,
                f"{t_cpu / t_dev:.2f}",
                f"{s_cpu.mean_log_likelihood:.6f}",
                f"{s_dev.mean_log_likelihood:.6f}",
            ]
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--cpu-iters", type=int, default=3)
    ap.add_argument("--big", type=int, default=100_000_000)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--profile", action="store_true", help="also print torch.profiler's table at N, K")
    args = ap.parse_args()
    dev = args.device
    name = torch.cuda.get_device_name() if dev.startswith("cuda") else "cpu (dry run)"
    print(f"device: {name}; torch {torch.__version__}; CPU threads {torch.get_num_threads()}", flush=True)

    print("\n1. em agreement, forum data N=1e5, K=3, 30 iterations from one start", flush=True)
    print(
        table(
            ["covariance", "run", "max rel. diff of mean LL per iteration", "max abs. parameter diff"], agreement(dev)
        ),
        flush=True,
    )

    print(f"\n2. em per iteration, N={args.n:.0e}, K={args.k}, D=2, full (median; whole loop)", flush=True)
    rows = []
    t_ref, _, ll_ref = em_per_iteration(args.n, args.k, args.cpu_iters + 1, "cpu", "float32")
    rows.append(["cpu", "float32", t_ref * 1e3, "1.0", "", f"{ll_ref:.8f}"])
    for dtype in ("float32", "float64"):
        t, gib, ll = em_per_iteration(args.n, args.k, args.iters, dev, dtype)
        rows.append([dev, dtype, t * 1e3, f"{t_ref / t:.1f}", f"{gib:.2f}", f"{ll:.8f}"])
    print(
        table(
            [
                "device",
                "dtype",
                "ms / iteration",
                "speed-up vs cpu float32",
                "peak GPU GiB",
                f"mean LL after {args.cpu_iters} (cpu) / {args.iters} its",
            ],
            rows,
        ),
        flush=True,
    )

    print(f"\n3. N={args.big:.0e}, K={args.k}, float32 on {dev}: 3 iterations", flush=True)
    t, gib, ll = em_per_iteration(args.big, args.k, 3, dev, "float32")
    print(
        table(["N", "ms / iteration", "peak GPU GiB", "mean LL"], [[f"{args.big:.0e}", t * 1e3, gib, ll]]), flush=True
    )

    print("\n4. procedures on the forum data (N=1000), cpu vs device, seconds per fit", flush=True)
    print(
        table(["fit", "cpu s", f"{dev} s", "cpu / device", "cpu mean LL", "device mean LL"], procedures(dev)),
        flush=True,
    )

    if args.profile:
        print(f"\n5. profile of 5 em iterations (plus the initial evaluation), N={args.n:.0e}, K={args.k}, float32")
        print(profile(args.n, args.k, dev), flush=True)


if __name__ == "__main__":
    main()
