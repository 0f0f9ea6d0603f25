"""The README and docs/ run as written: every command in their fenced code blocks runs, in a temporary folder.

A block is a list of commands (`python3 main.py ...`, `python3 bench/bench_x.py ...`, `python3 docs/...`), or of
`$ COMMAND` lines each followed by the output it prints (checked line by line, durations aside). A block that must
not run (it opens a window, installs from the network, needs a GPU, takes minutes) has, on the line just above it,
`<!-- not run: REASON -->`; a block with no command and no such mark fails here, so nothing is left unchecked
silently. Each file's blocks run in order in one folder (a block may use the files an earlier one wrote), with
`tests/` linked into it so that `tests/data/...` reads as from the checkout. The commands start with the session and
run beside the other tests (tests/background.py); each file's test checks what they gave.

`python3` is this test's interpreter (the project's `.venv` Python): what `python3 main.py` re-runs itself in.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from background import Background, server_env
from background import Command as Queued
from preloaded import FORKS, Preloaded

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCS_BY_NAME = {p.name: p for p in DOCS}
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<reason>.*?)\s*-->$")
FENCE = "```"
# a command as the docs write it: python3, then main.py or a script in bench/ or docs/
COMMAND = re.compile(r"^python3 (main\.py|bench/bench_\w+\.py|docs/\w+\.py)(\s|$)")
# a duration printed in an output ("in 2.39s", "5 s so far"): differs from run to run
DURATION = re.compile(r"\b\d+(\.\d+)?\s?s\b")
# one command that hangs fails here instead of holding the suite
HANG_S = 300


@dataclass
class Command:
    """One command of a block, with the output lines the docs show under it (for `$ ` lines)."""

    line: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    """A fenced block: where it starts (file:line), its commands, and why it is not run (None: it runs)."""

    where: str
    lines: list[str]
    not_run: str | None


def blocks(path: Path) -> list[Block]:
    """Every fenced code block of a Markdown file, with the `not run` mark on the line above it, if any."""
    text = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(text):
        if not text[i].startswith(FENCE):
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(text) and not text[i].startswith(FENCE):
            body.append(text[i])
            i += 1
        above = next((t.strip() for t in reversed(text[:start]) if t.strip()), "")
        mark = NOT_RUN.match(above)
        out.append(Block(f"{path.relative_to(ROOT)}:{start + 1}", body, mark["reason"] if mark else None))
        i += 1
    return out


def commands(block: Block) -> list[Command]:
    """The block's commands: `$ COMMAND` lines with the output under each, or bare `python3 ...` lines."""
    out: list[Command] = []
    for line in block.lines:
        if line.startswith("$ "):
            out.append(Command(line[2:]))
        elif out and block.lines[0].startswith("$ "):
            out[-1].expected.append(line)
        elif line.strip():
            out.append(Command(line))
    return out


def _normal(line: str) -> str:
    return DURATION.sub("<duration>", line.strip())


def _folder(tmp: Path) -> Path:
    """A folder that looks like the checkout to a command (main.py, bench/, docs/, tests/ linked), writes kept apart."""
    for name in ("main.py", "bench", "tests", "engine", "gui", "cli", "requirements.lock", "pyproject.toml"):
        if (ROOT / name).exists():
            (tmp / name).symlink_to(ROOT / name)
    (tmp / "docs").mkdir()
    for script in (ROOT / "docs").glob("*.py"):
        (tmp / "docs" / script.name).symlink_to(script)
    return tmp


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    return env | {
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp / ".config"),  # the window's settings: fresh, and not the user's
        "XDG_DATA_HOME": str(tmp / ".local"),
        "XDG_CACHE_HOME": str(tmp / ".cache"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    }


def _started(argv: list[str], folder: Path) -> tuple[int, str]:
    """The command in a Python of its own."""
    out = subprocess.run(
        [sys.executable, *argv], cwd=folder, env=_env(folder), capture_output=True, text=True, timeout=HANG_S
    )
    return out.returncode, out.stdout + out.stderr


def _argv(command: Command, where: str) -> list[str]:
    """The command's words; it must start with python3."""
    argv = shlex.split(command.line, comments=True)
    assert argv[0] == "python3", f"{where}: {command.line!r} does not start with python3"
    return argv


