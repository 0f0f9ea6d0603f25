"""Commands that start with the session and run beside the other tests: the docs' commands, the benches' tiny runs
and the forum test's 10,000-step fit.

They are subprocesses that mostly run on one core, and so do most tests (a small fit runs on one thread: engine/
runtime/threads.py), so on 2 cores they cost the suite little when they run meanwhile, on the otherwise idle core.
A test marked `background` names its commands (its module's `queued(test_id, folder)`; test_id: the parameters'
id, else the test's name); tests/conftest.py writes every selected test's commands, in the tests' order, to the stdin
file of one preloaded Python (tests/preloaded_server.py: one command at a time, each in a fork, as its own
interpreter would run it), before the first test; the test waits for its own commands' replies and checks them as
it checked a command it ran itself.
Two such Pythons when only background tests were selected (nothing else would use the second core).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from preloaded import FORKS, SERVER


@dataclass
class Command:
    """`python3 ARGV` (a script and its arguments) in cwd with env, killed after timeout seconds."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    timeout: float


@dataclass
class Ran:
    """A command and what it gave: its exit status (-N: killed by signal N) and its stdout and stderr, interleaved
    as written."""

    command: Command
    returncode: int
    printed: str


class _Server:
    """One preloaded Python whose stdin is a file of requests written before it starts; it replies in order."""

    def __init__(self, commands: list[Command], folder: Path, env: dict[str, str]) -> None:
        self.outputs = [folder / f"command-{i}.out" for i in range(len(commands))]
        requests = folder / "requests.jsonl"
        with open(requests, "w", encoding="utf-8") as f:
            for c, out in zip(commands, self.outputs, strict=True):
                request = {"argv": c.argv, "cwd": str(c.cwd), "env": c.env, "timeout": c.timeout, "output": str(out)}
                f.write(json.dumps(request) + "\n")
        with open(requests, encoding="utf-8") as stdin:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVER)], stdin=stdin, stdout=subprocess.PIPE, env=env, text=True
            )
        self.returncodes: list[int] = []

    def returncode(self, i: int) -> int:
        """The i-th command's exit status (waits for it and those before it)."""
        while len(self.returncodes) <= i:
            reply = self.process.stdout.readline()
            assert reply, f"the preloaded Python ended (exit {self.process.wait()})"
            self.returncodes.append(json.loads(reply)["returncode"])
        return self.returncodes[i]

    def printed(self, i: int) -> str:
        """The i-th command's stdout and stderr, interleaved as written (once it has run)."""
        return self.outputs[i].read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        """Stop it (SIGTERM: it kills the command it runs with its process group) and wait."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=60)
        self.process.stdout.close()


class Background:
    """Every background test's commands, started at once (Linux: in preloaded Pythons; elsewhere each test runs its
    own when it asks, in a Python of its own). Keyed by the test's node id."""

    def __init__(self, queued: dict[str, list[Command]], folder: Path, servers: int, env: dict[str, str]) -> None:
        self.queued = queued
        self.where: dict[str, list[tuple[_Server, int]]] = {}
        self.servers: list[_Server] = []
        if FORKS and queued:
            self._start(folder, servers, env)

    def _start(self, folder: Path, servers: int, env: dict[str, str]) -> None:
        """Share the tests among the servers (a test's commands on one, in order; the most commands first, each to
        the server with the fewest so far) and start them."""
        shares: list[list[str]] = [[] for _ in range(servers)]
        sizes = [0] * servers
        for key in sorted(self.queued, key=lambda k: -len(self.queued[k])):
            least = sizes.index(min(sizes))
            shares[least].append(key)
            sizes[least] += len(self.queued[key])
        order = list(self.queued)  # the tests' own order: the first tests' commands first
        for i, share in enumerate(s for s in shares if s):
            keys = sorted(share, key=order.index)
            commands = [c for key in keys for c in self.queued[key]]
            (folder / f"server-{i}").mkdir()
            server = _Server(commands, folder / f"server-{i}", env)
            self.servers.append(server)
            first = 0
            for key in keys:
                self.where[key] = [(server, first + j) for j in range(len(self.queued[key]))]
                first += len(self.queued[key])

    def results(self, key: str) -> Iterable[Ran]:
        """The test's commands and what each gave, in order, each as soon as it has run."""
        for j, command in enumerate(self.queued[key]):
            if key in self.where:
                server, i = self.where[key][j]
                yield Ran(command, server.returncode(i), server.printed(i))
            else:
                yield Ran(command, *started(command))

    def close(self) -> None:
        for server in self.servers:
            server.close()


def started(command: Command) -> tuple[int, str]:
    """The command in a Python of its own: its exit status and its stdout then its stderr."""
    out = subprocess.run(
        [sys.executable, *command.argv],
        cwd=command.cwd,
        env=command.env,
        capture_output=True,
        text=True,
        timeout=command.timeout,
    )
    return out.returncode, out.stdout + out.stderr


def server_env() -> dict[str, str]:
    """The preloaded Pythons' own environment (each command gets its own): headless, as the tests' commands."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    return env | {"QT_QPA_PLATFORM": "offscreen"}
