"""Model selection on small data, Old Faithful (272 points), medians.

The fourteen-model table: mclust's fourteen covariance models x K = 1..9, one restart per cell from mclust's
hierarchical (hc) start, in-process and as a whole `main.py select ... --covariance all` command (the
interpreter's start-up and imports included), side by side with R's `Mclust(faithful, G = 1:9)` timed inside R
and as a whole Rscript command (R's start-up and mclust's loading included), in the same run; the start-ups
alone; and what each picks by BIC (both should pick EEE with K = 3).

The four-type table: K = 1..9 x scikit-learn's four types in-process (the interpreter's start-up excluded) against
scikit-learn's GaussianMixture over the same grid (the ratio: scikit-learn's time over ours at the same restarts).
GMM Studio runs the grid batched (engine/inference/grid.py) and, for comparison, one fit at a time.

--sizes: where batching stops paying, on three blobs of N points (the bound in engine/grid.py).
--cpu: the in-process rows (ours, scikit-learn's, mclust's inside R) in the process's CPU seconds instead of wall
seconds, scikit-learn's BLAS on one thread (its idle threads spin, and that would count), for a machine shared with
other work, where wall time measures the load as much as the code. --in-process: no whole-command rows (mclust's
inside R stays).

    .venv/bin/python bench/bench_select.py [--repeat 3] [--only fourteen|four] [--sizes] [--cpu] [--in-process]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from common import ROOT, median_time, parse_args, reference_blas, table

from engine import FitConfig, load
from engine.config import covariance_names
from engine.inference import grid
from engine.selection.select import run_selection

TYPES = ["full", "tied", "diag", "spherical"]
MCLUST = """
suppressMessages(library(mclust))
t <- numeric(0)
for (i in 1:{repeat}) {{
  s <- proc.time()
  m <- Mclust(faithful, G = 1:9, verbose = FALSE)
  e <- proc.time() - s
  t <- c(t, {clock})
}}
cat(median(t), m$modelName, m$G, "\\n")
"""
MCLUST_COMMAND = (
    "suppressMessages(library(mclust)); m <- Mclust(faithful, G = 1:9, verbose = FALSE); cat(m$modelName, m$G)"
)
# mclust stops EM at a relative log-likelihood change of 1e-5; on Old Faithful (mean log-likelihood about -4.15
# per point) that is about 4e-5 per point, GMM Studio's tol unit
MCLUST_TOL = 4e-5
WALL_R, CPU_R = 'e[["elapsed"]]', 'e[["user.self"]] + e[["sys.self"]]'
CLOCK = {"cpu": False}  # --cpu: the in-process rows in CPU seconds


def timed(fn, repeat: int) -> float:
    """Median seconds of fn() over `repeat` runs after one warm-up: wall time, or the process's CPU time (--cpu)."""
    if not CLOCK["cpu"]:
        return median_time(fn, repeat)
    fn()
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def sklearn_grid(x, restarts: int, ks: range = range(1, 10)) -> tuple[int, str]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # K=9 fits on 272 points: expected

    best = None
    for k in ks:
        for ct in TYPES:
            # --cpu: NumPy's BLAS on the one thread the engine set (idle threads spinning would count as CPU time)
            with nullcontext() if CLOCK["cpu"] else reference_blas():
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
        return timed(run, repeat), chosen["best"]
    finally:
        grid.BATCH_MAX_ELEMENTS = bound


def wall(command: list[str], repeat: int) -> tuple[float, str]:
    """Median wall seconds of a whole command (start-up included) over `repeat` runs after one warm-up (the
    files it reads then come from the page cache, as they do for R's), and its last run's standard output."""
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times), out.stdout


def our_command(covariance: str, ks: str, output: Path) -> list[str]:
    """`main.py select` on Old Faithful, one restart per cell (the command's own start: k-means++)."""
    data = str(ROOT / "tests" / "data" / "old_faithful.csv")
    main = str(ROOT / "main.py")
    return [
        sys.executable,
        main,
        "select",
        data,
        "--covariance",
        covariance,
        "-k",
        ks,
        "--restarts",
        "1",
        "--quiet",
    ] + [
        "-o",
        str(output),
    ]


def best_in(report: Path) -> str:
    """The fit of lowest BIC in a select report (JSON) as 'K=3 EEE'."""
    fits = [f for f in json.loads(report.read_text())["fits"] if f["bic"] is not None]
    best = min(fits, key=lambda f: f["bic"])
    return f"K={best['k']} {best['model']}"


def fourteen_in_process(x, repeat: int, ks: range) -> list[list]:
    """Rows: the fourteen-model grid in-process, hc start and the command's k-means++ start, our tol and mclust's."""
    rows = []
    for init, tol in (("hc", 1e-6), ("hc", MCLUST_TOL), ("kmeans++", 1e-6)):
        cfg = FitConfig(n_components=1, init=init, restarts=1, seed=0, tol=tol)
        chosen = {}

        def run(cfg=cfg, chosen=chosen):
            _, best = run_selection(x, list(ks), covariance_names(), cfg)
            chosen["best"] = f"K={best.k} {best.model}"

        seconds = timed(run, repeat)
        rows.append([f"GMM Studio in-process, {init} start, tol {tol:g}", seconds, chosen["best"]])
    return rows


