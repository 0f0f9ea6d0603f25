"""Time from `python3 main.py` to the window on screen, and to the engine being ready (Run enabled).

    .venv/bin/python bench/bench_gui_startup.py [--repeat 5]

Each run starts the real entry point (`python3 main.py`, which re-executes itself inside .venv) in a new
process with GMM_STUDIO_STARTUP_REPORT set: the window writes when its event loop first ran after show()
and when the engine had loaded, then quits. The reference in the same run is `import torch` alone.
Headless (offscreen Qt) unless DISPLAY is set: run it under xvfb-run for a real X server.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, parse_args, table


def one_start(env: dict) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "startup.json"
        env = dict(env, GMM_STUDIO_STARTUP_REPORT=str(report), XDG_CONFIG_HOME=tmp)
        t0 = time.time()
        subprocess.run(
            ["python3", str(ROOT / "main.py")],
            env=env,
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        times = json.loads(report.read_text())
    return times["shown"] - t0, times["ready"] - t0


def import_torch() -> float:
    t0 = time.time()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.time() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=5)
    args = parse_args(p, repeat=1)
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    if not args.tiny:
        one_start(env)  # warm the file cache (--tiny only checks that the bench runs)
    starts = [one_start(env) for _ in range(args.repeat)]
    torch_s = [import_torch() for _ in range(args.repeat)]
    shown = statistics.median(s for s, _ in starts)
    ready = statistics.median(r for _, r in starts)
    torch_median = statistics.median(torch_s)
    print(
        f"platform: {'X server ' + env['DISPLAY'] if env.get('DISPLAY') else 'offscreen'}; "
        f"median of {args.repeat} starts"
    )
    print(
        table(
            ["measure", "seconds"],
            [
                ["python3 main.py -> window on screen", f"{shown:.3f}"],
                ["python3 main.py -> engine ready (Run enabled)", f"{ready:.3f}"],
                ["reference: python -c 'import torch'", f"{torch_median:.3f}"],
            ],
        )
    )


if __name__ == "__main__":
    main()
