"""Every benchmark in bench/ still runs: each at its --tiny size in a process of its own, exit 0 and a table printed
(the runs start with the session, beside the other tests: tests/background.py).

The numbers of a tiny run mean nothing; the point is that no bench rots (one crashed for weeks on a renamed window
method before this test). Benches that need what a test machine lacks (a network, a GPU) are only imported.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from background import Background, Command

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
# name -> why it is only imported here
IMPORT_ONLY = {
    "bench_install": "installs from the network into a fresh venv (minutes)",
    "bench_gpu": "needs a CUDA GPU (the device machine)",
}
# the separator line common.table prints under a table's header: |-----|----|
TABLE_RULE = re.compile(r"^\|(-+\|)+$", re.MULTILINE)
# a bench that hangs fails here instead of holding the suite; no tiny run comes near it
HANG_S = 600


def benches() -> list[str]:
    """Every bench script's name (bench/bench_*.py), so that a new bench is covered with no edit here."""
    return sorted(p.stem for p in BENCH.glob("bench_*.py"))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # headless: offscreen Qt, whatever the host
    return env | {"QT_QPA_PLATFORM": "offscreen", "PYTHONDONTWRITEBYTECODE": "1"}


def test_every_bench_is_covered() -> None:
    """The list is the folder's, and every import-only bench still exists (a stale name would hide nothing)."""
    names = benches()
    assert len(names) >= 12, names
    assert set(IMPORT_ONLY) <= set(names)


def queued(name: str, folder: Path) -> list[Command]:
    """The bench at --tiny in folder (tests/background.py runs it from the session's start)."""
    args = [str(BENCH / f"{name}.py"), "--tiny"]
    if name == "bench_scale":
        args += ["--folder", str(folder)]  # its data file goes here, not into the machine's temp folder
    return [Command(args, folder, _env(), HANG_S)]


@pytest.mark.background
@pytest.mark.parametrize("name", [n for n in benches() if n not in IMPORT_ONLY])
def test_bench_runs_tiny(name: str, request: pytest.FixtureRequest, background_runs: Background) -> None:
    """The bench at --tiny: exit 0, and at least one table printed."""
    (ran,) = background_runs.results(request.node.nodeid)
    assert ran.returncode == 0, f"{name} --tiny exited {ran.returncode}:\n{ran.printed[-5000:]}"
    assert TABLE_RULE.search(ran.printed), f"{name} --tiny printed no table:\n{ran.printed[-2000:]}"


@pytest.mark.parametrize("name", sorted(IMPORT_ONLY))
def test_bench_imports(name: str) -> None:
    """A bench this machine cannot run still imports (its names exist), and says why it is not run."""
    code = f"import sys; sys.path.insert(0, {str(BENCH)!r}); import {name}; assert callable({name}.main)"
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode == 0, out.stderr[-3000:]
    assert IMPORT_ONLY[name].strip()
