"""The repository is formatted by `ruff format` and passes `ruff check` (the settings in pyproject.toml)."""

from __future__ import annotations

import ast
import subprocess
import sys
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


# Issue 23: no function over 60 lines and no module over 450 in the code (engine/, gui/, cli/, main.py). The known
# exceptions are being split elsewhere (the lead splits the two file-format modules; another helper rewrites the
# fit pipeline in engine/inference); each must be removed from here once it fits, which the last test insists on.
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 450
KNOWN_OVERSIZED = {
    "engine/inference/grid.py:_batch",  # the fit pipeline's rewrite (issue 23) takes it apart
}


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
