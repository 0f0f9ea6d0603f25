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

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
STAMP = VENV / "gmm-studio-installed.sha256"


def _venv_python() -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def _lock_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


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
    _say(f"installing the pinned dependencies from {LOCK.name} (one time, a few minutes) ...")
    cmd = [str(_venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(LOCK)]
    result = subprocess.run(cmd)
    if result.returncode != 0:
        _say("installing the dependencies failed (see pip's messages above); fix the cause and run again.")
        sys.exit(1)
    STAMP.write_text(_lock_digest() + "\n")
    _say("environment ready.")


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
    if argv[0] == "screenshot":
        from gui.screenshot import main as screenshot_main

        return screenshot_main(argv[1:])
    if argv[0] == "install-launcher":
        from gui.launcher import main as launcher_main

        return launcher_main(argv[1:])
    from engine.cli import main as cli_main

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
