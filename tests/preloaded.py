"""Commands run in forks of a Python that has imported the engine and torch once (tests/preloaded_server.py says
how, and why that runs a command as its own interpreter would): the docs' commands and the benches' tiny runs spend
most of their time starting Python and importing torch. Linux only: elsewhere each command starts its own Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SERVER = Path(__file__).resolve().parent / "preloaded_server.py"
FORKS = sys.platform.startswith("linux")  # fork after import is safe where the server checks it has no thread


class Preloaded:
    """One preloaded Python; commands run one at a time. Its owner closes it (it ends when its stdin closes)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.server = subprocess.Popen(
            [sys.executable, str(SERVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )
        handle, name = tempfile.mkstemp(prefix="gmm-command-", suffix=".out")
        os.close(handle)
        self.output = Path(name)

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> tuple[int, str]:
        """`python3 ARGV` (a script and its arguments) in cwd with env: its exit status (-N: killed by signal N,
        as at the timeout) and its stdout and stderr, interleaved as written."""
        return self._run({"argv": argv, "cwd": str(cwd), "env": env, "timeout": timeout}), self._read(self.output)

    def completed(self, argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 600):
        """The same, as subprocess.run(..., capture_output=True, text=True) gives it: a CompletedProcess whose
        stdout and stderr are apart."""
        errors = self.output.with_suffix(".err")
        try:
            request = {"argv": argv, "cwd": str(cwd), "env": env, "timeout": timeout, "errors": str(errors)}
            returncode = self._run(request)
            return subprocess.CompletedProcess(argv, returncode, self._read(self.output), self._read(errors))
        finally:
            errors.unlink(missing_ok=True)

    def _run(self, request: dict) -> int:
        self.server.stdin.write(json.dumps(request | {"output": str(self.output)}) + "\n")
        self.server.stdin.flush()
        reply = self.server.stdout.readline()
        assert reply, f"the preloaded Python ended (exit {self.server.wait()})"
        return json.loads(reply)["returncode"]

    @staticmethod
    def _read(path: Path) -> str:
        return path.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        self.server.stdin.close()
        self.server.wait(timeout=60)
        self.server.stdout.close()
        self.output.unlink(missing_ok=True)
