"""Memory of a fit's bounded history: 1000 EM iterations at N=1e5 (K=3), 1 and 10 restarts.

    .venv/bin/python bench/bench_history.py [--n 100000] [--iters 1000]

The history never holds the data: an entry is the parameters of one iteration (all restarts), so its size
does not depend on N. Reported: the entries kept, the bytes they hold (History.nbytes), the Python heap
growth while recording (tracemalloc, the snapshots themselves excluded), and what keeping every
snapshot's parameters would take.
"""

from __future__ import annotations

import argparse
import tracemalloc

from common import forum_data, parse_args, table

from engine import FitConfig, History, fit


def measure(x, restarts: int, iters: int) -> list:
    h = History()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    unbounded = 0
    for snap in fit(x, FitConfig(n_components=3, restarts=restarts, tol=0.0, max_iter=iters)):
        h.append(snap)
        unbounded += History.entry_bytes(3, 2, restarts)
        del snap
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return [
        restarts,
        iters + 1,
        len(h.kept()),
        f"{h.nbytes / 1e6:.3f}",
        f"{grown / 1e6:.3f}",
        f"{unbounded / 1e6:.3f}",
        f"{h.capacity:,}",
    ]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--iters", type=int, default=1000)
    args = parse_args(p, n=1000, iters=5)
    x = forum_data(args.n, seed=0)
    rows = [measure(x, r, args.iters) for r in (1, 10)]
    print(f"N={args.n:,}, K=3, {args.iters} iterations (tol 0)")
    print(
        table(
            ["restarts", "snapshots", "entries kept", "history MB", "heap growth MB", "every snapshot MB", "capacity"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
