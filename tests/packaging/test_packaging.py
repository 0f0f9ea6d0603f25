"""The project installs the way Python desktop tools do: a wheel with a `gmm-studio` command, version ranges in
its metadata, and a requirements.lock that pins every package of the environment (runtime and test parts).
Built here offline (setuptools' own backend on a copy of the sources: nothing is downloaded);
bench/bench_install.py does the whole `pip install .` into a fresh venv."""

from __future__ import annotations

import importlib.metadata as md
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from data_sets import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "main.py", "requirements.lock"):
        shutil.copy(ROOT / name, src / name)
    for package in ("engine", "gui", "cli"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    out = subprocess.run(
        [sys.executable, "-c", "from setuptools import build_meta as b; print(b.build_wheel('dist'))"],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return zipfile.ZipFile(src / "dist" / out.stdout.strip().splitlines()[-1])


def _dist_file(wheel: zipfile.ZipFile, name: str) -> str:
    path = next(n for n in wheel.namelist() if n.endswith(".dist-info/" + name))
    return wheel.read(path).decode()


def test_the_wheel_holds_the_app_and_its_command(wheel) -> None:
    names = set(wheel.namelist())
    assert {
        "main.py",
        "cli/main.py",
        "engine/runtime/limits.py",  # the sub-packages travel too
        "engine/inference/fitting.py",
        "gui/main_window.py",
        "gui/resources/gmm-studio.svg",
        "gui/resources/gmm-studio.ico",
    } <= names
    assert not any(n.startswith(("tests/", "bench/", ".venv/")) for n in names)
    entry_points = _dist_file(wheel, "entry_points.txt")
    assert re.search(r"\[gui_scripts\]\s+gmm-studio = main:main", entry_points)


def test_the_wheel_metadata_uses_ranges_not_pins(wheel) -> None:
    requires = [
        line.split(":", 1)[1].strip()
        for line in _dist_file(wheel, "METADATA").splitlines()
        if line.startswith("Requires-Dist:")
    ]
    runtime = [r for r in requires if "extra ==" not in r]
    assert {re.split(r"[<>=!~ ]", r, maxsplit=1)[0].lower() for r in runtime} == {
        "torch",
        "pyro-ppl",
        "numpy",
        "contourpy",
        "pyside6-essentials",
        "pyqtgraph",
        "pyarrow",
        "threadpoolctl",
        "dask",
        "distributed",
    }
    for r in requires:
        spec = r.split(";")[0]
        assert "==" not in spec and ">=" in spec, r  # a lower bound, and no exact pin (those live in the lock)


def _lock() -> dict[str, tuple[str, str]]:
    """name -> (version, part) from requirements.lock, part 'runtime' or 'test' by the section it is in."""
    out, part = {}, None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.startswith("# --- runtime"):
            part = "runtime"
        elif line.startswith("# --- tests"):
            part = "test"
        elif line and not line.startswith("#"):
            name, version = line.split("==")
            out[_norm(name)] = (version, part)
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(roots: list[str]) -> set[str]:
    """The installed distributions that roots need, transitively (markers evaluated for this machine)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = _norm(stack.pop())
        if name in seen:
            continue
        seen.add(name)
        for text in md.requires(name) or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                stack.append(req.name)
    return seen


def test_the_lock_pins_every_package_of_the_environment_in_its_part() -> None:
    lock = _lock()
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    roots = [re.split(r"[<>=!~ ;]", r, maxsplit=1)[0] for r in meta["dependencies"]]
    tests = [re.split(r"[<>=!~ ;]", r, maxsplit=1)[0] for r in meta["optional-dependencies"]["test"]]
    runtime = _closure(roots)
    test_only = _closure(tests) - runtime
    for name in runtime | test_only:
        assert name in lock, f"{name} is installed but not pinned in requirements.lock"
        version, part = lock[name]
        assert md.version(name).split("+")[0] == version, name
        assert part == ("runtime" if name in runtime else "test"), f"{name} is in the {part} part"