def check(command: Command, returncode: int, printed: str, where: str) -> None:
    """The command exited 0 and printed the output the docs show under it."""
    assert returncode == 0, f"{where}: {command.line!r} exited {returncode}:\n{printed[-3000:]}"
    got = {_normal(line) for line in printed.splitlines()}
    missing = [line for line in command.expected if line.strip() and _normal(line) not in got]
    assert not missing, f"{where}: {command.line!r} no longer prints:\n" + "\n".join(missing) + f"\n---\n{printed}"


def run(command: Command, folder: Path, where: str, python: Preloaded | None = None) -> None:
    """Run one command in `folder` with this interpreter as python3 (preloaded: in a fork of that Python); exit 0,
    and the shown output printed."""
    argv = _argv(command, where)
    returncode, printed = (
        _started(argv[1:], folder) if python is None else python.run(argv[1:], folder, _env(folder), HANG_S)
    )
    check(command, returncode, printed, where)


def test_every_block_runs_or_says_why_not() -> None:
    """Every block holds commands written one way, or is marked `not run` with a reason of a few words."""
    for path in DOCS:
        for block in blocks(path):
            if block.not_run is not None:
                assert len(block.not_run.split()) >= 3, f"{block.where}: say why it is not run, in a few words"
                continue
            cmds = commands(block)
            assert cmds, f"{block.where}: a block with no command: mark it <!-- not run: REASON -->"
            for c in cmds:
                assert COMMAND.match(c.line), f"{block.where}: write commands as python3 main.py/bench: {c.line!r}"


def test_commands_are_written_one_way() -> None:
    """No doc runs the project another way (`.venv/bin/python ...`, `python bench/...`, `xvfb-run ...`): one form,
    `python3 main.py` / `python3 bench/bench_x.py`, that a reader on a fresh checkout can type as shown."""
    other = re.compile(r"(\.venv/bin/python|(?<![\w/])python |xvfb-run [^`]*python)\S* *(main\.py|bench/)")
    for path in DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not other.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"


def test_not_run_blocks_are_few() -> None:
    """The marks are counted: most blocks run (a doc that marks everything tests nothing)."""
    every = [b for path in DOCS for b in blocks(path)]
    marked = [b for b in every if b.not_run is not None]
    print(f"{len(every)} blocks, {len(marked)} not run: " + "; ".join(f"{b.where} ({b.not_run})" for b in marked))
    assert len(every) - len(marked) >= 10, "fewer than 10 blocks run"


def _runnable(path: Path) -> Iterator[tuple[Command, str]]:
    """A file's commands that run, in order, each with its block's place (file:line)."""
    for block in blocks(path):
        if block.not_run is None:
            for command in commands(block):
                yield command, block.where


def queued(name: str, tmp: Path) -> list[Queued]:
    """A file's commands in a folder made in tmp, to run in order (tests/background.py starts them with the
    session); up to the first one not written as python3 (its test fails there)."""
    path = DOCS_BY_NAME[name]
    folder, out = _folder(tmp), []
    for command, _where in _runnable(path):
        try:
            argv = shlex.split(command.line, comments=True)
        except ValueError:
            break  # a stray quote
        if argv[:1] != ["python3"]:
            break
        out.append(Queued(argv[1:], folder, _env(folder), HANG_S))
    return out


@pytest.mark.background
@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_commands_run_as_written(path: Path, request: pytest.FixtureRequest, background_runs: Background) -> None:
    """Each file's runnable blocks, in order, in one folder: every command exits 0 and prints what the doc shows."""
    ran = iter(background_runs.results(request.node.nodeid))
    for command, where in _runnable(path):
        _argv(command, where)
        done = next(ran)
        check(command, done.returncode, done.printed, where)


def test_a_changed_output_fails(tmp_path: Path) -> None:
    """The output check bites: a line the command does not print is named."""
    command = Command("python3 main.py --help", ["this line is not in the help"])
    with pytest.raises(AssertionError, match="no longer prints"):
        run(command, _folder(tmp_path), "here")


