"""Loading a CSV of N points (header, two columns, 17 significant digits): GMM Studio's loader against its own
field-by-field parser and against numpy.loadtxt alone, in the same run.

    .venv/bin/python bench/bench_load.py [--n 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from common import median_time, parse_args, table

from engine.io.data import load
from engine.io.text import load_rows, text_rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = parse_args(ap, n=1000, repeat=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "points.csv"
        np.savetxt(
            path,
            np.random.default_rng(0).normal(size=(args.n, 2)),
            delimiter=",",
            header="x,y",
            comments="",
            fmt="%.17g",
        )
        t_load = median_time(lambda: load(path), args.repeat)
        t_careful = median_time(lambda: load_rows(path, text_rows(path, path.read_bytes()), None), args.repeat)
        t_numpy = median_time(lambda: np.loadtxt(path, delimiter=",", skiprows=1), args.repeat)
    rows = [
        ["numpy.loadtxt alone (no checks)", t_numpy, f"{t_careful / t_numpy:.1f}"],
        ["gmm-studio load (NumPy's reader, checks)", t_load, f"{t_careful / t_load:.1f}"],
        ["gmm-studio field-by-field parser", t_careful, "1.0"],
    ]
    print(f"Loading a CSV of {args.n} points (median of {args.repeat})")
    print(table(["reader", "seconds", "speed-up vs field by field"], rows))


if __name__ == "__main__":
    main()
