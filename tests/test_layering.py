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
        "import engine, cli.main\n"
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
        "import engine, cli.main\n"
        "from engine import FitConfig, run_to_end\n"
        "x = np.random.default_rng(0).normal(size=(500, 2))\n"
        "run_to_end(x, FitConfig(n_components=2))\n"
        f"np.save({str(tmp_path / 'x.npy')!r}, x)\n"
        f"assert cli.main.main(['fit', {str(tmp_path / 'x.npy')!r}, '--memory-limit', '4K', '--quiet']) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


# The engine's layers, bottom first (issue 23). A module may import its own layer and the layers below it; the
# top-level modules errors and version sit below everything, config, algorithms, procedure, snapshot and history
# ("core") between the model and io. cli/ and gui/ are front ends above the engine; gui enters it by the facade.
LAYERS = ("base", "runtime", "model", "core", "io", "inference", "selection", "scale", "facade")
TOP_LEVEL = {"errors": "base", "version": "base", "__init__": "facade"}  # the other top-level modules: core


def layer_of(module: str) -> str:
    """The layer of an engine module given as a dotted path below engine ('io.data', 'config')."""
    head = module.split(".")[0]
    if head in LAYERS:
        return head
    return TOP_LEVEL.get(head, "core")


def engine_imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, module below engine) of every import of an engine module in the file (relative or absolute; also
    inside functions and under TYPE_CHECKING)."""
    here = path.relative_to(root / "engine").with_suffix("").parts  # ('io', 'data') or ('config',)
    package = here[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - (node.level - 1)])
                target = [*base, *(node.module.split(".") if node.module else [])]
            elif (node.module or "").split(".")[0] == "engine":
                target = node.module.split(".")[1:]
            else:
                continue
            names = [a.name for a in node.names]
            if target and target[-1] in LAYERS and not target[1:]:  # from .io import data: the modules named
                found += [(node.lineno, f"{target[0]}.{n}") for n in names]
            elif not target:  # from . import x (at the top level)
                found += [(node.lineno, n) for n in names]
            else:
                found.append((node.lineno, ".".join(target)))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name.split(".", 1)[1]) for a in node.names if a.name.startswith("engine.")]
    return found


def layer_violations(root: Path = ROOT) -> list[str]:
    """'file:line imports module (layer) from layer' for every engine import that points up."""
    out = []
    for path in sorted((root / "engine").rglob("*.py")):
        own = layer_of(".".join(path.relative_to(root / "engine").with_suffix("").parts))
        for line, module in engine_imports(path, root):
            if LAYERS.index(layer_of(module)) > LAYERS.index(own):
                out.append(f"{path.relative_to(root)}:{line} imports {module} ({layer_of(module)}) from {own}")
    return out


def test_the_engines_layers_only_point_down() -> None:
    assert layer_violations() == []


def test_the_layer_check_finds_an_upward_import(tmp_path) -> None:
    for where, text in (
        ("model/probe.py", "from ..io.data import load\n"),
        ("runtime/probe.py", "def f():\n    from ..selection import gallery\n"),
        ("config2.py", "from .inference.fitting import fit\n"),
    ):
        path = tmp_path / "engine" / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    found = layer_violations(tmp_path)
    assert found == [
        "engine/config2.py:1 imports inference.fitting (inference) from core",
        "engine/model/probe.py:1 imports io.data (io) from model",
        "engine/runtime/probe.py:2 imports selection.gallery (selection) from runtime",
    ]


def front_end_imports(path: Path, root: Path = ROOT) -> list[str]:
    """'file:line module' for every import of an engine submodule (not the facade `engine`) in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        found += [f"{path.relative_to(root)}:{node.lineno} {n}" for n in names if n.startswith("engine.")]
    return found


def test_the_gui_enters_the_engine_by_its_facade_only() -> None:
    files = sorted((ROOT / "gui").rglob("*.py"))
    assert len(files) > 20
    assert [hit for f in files for hit in front_end_imports(f)] == []


def test_the_facade_check_finds_a_submodule_import(tmp_path) -> None:
    probe = tmp_path / "gui" / "probe.py"
    probe.parent.mkdir()
    probe.write_text("import engine\nfrom engine import fit\n\n\ndef f():\n    from engine.io.data import load\n")
    assert front_end_imports(probe, tmp_path) == ["gui/probe.py:6 engine.io.data"]


def test_the_engine_parses_no_command_line() -> None:
    """argparse lives in cli/ (the command line's one parser), never in the engine."""
    hits = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                hits += [f"{path.relative_to(ROOT)}:{node.lineno}" for n in names if n.split(".")[0] == "argparse"]
    assert hits == []


def test_the_engine_and_the_gui_hold_few_modules_directly() -> None:
    """The folders show the architecture: at most 12 modules directly in engine/ and 14 in gui/, the rest in
    sub-packages named for their layer."""
    assert len(list((ROOT / "engine").glob("*.py"))) <= 12
    assert len(list((ROOT / "gui").glob("*.py"))) <= 14


def gui_layer_violations(root: Path = ROOT) -> list[str]:
    """The window's layers: gui/scene computes what is shown without Qt and imports neither the widgets nor the
    controllers; gui/views (widgets) never import gui/controllers (what an action does)."""
    out = []
    for package, forbidden in (("scene", ("views", "controllers")), ("views", ("controllers",))):
        for path in sorted((root / "gui" / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ImportFrom):
                    module = node.module or ""
                    if node.level == 0:
                        names = [module]
                    elif node.level == 2:  # from ..views.x import
                        names = [f"gui.{module}"]
                    else:
                        names = [f"gui.{package}.{module}"]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                for n in names:
                    parts = n.split(".")
                    qt = package == "scene" and parts[0] in ("PySide6", "pyqtgraph", "shiboken6")
                    if qt or (parts[0] == "gui" and len(parts) > 1 and parts[1] in forbidden):
                        out.append(f"{path.relative_to(root)}:{node.lineno} {n}")
    return out


def test_the_windows_layers_only_point_down() -> None:
    assert gui_layer_violations() == []


def test_the_window_layer_check_finds_violations(tmp_path) -> None:
    for where, text in (
        ("scene/a.py", "from PySide6.QtCore import QObject\n"),
        ("scene/b.py", "def f():\n    from ..views.plot_view import PlotView\n"),
        ("views/c.py", "from ..controllers import run_control\nfrom ..scene.frames import Frame\n"),
    ):
        path = tmp_path / "gui" / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert gui_layer_violations(tmp_path) == [
        "gui/scene/a.py:1 PySide6.QtCore",
        "gui/scene/b.py:2 gui.views.plot_view",
        "gui/views/c.py:1 gui.controllers",
    ]