def test_a_failing_command_fails(tmp_path: Path) -> None:
    """A command that exits non-zero (a wrong option, as a doc gone stale would have) fails the test."""
    with pytest.raises(AssertionError, match="exited 2"):
        run(Command("python3 main.py fit no-such-file.csv -k 3"), _folder(tmp_path), "here")


# a failing command, and a script whose atexit handler prints as it exits 3
OWN_WAY = (["main.py", "fit", "no-such-file.csv", "-k", "3"], ["docs/bye.py"])


@pytest.mark.skipif(not FORKS, reason="the preloaded Python forks: Linux only")
def test_the_preloaded_python_runs_a_command_as_its_own_python_does(tmp_path: Path) -> None:
    """A fork of the preloaded Python gives a command's exit status and output as a Python of its own does, asked
    one command at a time (tests/preloaded.py) or given them all in advance (tests/background.py); closing the
    latter (the suite ended early: -x, Ctrl+C) kills the command it runs, which would otherwise outlive the suite
    (it has a process group of its own)."""
    folder = _folder(_made(tmp_path / "commands"))
    (folder / "docs" / "bye.py").write_text("import atexit, sys\natexit.register(print, 'bye')\nsys.exit(3)\n")
    pid_file = tmp_path / "pid"
    (folder / "docs" / "sleepy.py").write_text(
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(600)\n"
    )
    queue = [Queued(argv, folder, _env(folder), HANG_S) for argv in (*OWN_WAY, ["docs/sleepy.py"])]
    ahead = Background({"all": queue}, _made(tmp_path / "ahead"), 1, server_env())
    python = Preloaded(_env(folder))
    try:
        owns = []
        for argv in OWN_WAY:
            own = subprocess.run([sys.executable, *argv], cwd=folder, env=_env(folder), capture_output=True, text=True)
            owns.append((own.returncode, own.stdout + own.stderr))  # each writes to one of them only: no interleaving
            assert python.run(argv, folder, _env(folder)) == owns[-1]
            forked = python.completed(argv, folder, _env(folder))
            assert (forked.returncode, forked.stdout, forked.stderr) == (own.returncode, own.stdout, own.stderr)
        assert [(r.returncode, r.printed) for r in itertools.islice(ahead.results("all"), 2)] == owns
        with pytest.raises(AssertionError, match="exited 2"):
            run(Command("python3 main.py fit no-such-file.csv -k 3"), folder, "here", python)
        deadline = time.monotonic() + HANG_S
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the last command never started"
            time.sleep(0.05)
    finally:
        python.close()
        ahead.close()
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _made(folder: Path) -> Path:
    folder.mkdir()
    return folder


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie, killed and not yet reaped, does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


# names written in lower case that may begin a sentence
LOWER_CASE_NAMES = ("mclust",)


def test_no_paragraph_begins_mid_sentence() -> None:
    """A prose paragraph (after a blank line, or after a closing fence) begins with a capital, a mark or a name
    written in lower case: one that begins in lower case is the tail of a sentence whose start was lost (an install
    note cut in two when the README was split into docs/, its end left in architecture.md)."""
    found = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        fenced = False
        for number, (before, line) in enumerate(itertools.pairwise(["", *lines]), 1):
            if line.startswith(FENCE):
                fenced = not fenced
                continue
            starts = before.strip() == "" or before.startswith(FENCE)
            if not fenced and starts and line[:1].islower() and not line.startswith(LOWER_CASE_NAMES):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line[:60]}")
    assert not found, "paragraphs that begin mid-sentence:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("script", "argv"),
    [("holes.py", []), ("holes.py", ["nowhere.csv", "out.csv", "0.1"]), ("counts.py", ["in.csv"])],
)
def test_the_docs_scripts_say_a_mistake_in_one_line(tmp_path: Path, script: str, argv: list[str]) -> None:
    """docs/holes.py and docs/counts.py (run by command-line.md's readers): too few arguments or no such file is one
    `error:` line with the usage, exit 2, never a traceback."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs" / script), *argv], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert done.stderr.rstrip().endswith(
        f"usage: python3 docs/{script} IN.csv OUT.csv " + ("SHARE " if script == "holes.py" else "") + "[COLUMN ...]"
    )
