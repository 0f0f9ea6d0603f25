#!/usr/bin/env python3
"""GMM Studio entry point.

    python3 main.py            open the window on the demo data
    python3 main.py test       run the whole test suite headless (extra arguments go to pytest)
    python3 main.py screenshot OUT.png [--data FILE] [--columns 1,2] [-k 3] [--fit]
    python3 main.py install-launcher [--uninstall]   a desktop-menu entry (Linux) / Start-menu shortcut
    python3 main.py fit|generate|select ...   the command line (see --help)

The first lines use the standard library only: when the pinned dependencies are not importable, this
creates `.venv` next to this file, installs `requirements.lock` into it and re-runs itself inside it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
STAMP = VENV / "gmm-studio-installed.sha256"


def _venv_python() -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


# Which torch build the checkout's .venv gets: "cpu" (default) from the PyTorch CPU index, a few hundred MB;
# "cuda" from pip's configured index (PyPI's Linux wheels are the CUDA build, several GB), for a machine with a GPU.
TORCH_VARIANTS = ("cpu", "cuda")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _torch_variant() -> str:
    variant = os.environ.get("GMM_STUDIO_TORCH", "cpu").strip().lower() or "cpu"
    if variant not in TORCH_VARIANTS:
        _say(f"GMM_STUDIO_TORCH={variant!r} is not one of {', '.join(TORCH_VARIANTS)}: set it to cpu or cuda.")
        sys.exit(2)
    return variant


def _lock_digest() -> str:
    """The lock's digest and the torch build: either changing means installing again."""
    return hashlib.sha256(LOCK.read_bytes()).hexdigest() + ("" if _torch_variant() == "cpu" else "+cuda")


def _torch_pin() -> str:
    """The lock's torch line, e.g. 'torch==2.13.0'."""
    for line in LOCK.read_text().splitlines():
        if line.split("==")[0].strip().lower() == "torch":
            return line.split("#")[0].strip()
    raise SystemExit("gmm-studio: requirements.lock pins no torch version")


def _pip(*args: str) -> list[str]:
    return [str(_venv_python()), "-m", "pip", "install", "--disable-pip-version-check", *args]


def install_commands(variant: str) -> list[list[str]]:
    """The pip commands that install the pinned dependencies: torch alone first (its build chosen by variant;
    without its dependencies, which the lock pins), then the lock (where torch is then already satisfied)."""
    torch = [_torch_pin(), "--no-deps"]
    # two retries, not pip's five: where the index cannot be reached the fallback below takes over sooner
    first = _pip(*torch, "--index-url", TORCH_CPU_INDEX, "--retries", "2") if variant == "cpu" else _pip(*torch)
    return [first, _pip("-r", str(LOCK))]


def _in_our_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _venv_ready() -> bool:
    return _venv_python().exists() and STAMP.exists() and STAMP.read_text().strip() == _lock_digest()


def _say(msg: str) -> None:
    if sys.stderr is not None:
        print(f"gmm-studio: {msg}", file=sys.stderr, flush=True)


def _install_venv() -> None:
    """Create .venv and install the pinned dependencies (one time, a few minutes)."""
    if not _venv_python().exists():
        _say(f"first run: creating the environment {VENV} ...")
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    variant = _torch_variant()
    _say(f"installing the pinned dependencies from {LOCK.name} (torch's {variant} build; one time, a few minutes) ...")
    torch, rest = install_commands(variant)
    if subprocess.run(torch).returncode != 0:
        if variant != "cpu":
            _fail()
        # no way to the PyTorch index (offline, a proxy, a mirror): pip's own configuration may hold a CPU build
        _say(f"could not install torch from {TORCH_CPU_INDEX}: trying pip's configured index instead ...")
        if subprocess.run(_pip(_torch_pin(), "--no-deps")).returncode != 0:
            _fail()
    if subprocess.run(rest).returncode != 0:
        _fail()
    STAMP.write_text(_lock_digest() + "\n")
    _say("environment ready.")


def _fail() -> NoReturn:
    _say("installing the dependencies failed (see pip's messages above); fix the cause and run again.")
    sys.exit(1)


def _reexec_in_venv() -> None:
    python = str(_venv_python())
    args = [python, str(Path(__file__).resolve()), *sys.argv[1:]]
    if os.name == "nt":  # execv on Windows does not replace the process; wait and pass the status on
        sys.exit(subprocess.call(args))
    os.execv(python, args)


def _is_checkout() -> bool:
    """A source checkout (main.py beside requirements.lock), not a copy pip/pipx/uv installed: only a checkout
    sets up its own .venv; an installed copy already runs in the environment its installer made."""
    return LOCK.exists() and (ROOT / "pyproject.toml").exists()


def _bootstrap() -> None:
    """Make sure we run inside the project's own environment with the pinned packages."""
    if os.environ.get("GMM_STUDIO_NO_BOOTSTRAP") == "1" or not _is_checkout():
        return
    if _in_our_venv() and _venv_ready():
        return
    if not _venv_ready():
        _install_venv()
    _reexec_in_venv()


def _redirect_missing_streams() -> None:
    """Under a console-less launch (pythonw, .desktop) stdout/stderr may be None: send them to a log."""
    if sys.stdout is not None and sys.stderr is not None:
        return
    log_dir = Path.home() / ".cache" / "gmm-studio"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / "gmm-studio.log", "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    if sys.stdout is None:
        sys.stdout = log
    if sys.stderr is None:
        sys.stderr = log


def main(argv: list[str] | None = None) -> int:
    """Dispatch: no argument opens the window; test, screenshot, install-launcher; else the command line.
    Ctrl-C while the libraries import (torch takes seconds) ends quietly, as it does later."""
    try:
        return _dispatch(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


def _dispatch(argv: list[str]) -> int:
    import engine  # noqa: F401  (light: sets the threads' policies in the environment before NumPy or torch load)

    if not argv:
        from gui.app import main as window_main

        return window_main([])
    if argv[0] == "test":
        return _run_tests(argv[1:])
    from cli.main import main as cli_main  # every other command, the window's screenshot and launcher too

    return cli_main(argv)


def _run_tests(extra: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if not (ROOT / "tests").is_dir():
        _say("the tests are not part of an installed copy: run them from a checkout (python3 main.py test)")
        return 2
    import pytest

    return int(pytest.main(["-q", str(ROOT / "tests"), *extra]))


if __name__ == "__main__":
    _redirect_missing_streams()
    _bootstrap()
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