def fourteen_commands(repeat: int, commands: bool = True) -> list[list]:
    """Rows: whole commands with their start-ups, ours and R's, and the start-ups alone (commands False: only
    mclust inside R)."""
    rows = _our_commands(repeat) if commands else []
    if not shutil.which("Rscript"):
        print("(Rscript not found: install r-cran-mclust for mclust's rows)")
        return rows
    clock = CPU_R if CLOCK["cpu"] else WALL_R
    out = subprocess.run(
        ["Rscript", "-e", MCLUST.format(repeat=repeat, clock=clock)], capture_output=True, text=True, check=True
    )
    seconds, model, g = out.stdout.split()
    rows.append(["R mclust Mclust(G = 1:9) inside R", float(seconds), f"K={g} {model}"])
    if not commands:
        return rows
    seconds, picked = wall(["Rscript", "-e", MCLUST_COMMAND], repeat)
    model, g = picked.split()
    rows.append(["R whole command: Rscript -e 'library(mclust); Mclust(...)'", seconds, f"K={g} {model}"])
    startup = wall(["Rscript", "-e", "suppressMessages(library(mclust))"], repeat)[0]
    rows.append(["  its start-up: Rscript + library(mclust)", startup, ""])
    return rows


def _our_commands(repeat: int) -> list[list]:
    """Rows: our whole command, its start-up, python's and torch's start-up (wall seconds)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "select.json"
        seconds, _ = wall(our_command("all", "1-9", report), repeat)
        rows.append(["GMM Studio whole command: main.py select --covariance all -k 1-9", seconds, best_in(report)])
        seconds, _ = wall(our_command("EII", "1", report), repeat)
        rows.append(["  its start-up: the same command on one cell (EII, K=1)", seconds, ""])
    for what, code in (("  python start-up alone", "pass"), ("  python + import torch", "import torch")):
        rows.append([what, wall([sys.executable, "-c", code], repeat)[0], ""])
    return rows


def fourteen_models(x, repeat: int, tiny: bool, commands: bool = True) -> None:
    """The fourteen-model table (--tiny: in-process on K = 1..2 only; commands False: no whole commands)."""
    ks = range(1, 3) if tiny else range(1, 10)
    rows = fourteen_in_process(x, repeat, ks)
    if not tiny:
        rows += fourteen_commands(repeat, commands)
    clock = "CPU seconds in-process" if CLOCK["cpu"] else "wall seconds"
    print(
        f"Old Faithful, mclust's fourteen models x K = 1..{ks[-1]}, one restart per cell; medians of {repeat}; {clock}"
    )
    print(table(["grid", "seconds", "best by BIC"], rows))


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


def four_types(x, repeat: int, tiny: bool) -> None:
    """The four-type table: ours batched and one fit at a time, scikit-learn at the same restarts (tol 1e-6: its
    tol is also the change of the mean log-likelihood per point); ratio = scikit-learn's seconds / ours."""
    ks = range(1, 3) if tiny else range(1, 10)
    rows = []
    for restarts in (1,) if tiny else (1, 5):
        picked = {}

        def sk(restarts=restarts, picked=picked):
            k, ct = sklearn_grid(x, restarts, ks)
            picked["best"] = f"K={k} {ct}"

        reference = timed(sk, repeat)
        for tol in (1e-6,) if tiny or restarts > 1 else (1e-6, MCLUST_TOL):
            for batched in (True, False):
                seconds, best = timed_grid(x, restarts, tol, batched, repeat, ks)
                how = "batched" if batched else "one fit at a time"
                ratio = reference / seconds if tol == 1e-6 else ""
                rows.append([f"GMM Studio select, {restarts} restart(s), tol {tol:g}, {how}", seconds, ratio, best])
        rows.append([f"scikit-learn, n_init={restarts}, tol 1e-6", reference, 1.0, picked["best"]])
    clock = "CPU seconds" if CLOCK["cpu"] else "wall seconds"
    print(f"Old Faithful, K = 1..{ks[-1]} x {len(TYPES)} covariance types; medians of {repeat}; {clock}")
    print(table(["grid", "seconds", "scikit-learn's s / these", "best by BIC"], rows))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--sizes", action="store_true", help="where batching the grid stops paying")
    p.add_argument("--only", choices=("fourteen", "four"), help="one of the two tables")
    p.add_argument("--cpu", action="store_true", help="in-process rows in CPU seconds (a shared machine)")
    p.add_argument("--in-process", action="store_true", help="no whole-command rows")
    args = parse_args(p, repeat=1)
    CLOCK["cpu"] = args.cpu
    if args.sizes:
        sizes(args.repeat)
        return
    x = load(ROOT / "tests" / "data" / "old_faithful.csv", ["1", "2"]).points
    if args.only != "four":
        fourteen_models(x, args.repeat, args.tiny, not args.in_process)
    if args.only != "fourteen":
        four_types(x, args.repeat, args.tiny)


if __name__ == "__main__":
    main()
