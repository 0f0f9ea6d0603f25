"""The command line: generate, fit, select. Exit 0 on success, 2 for a user's mistake (one line on
stderr, no traceback), 1 for an internal error."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
from pathlib import Path

from engine.errors import UserError

from .parser import OTHER_COMMANDS, USAGE, build_parser

# The commands' modules are imported when one runs, not before: fit's imports torch (seconds), which `--help` and a
# mistake the parser refuses need not wait for.
COMMANDS = {  # a command's module and function
    "generate": ("cli.commands_fit", "cmd_generate"),
    "fit": ("cli.commands_fit", "cmd_fit"),
    "select": ("cli.commands_select", "cmd_select"),
    "replay": ("cli.commands_replay", "cmd_replay"),
    "screenshot": ("gui.screenshot", "run"),
    "install-launcher": ("gui.launcher", "run"),
}


def _run_command(name: str, args) -> int:
    """The command `name` on its parsed args, its module imported now."""
    module, function = COMMANDS[name]
    return getattr(importlib.import_module(module), function)(args)


class Terminated(BaseException):
    """SIGTERM or SIGHUP (a closed terminal): unwinds like Ctrl-C, so that temporary files are removed on the way
    out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_sigterm(signum, frame) -> None:
    raise Terminated(signum)


# Signals that end a run by unwinding it (their exception removes what was half written); SIGXFSZ (a write beyond
# `ulimit -f`) is ignored so that the write fails with EFBIG, which names the file, instead of killing the process.
_UNWINDING = ("SIGTERM", "SIGHUP")


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit 0 on success, 2 for a user's mistake (one `error:` line), 1 for an internal error
    (one line naming the log that holds the details); never a traceback on the terminal."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(USAGE)
        return 0
    if threading.current_thread() is not threading.main_thread():
        return _dispatch(argv)  # only the main thread may set handlers (a window's thread, a test's)
    handlers = {getattr(signal, name): _on_sigterm for name in _UNWINDING if hasattr(signal, name)}
    if hasattr(signal, "SIGXFSZ"):
        handlers[signal.SIGXFSZ] = signal.SIG_IGN
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        return _dispatch(argv)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _dispatch(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            print(USAGE)
            return 0
        if args.command in OTHER_COMMANDS:
            raise UserError(f"{args.command} is run by main.py itself: python3 main.py {args.command} ...")
        return _run_command(args.command, args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    except Terminated as exc:
        what = "hung up" if exc.signum == getattr(signal, "SIGHUP", None) else "terminated"
        print(f"{what}: nothing was written", file=sys.stderr)
        return 128 + exc.signum
    except SystemExit as exc:  # --help
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else 2
    except BrokenPipeError:
        # the reader of our output stopped early (`select ... | head -1`): not an error of ours or the user's
        _silence_stdout()
        print("note: the output pipe was closed before everything was printed", file=sys.stderr)
        return 141
    except MemoryError:
        print("error: out of memory: use fewer points, restarts or components", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, permissions, a folder where a file was meant
        where = f"{exc.filename}: " if exc.filename else ""
        print(
            f"error: {where}{exc.strerror or exc}: free some space, fix the permissions or choose another path",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:  # an internal error: one line here, the traceback in a log for a bug report
        log = _crash_log()
        print(
            f"internal error: {type(exc).__name__}: {str(exc)[:200]} (details in {log}; please report it with "
            "the command you ran)",
            file=sys.stderr,
        )
        return 1


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so that the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _crash_log() -> str:
    """Write the current exception's traceback to a log file; its path (or 'stderr' if none can be written)."""
    import tempfile
    import traceback

    text = traceback.format_exc()
    try:
        folder = Path.home() / ".cache" / "gmm-studio"
        folder.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="crash-", suffix=".log", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path
    except OSError:
        sys.stderr.write(text)
        return "the lines above"
