"""The repository is formatted by `ruff format` and passes `ruff check` (the settings in pyproject.toml)."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_code_is_formatted() -> None:
    out = ruff("format", "--check", ".")
    assert out.returncode == 0, "run `ruff format .`:\n" + out.stdout + out.stderr


def test_the_code_passes_the_linter() -> None:
    out = ruff("check", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_format_check_fails_on_unformatted_code(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "bad.py").write_text("x = {  'a':1 }\n")
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1 and "bad.py" in out.stdout


# Issue 23: no function over 60 lines and no module over 450 in the code (engine/, gui/, cli/, main.py). A known
# exception would be listed in KNOWN_OVERSIZED while it is split; each must be removed from there once it fits,
# which the last test insists on.
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 450
KNOWN_OVERSIZED: set[str] = set()  # none left (the fit pipeline took grid._batch apart)


def oversized(root: Path) -> list[str]:
    """'path (N lines)' for each module over MAX_MODULE_LINES and 'path:name (N lines)' for each function (or
    method, nested ones too) over MAX_FUNCTION_LINES, counted from its first decorator to its last line."""
    files = sorted(p for folder in ("engine", "gui", "cli") for p in (root / folder).rglob("*.py"))
    files += [root / "main.py"] if (root / "main.py").exists() else []
    found = []
    for path in files:
        name, text = path.relative_to(root).as_posix(), path.read_text()
        if (lines := len(text.splitlines())) > MAX_MODULE_LINES:
            found.append(f"{name} ({lines} lines)")
        for node in ast.walk(ast.parse(text, name)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                if (lines := node.end_lineno - first + 1) > MAX_FUNCTION_LINES:
                    found.append(f"{name}:{node.name} ({lines} lines)")
    return found


def test_no_function_over_60_lines_and_no_module_over_450() -> None:
    found = [f for f in oversized(ROOT) if f.split(" (")[0] not in KNOWN_OVERSIZED]
    assert found == [], "split these into functions or modules that do one thing:\n" + "\n".join(found)


def test_the_size_check_finds_a_long_function_and_a_long_module(tmp_path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(59))  # with its def line: 60 lines, the most allowed
    method = "".join(f"        y{i} = {i}\n" for i in range(58))  # with its decorator and def line: 60 too
    (tmp_path / "gui").mkdir()
    (tmp_path / "gui" / "ok.py").write_text(
        f"def fits():\n{body}\n\nclass A:\n    @property\n    def fits(self):\n{method}"
    )
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "long.py").write_text(
        "class A:\n    @staticmethod\n    def m():\n" + method + "        pass\n" + "\n" * 400
    )
    (tmp_path / "main.py").write_text(f"def main():\n{body}    return 0\n")
    assert oversized(tmp_path) == ["cli/long.py (462 lines)", "cli/long.py:m (61 lines)", "main.py:main (61 lines)"]


def test_every_known_exception_is_still_oversized() -> None:
    """An exception that now fits is taken off the list, so that it cannot grow back unnoticed."""
    still = {f.split(" (")[0] for f in oversized(ROOT)}
    assert sorted(KNOWN_OVERSIZED - still) == []


# Issue 23: comments give reasons, and the timings they were chosen by live in docs/performance.md ("## Measured"),
# next to their benches. A comment or docstring that quotes a time (or a speed-up) measured on one machine fails
# here; a chosen budget may stay, listed below with the text that states it (and in the page's "Budgets kept").
TIMING = re.compile(
    r"(?<![\w.])\d+(\.\d+)?(e-?\d+)?\s*(ms|us|µs|ns|s|seconds?|GFLOP/s)\b"
    r"|\b\d+(\.\d+)?x\s+(faster|slower|as fast|as long|cheaper)\b",
)
TIMING_BUDGETS = {
    ("gui/main_window.py", "Work that can take longer than ~50 ms runs elsewhere"),  # the event loop's budget
    ("gui/app.py", "up to the switch interval (5 ms by default)"),  # Python's documented default
    ("gui/app.py", "1 ms keeps the event loop smooth"),  # the chosen switch interval
    ("gui/controllers/run_control.py", "(a 0 ms timer runs after the pending paint events)"),  # Qt's idiom
}
# Modules whose comments are still being rewritten (none now: engine/inference's moved with the fit pipeline).
TIMING_PENDING: tuple[str, ...] = ()


def comments_and_docstrings(text: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring of a module's source text."""
    found = [
        (tok.start[0], tok.string)
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
        if tok.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = node.body[0] if node.body else None
            if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
                found += [(doc.lineno + i, line) for i, line in enumerate(doc.value.value.splitlines())]
    return sorted(found)


def quoted_timings(root: Path) -> list[str]:
    """'path:line: text' for each comment or docstring line in engine/, gui/, cli/ that quotes a time measurement,
    less the budgets of TIMING_BUDGETS and the modules of TIMING_PENDING."""
    found = []
    for path in sorted(p for folder in ("engine", "gui", "cli") for p in (root / folder).rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name.startswith(TIMING_PENDING):
            continue
        for line, text in comments_and_docstrings(path.read_text(encoding="utf-8")):
            if TIMING.search(text) and not any(f == name and kept in text for f, kept in TIMING_BUDGETS):
                found.append(f"{name}:{line}: {text.strip()}")
    return found


def test_comments_quote_no_timings() -> None:
    found = quoted_timings(ROOT)
    assert found == [], (
        "say the reason and point to docs/performance.md, where the numbers live (or list a budget in "
        "TIMING_BUDGETS):\n" + "\n".join(found)
    )


def test_the_timing_check_finds_timings_in_comments_and_docstrings(tmp_path) -> None:
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "a.py").write_text(
        '"""Module.\n\nIt reads 6x faster (0.17 s against 1.0 s)."""\n\n'
        "X = 1  # an E-step took 15.6 against 19.8 ms here\n"
        'def f():\n    """1 us per call."""\n    return "5 ms in a string is code, not a comment"\n'
    )
    (tmp_path / "gui").mkdir()
    (tmp_path / "gui" / "main_window.py").write_text('"""Work that can take longer than ~50 ms runs elsewhere."""\n')
    (tmp_path / "engine" / "inference").mkdir()
    (tmp_path / "engine" / "inference" / "b.py").write_text("# a pass: 48 ns per point\n")
    assert quoted_timings(tmp_path) == [
        "engine/a.py:3: It reads 6x faster (0.17 s against 1.0 s).",
        "engine/a.py:5: # an E-step took 15.6 against 19.8 ms here",
        "engine/a.py:7: 1 us per call.",
        "engine/inference/b.py:1: # a pass: 48 ns per point",
    ]


def test_every_kept_budget_is_still_in_its_file() -> None:
    stale = [f"{f}: {kept}" for f, kept in TIMING_BUDGETS if kept not in (ROOT / f).read_text(encoding="utf-8")]
    assert stale == [], "remove from TIMING_BUDGETS:\n" + "\n".join(stale)
