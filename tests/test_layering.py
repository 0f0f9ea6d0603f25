"""The engine never imports Qt or the GUI: checked in its source and in a running interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "superqt", "gui")


def forbidden_imports(path: Path, root: Path = ROOT) -> list[str]:
    """'file:line module' for every import of a forbidden package in a Python file (also inside functions)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        found += [f"{path.relative_to(root)}:{node.lineno} {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    return found


def test_no_engine_module_imports_qt_or_the_gui() -> None:
    files = sorted((ROOT / "engine").rglob("*.py"))
    assert len(files) > 20
    assert [hit for f in files for hit in forbidden_imports(f)] == []


def test_the_check_finds_a_forbidden_import(tmp_path) -> None:
    bad = tmp_path / "engine" / "probe.py"
    bad.parent.mkdir()
    bad.write_text(
        "import os\nfrom . import fitting\n\n\ndef f():\n    from PySide6.QtCore import QObject\n"
        "    import gui.app, superqt\n"
    )
    assert forbidden_imports(bad, tmp_path) == [
        "engine/probe.py:6 PySide6.QtCore",
        "engine/probe.py:7 gui.app",
        "engine/probe.py:7 superqt",
    ]


def test_a_fit_and_the_command_line_load_no_qt_module() -> None:
    code = (
        "import sys, numpy as np\n"
        "import engine, engine.cli\n"
        "from engine import FitConfig, run_to_end\n"
        "run_to_end(np.random.default_rng(0).normal(size=(50, 2)), FitConfig(n_components=2))\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_default_path_imports_neither_dask_nor_distributed(tmp_path) -> None:
    """A fit, a streamed fit and the command line without --dask load no Dask module (they are ordinary
    dependencies, but only --dask needs them)."""
    code = (
        "import sys, numpy as np\n"
        "import engine, engine.cli\n"
        "from engine import FitConfig, run_to_end\n"
        "x = np.random.default_rng(0).normal(size=(500, 2))\n"
        "run_to_end(x, FitConfig(n_components=2))\n"
        f"np.save({str(tmp_path / 'x.npy')!r}, x)\n"
        f"assert engine.cli.main(['fit', {str(tmp_path / 'x.npy')!r}, '--memory-limit', '4K', '--quiet']) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
