"""Data bigger than memory on one machine: exact EM streamed from a .npy file against the same fit in memory.

A 2-D float32 .npy of --n points (3 well separated clusters) is written once; then, each in a fresh process:
the fit in memory (the whole file loaded) and the fit streamed with --memory-limit, both K = 3, full, from the
same start, --iters iterations with tol 0. Prints seconds per iteration (the passes after the first; the file
in the page cache after the first run) and the peak resident memory above the interpreter with torch loaded.

    .venv/bin/python bench/bench_scale.py [--n 20000000] [--memory-limit 256M] [--iters 5] [--folder /tmp]
        [--dask 1,2] [--parquet] [--repeat 1]

--parquet also writes the same points as a Parquet file (row groups of 1M rows, columns x and y) and streams it.
--repeat R runs every fit R times, one round after another (a busy machine drifts: the rounds interleave the
fits), and prints the median seconds per iteration with the range.

The Dask rows run a LocalCluster of that many worker processes (one thread each) holding the parts in memory; its
peak is the client's (the workers are other processes).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import ROOT, parse_args, table

RUN = """
import json, resource, sys, time
import numpy as np
sys.path.insert(0, {root!r})
import torch
from engine import FitConfig, fit
from engine.io.export import read_params
from engine.io.stream import open_source
from engine.runtime.limits import chunk_rows_for, parse_size
from engine.inference.streaming import fit_stream

def hwm():  # this process's own peak: ru_maxrss survives exec and would start at the parent's resident set
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()

base = rss()
cfg = FitConfig(n_components=3, init_params=read_params({start!r}).as_init(), max_iter={iters}, tol=0.0)
stamps = []
if {workers}:
    from engine.scale import cluster
    client = cluster.connect("local:{workers}")
    source = open_source({data!r})
    rows = min(chunk_rows_for(parse_size({limit!r}), 2), -(-source.n_samples // (4 * {workers})))
    run = fit_stream(source, cfg, rows, run_pass=cluster.ClusterPasses(client, source, rows))
elif {streamed}:
    source = open_source({data!r})
    run = fit_stream(source, cfg, chunk_rows_for(parse_size({limit!r}), source.n_features))
else:
    run = fit(np.load({data!r}), cfg)
for snap in run:
    stamps.append(snap.elapsed)
peak = hwm()
per_iter = float(np.median(np.diff(stamps)))
print(json.dumps({{"per_iter": per_iter, "peak": peak - base, "ll": snap.mean_log_likelihood}}))
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=20_000_000)
    p.add_argument("--memory-limit", default="256M")
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--folder", default=tempfile.gettempdir())
    workers = lambda t: [int(v) for v in t.split(",") if v]  # noqa: E731
    p.add_argument("--dask", type=workers, default=[1, 2], help='worker counts: 1,2 ("": no Dask run)')
    p.add_argument("--parquet", action="store_true", help="stream the same points from a Parquet file too")
    p.add_argument("--repeat", type=int, default=1, help="rounds of every fit (medians printed)")
    args = parse_args(p, n=20_000, iters=1, dask=[], repeat=1)
    data = Path(args.folder) / f"bench_scale_{args.n}.npy"
    start = Path(args.folder) / "bench_scale_start.json"
    if not data.exists():
        rng = np.random.default_rng(0)
        out = np.lib.format.open_memmap(data, mode="w+", dtype=np.float32, shape=(args.n, 2))
        centres = np.array([[0.0, 0.0], [6.0, 3.0], [0.0, 7.0]])
        for lo in range(0, args.n, 5_000_000):  # written by blocks: the bench itself never holds it all
            c = min(5_000_000, args.n - lo)
            out[lo : lo + c] = centres[rng.integers(0, 3, c)] + rng.normal(size=(c, 2))
        out.flush()
        del out
    start.write_text(
        json.dumps({"weights": [1 / 3] * 3, "means": [[1, 1], [5, 2], [1, 6]], "covariances": [np.eye(2).tolist()] * 3})
    )
    rows = []
    results: dict[str, list[dict]] = {}
    runs = [("in memory", False, 0, data), (f"streamed, --memory-limit {args.memory_limit}", True, 0, data)]
    if args.parquet:
        runs.append((f"streamed from Parquet, --memory-limit {args.memory_limit}", True, 0, parquet_copy(data)))
    runs += [(f"Dask LocalCluster, {w} worker{'s' if w > 1 else ''}", True, w, data) for w in args.dask]
    for _ in range(args.repeat):
        for name, streamed, workers, path in runs:
            script = RUN.format(
                root=str(ROOT),
                data=str(path),
                start=str(start),
                iters=args.iters,
                streamed=streamed,
                limit=args.memory_limit,
                workers=workers,
            )
            out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
            results.setdefault(name, []).append(json.loads(out.stdout.strip().splitlines()[-1]))
    for name, _, _, _ in runs:
        times = [r["per_iter"] for r in results[name]]
        spread = f"{min(times):.3g}-{max(times):.3g}" if len(times) > 1 else ""
        last = results[name][-1]
        peak = max(r["peak"] for r in results[name])
        rows.append([name, float(np.median(times)), spread, peak / 1e6, f"{last['ll']:.12f}"])
    results = {name: {"per_iter": float(np.median([r["per_iter"] for r in rs]))} for name, rs in results.items()}
    memory, streamed = results["in memory"], results[f"streamed, --memory-limit {args.memory_limit}"]
    size = args.n * 2 * 4
    print(f"EM on {args.n:,} 2-D float32 points ({size / 1e6:.0f} MB on disk), K = 3, full, {args.iters} iterations")
    print(table(["fit", "seconds / iteration (median)", "range", "peak MB above torch", "mean log-lik"], rows))
    print(f"streamed / in memory: {streamed['per_iter'] / memory['per_iter']:.2f}x the time per iteration")
    dask = {w: results[f"Dask LocalCluster, {w} worker{'s' if w > 1 else ''}"]["per_iter"] for w in args.dask}
    if 1 in dask:
        for w, t in dask.items():
            print(f"Dask, {w} worker(s): {dask[1] / t:.2f}x the speed of 1 worker")


def parquet_copy(data: Path) -> Path:
    """The .npy's points as a Parquet file beside it (columns x, y; row groups of 1M rows), written once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = data.with_suffix(".parquet")
    if not path.exists():
        points = np.load(data, mmap_mode="r")
        schema = pa.schema([("x", pa.float32()), ("y", pa.float32())])
        with pq.ParquetWriter(path, schema) as writer:
            for lo in range(0, len(points), 1_000_000):
                block = np.asarray(points[lo : lo + 1_000_000])
                writer.write_table(pa.table({"x": block[:, 0], "y": block[:, 1]}, schema=schema))
    return path


if __name__ == "__main__":
    main()
