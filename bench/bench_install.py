"""Install GMM Studio as a user would, into a fresh venv, and use the installed `gmm-studio` command.

    python3 bench/bench_install.py [--keep DIR]

Creates a venv, runs the README's `pip install . -c requirements.lock --extra-index-url CPU_INDEX` (downloads:
minutes the first time; where the PyTorch index cannot be reached pip's configured indexes serve), then checks
`gmm-studio --help`, `generate`, `fit`, `screenshot` (offscreen) and `install-launcher` (its Exec must point at
the venv's Python, and desktop-file-validate must pass it when installed). Prints one line per step with its
time and result; exits 1 if any step failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # as the README's pip route


def step(name: str, cmd: list[str], cwd: Path, env: dict, check=None) -> bool:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    ok = r.returncode == 0 and (check is None or check(r))
    print(f"{'ok  ' if ok else 'FAIL'} {time.perf_counter() - t:7.1f} s  {name}")
    if not ok:
        print((r.stdout + r.stderr)[-2000:])
    return ok


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--keep", help="use (and keep) this folder instead of a temporary one")
    args = p.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="gmm-install-"))
    work.mkdir(parents=True, exist_ok=True)
    venv = work / "venv"
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_DATA_HOME": str(work / "xdg")}
    env.pop("GMM_STUDIO_NO_BOOTSTRAP", None)
    app = str(bin_dir / "gmm-studio")
    entry = work / "xdg" / "applications" / "gmm-studio.desktop"
    results = [
        step("python3 -m venv", [sys.executable, "-m", "venv", str(venv)], work, env),
        step(
            "pip install . -c requirements.lock --extra-index-url CPU_INDEX",
            [str(bin_dir / "python"), "-m", "pip", "install", "-q", str(ROOT), "-c", str(ROOT / "requirements.lock")]
            + ["--extra-index-url", CPU_INDEX],
            work,
            env,
        ),
        step(
            "gmm-studio --help lists every command",
            [app, "--help"],
            work,
            env,
            lambda r: all(
                c in r.stdout for c in ("generate", "fit", "select", "replay", "test", "screenshot", "install-launcher")
            ),
        ),
        step("gmm-studio generate", [app, "generate", "--preset", "forum", "--n", "500", "-o", "d.csv"], work, env),
        step(
            "gmm-studio fit",
            [app, "fit", "d.csv", "-k", "3", "-o", "p.json", "--quiet"],
            work,
            env,
            lambda r: (work / "p.json").exists(),
        ),
        step(
            "gmm-studio screenshot (offscreen)",
            [app, "screenshot", "s.png", "-k", "3", "--fit"],
            work,
            env,
            lambda r: (work / "s.png").stat().st_size > 10_000,
        ),
        step(
            "gmm-studio install-launcher",
            [app, "install-launcher"],
            work,
            env,
            lambda r: (
                f"Exec={bin_dir / 'python'}" in entry.read_text().replace("python3", "python")
                and ("valid" in r.stdout or "not installed" in r.stdout)
            ),
        ),
    ]
    if shutil.which("desktop-file-validate"):
        results.append(
            step(
                "desktop-file-validate",
                ["desktop-file-validate", str(entry)],
                work,
                env,
                lambda r: not r.stdout.strip(),
            )
        )
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed  (in {work})")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
