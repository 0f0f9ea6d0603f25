"""A Python that has already imported the engine, torch and the command line, and runs scripts in forks of itself.

The docs' commands (`python3 main.py ...`) spend most of their time starting Python and importing torch (about 1.5 s
of the 2 s a small command takes). This server imports once; each command then runs in a fork of it, exactly as the
interpreter would run it (the script as `__main__` through runpy, its arguments, folder and environment, stdin
empty), and ends as a process does: the interpreter finalises (atexit, the command's own clean-up) and its exit
status is the command's. Forking is safe because nothing here starts a thread (checked before each fork).

Protocol (JSON lines): request {"argv": [script, args...], "cwd", "env", "output", "timeout"} on stdin; reply
{"returncode"} on stdout; the command's stdout and stderr go to the file named by "output" (its stderr to the one
named by "errors", if given). Stdin may be a file of requests written in advance (tests/background.py); the server
ends at its end, or at SIGTERM, killing the command it runs.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import signal
import sys
import threading
import time

POLL_S = 0.01
PRELOAD = ("engine", "numpy", "torch", "cli.main")  # in this order


def preload() -> None:
    """What every command imports first; engine before torch (it sets the thread policies torch reads once)."""
    for name in PRELOAD:
        importlib.import_module(name)


def run_in_child(request: dict) -> None:
    """In the fork: become the command's process and run its script as `python3 SCRIPT ARGS` would. Never returns:
    the script's SystemExit (or its normal end, exit 0) unwinds to the interpreter, which finalises and exits."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as a fresh interpreter has it, not the server's handler
    os.setsid()  # its own process group: a hung command is killed with everything it started
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))  # as the interpreter reads it at start
    out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(request["errors"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if request.get("errors") else out
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(err, 2)
    script, *args = request["argv"]
    sys.argv = [script, *args]
    # the path as the interpreter sets it for a script: its folder first, not this server's nor the checkout's
    sys.path[:] = [os.path.dirname(os.path.realpath(script)), *sys.path[2:]]
    runpy.run_path(script, run_name="__main__")
    sys.exit(0)


_RUNNING: list[int] = []  # the command running now (its pid, also its process group's)


def stop(_signum: int, _frame: object) -> None:
    """SIGTERM (the suite ends before the queue does): kill the running command with its group, then end."""
    for pid in _RUNNING:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # it had just ended
    os._exit(1)


def wait(pid: int, timeout: float) -> int:
    """The child's exit status as subprocess reports it (-signal when killed); killed with its group at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        time.sleep(POLL_S)


def serve() -> None:
    preload()
    signal.signal(signal.SIGTERM, stop)
    for line in sys.stdin:
        request = json.loads(line)
        assert threading.active_count() == 1 and len(os.listdir("/proc/self/task")) == 1, "a thread before fork"
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            run_in_child(request)
        _RUNNING[:] = [pid]
        returncode = wait(pid, request["timeout"])
        _RUNNING.clear()
        print(json.dumps({"returncode": returncode}), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    serve()
