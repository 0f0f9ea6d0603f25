"""The screenshot command on wide data (scikit-learn's wine data, 13 columns; issue 21): it exits cleanly in every
view (the window is taken apart before the interpreter ends, not by PySide at its exit, where the half laid out
pairs matrix crashed it), and the pairs matrix it saves is whole (every cell laid out, the fit drawn in each).

Each test runs the command in its own process, as a user does (the crash was at that process's exit)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]
SIZE = (900, 640)
FIT = ["-k", "3", "--fit", "--max-iter", "5", "--size", f"{SIZE[0]}x{SIZE[1]}"]
SHOWN_COLUMNS = 8  # the pairs view shows the first MAX_PAIRS of wine's 13 columns


WINE_COLUMNS = (
    "alcohol,malic_acid,ash,alcalinity_of_ash,magnesium,total_phenols,flavanoids,nonflavanoid_phenols,"
    "proanthocyanins,color_intensity,hue,od280_od315_of_diluted_wines,proline"
)


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory) -> Path:
    """scikit-learn's wine data (178 x 13) as a CSV with a header. Read from the file scikit-learn ships, not
    through sklearn.datasets: importing scikit-learn here would load SciPy's BLAS into the test process."""
    package = importlib.util.find_spec("sklearn")  # finds the package without importing it
    assert package is not None and package.submodule_search_locations, "scikit-learn (a test dependency) is missing"
    shipped = Path(package.submodule_search_locations[0]) / "datasets" / "data" / "wine_data.csv"
    data = np.loadtxt(shipped, delimiter=",", skiprows=1)[:, :13]  # the last column is the class
    path = tmp_path_factory.mktemp("wine") / "wine.csv"
    np.savetxt(path, data, delimiter=",", header=WINE_COLUMNS, comments="", fmt="%.6g")
    return path


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", GMM_STUDIO_NO_BOOTSTRAP="1")
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("view", ["pairs", "pca"])
def test_the_screenshot_of_wine_exits_cleanly(tmp_path, wine_csv, view) -> None:
    out = tmp_path / f"{view}.png"
    result = _run([str(ROOT / "main.py"), "screenshot", str(out), "--data", str(wine_csv), "--view", view, *FIT])
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert f"saved {out}" in result.stdout and "Traceback" not in result.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == SIZE


# The screenshot command in a process whose window notes, at the moment it is grabbed, what its pairs view holds.
PROBE = """
import json, sys
sys.path.insert(0, {root!r})
from gui.main_window import MainWindow
from cli.main import main

seen = []
grab = MainWindow.grab

def noting_grab(self, *args):
    pairs = self.pairs
    cells = list(pairs.cells.values())
    seen.append({{
        "shown": self.plot_stack.currentWidget() is pairs,
        "complete": getattr(pairs, "complete", None),
        "plots": len(pairs.ci.items),
        "cells": len(cells),
        "rings": [len(rings) for _plot, _points, _xy, rings in cells],
        "drawn": [all(ring.xData is not None and len(ring.xData) > 0 for ring in rings) for *_, rings in cells],
    }})
    return grab(self, *args)

MainWindow.grab = noting_grab
code = main(["screenshot", *sys.argv[1:]])
print("SEEN " + json.dumps(seen), flush=True)
sys.exit(code)
"""


def test_the_pairs_matrix_is_whole_when_the_screenshot_is_saved(tmp_path, wine_csv) -> None:
    out = tmp_path / "pairs.png"
    probe = PROBE.format(root=str(ROOT))
    result = _run(["-c", probe, str(out), "--data", str(wine_csv), "--view", "pairs", *FIT])
    line = next((line for line in result.stdout.splitlines() if line.startswith("SEEN ")), None)
    assert line is not None, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    (seen,) = json.loads(line[len("SEEN ") :])  # one grab
    n = SHOWN_COLUMNS
    assert seen["shown"]
    assert seen["plots"] == n * (n + 1) // 2  # every cell: the lower triangle and the diagonal's histograms
    assert seen["cells"] == n * (n - 1) // 2
    assert seen["rings"] == [3] * seen["cells"] and all(seen["drawn"])  # each component's ellipse in each cell
    assert seen["complete"] is True  # and the view says so
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert QImage(str(out)).width() == SIZE[0]


def test_the_pairs_view_says_when_its_matrix_is_whole_and_closes_down(qtbot) -> None:
    from types import SimpleNamespace

    from gui.scene.frames import build_scene
    from gui.views.pairs_view import PairsView

    rng = np.random.default_rng(0)
    points = rng.normal(size=(200, 4))
    k = 2
    snapshot = SimpleNamespace(
        weights=np.full(k, 1 / k), means=rng.normal(size=(k, 4)), covariances=np.stack([np.eye(4)] * k)
    )
    frame = SimpleNamespace(snapshot=snapshot, labels=rng.integers(0, k, len(points)))
    view = PairsView()
    qtbot.addWidget(view)
    view.resize(600, 600)
    view.show()
    assert not view.complete  # nothing shown yet
    for _ in range(2):  # and again after close_down: the view stays usable
        view.show_scene(build_scene(points), ("a", "b", "c", "d"), (0, 1, 2, 3))
        view.show_frame(frame)
        assert view.building and not view.complete  # a cell per event-loop turn
        with qtbot.waitSignal(view.completed, timeout=30_000):
            pass
        assert view.complete and not view.building
        assert len(view.ci.items) == 10 and len(view.cells) == 6
        assert all(len(rings) == k and len(rings[0].xData) > 0 for *_, rings in view.cells.values())
        view.close_down()
        assert not view.complete and not view.cells and not view.ci.items
    view.show_scene(build_scene(points), ("a", "b", "c", "d"), (0, 1, 2, 3))
    view.close_down()  # in the middle of laying out: the cells still to come are not made
    qtbot.wait(50)
    assert not view.ci.items and not view.building and not view.complete
