"""File menu: export parameters, labels and the plot; import parameters as the initialisation."""

from __future__ import annotations

import csv
import json
import os
import stat

import numpy as np
import pytest
from gui_helpers import run_fit

import engine


@pytest.mark.parametrize("suffix", [".json", ".csv", ".npz"])
def test_export_then_import_round_trips(qtbot, window, tmp_path, suffix) -> None:
    run_fit(qtbot, window, k=3)
    snap = window.state.frame.snapshot
    path = tmp_path / f"params{suffix}"
    window.files.export_params(str(path))
    back = engine.read_params(path)
    np.testing.assert_array_equal(back.weights, snap.weights)
    np.testing.assert_array_equal(back.means, snap.means)
    np.testing.assert_array_equal(back.covariances, snap.covariances)
    assert window.files.import_params(str(path))
    assert window.controls.init.currentText() == "imported parameters"
    qtbot.waitUntil(
        lambda: (
            window.state.frame is not None
            and window.state.frame.snapshot.iteration == 0
            and window.state.job is not None
            and window.state.job.config.init_params is not None
        ),
        timeout=60_000,
    )
    start = window.state.frame.snapshot  # the initialisation shown is the imported fit (standardised and back)
    np.testing.assert_allclose(start.means, snap.means, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(start.covariances, snap.covariances, rtol=1e-10, atol=1e-12)


def test_export_during_a_run_says_it_is_the_current_snapshot(qtbot, window, tmp_path) -> None:
    window.run_control.reset()  # paused at the initialisation: the fit is still running
    qtbot.waitUntil(lambda: window.state.frame is not None, timeout=60_000)
    path = tmp_path / "now.json"
    window.files.export_params(str(path))
    assert "still running" in window.statusBar().currentMessage()
    data = json.loads(path.read_text())
    assert data["status"] == "running" and data["n_iter"] == 0
    assert data["data_sha256"] == engine.points_sha256(window.state.dataset.points)  # the data's own hash
    window.run_control.stop()
    qtbot.waitUntil(lambda: not window.state.job_active, timeout=60_000)


def test_export_before_any_fit_is_refused_plainly(window, tmp_path) -> None:
    window.files.export_params(str(tmp_path / "p.json"))
    assert "no fit to export" in window.messages.last_error
    assert not (tmp_path / "p.json").exists()


def test_export_labels(qtbot, window, tmp_path) -> None:
    run_fit(qtbot, window, k=3)
    snap = window.state.frame.snapshot
    path = tmp_path / "labels.csv"
    done = []
    window.files.export_labels(str(path), on_done=lambda: done.append(True))
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    rows = list(csv.reader(path.open()))
    # the coordinates are named as the window names the data's columns (the demo data: x0, x1)
    assert (
        rows[0]
        == [*window.state.dataset.columns, "label", "resp_0", "resp_1", "resp_2"]
        == ["x0", "x1", "label", "resp_0", "resp_1", "resp_2"]
    )
    table = np.array(rows[1:], dtype=float)
    assert len(table) == len(window.state.scene.points)
    np.testing.assert_array_equal(table[:, :2], window.state.scene.points)
    resp = engine.responsibilities(window.state.scene.points, snap.weights, snap.means, snap.covariances)
    np.testing.assert_allclose(table[:, 3:], resp, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(table[:, 2], resp.argmax(axis=1))


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_export_plot(qtbot, window, tmp_path, suffix) -> None:
    run_fit(qtbot, window, k=3)
    path = tmp_path / f"plot{suffix}"
    window.files.export_plot(str(path))
    assert path.stat().st_size > 1000, window.messages.last_error
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    old = os.umask(0o022)
    try:
        window.files.export_plot(str(path))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # as any new file (it was 0600)
    head = path.read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in path.read_bytes()[:2000] or b"<?xml" in head


def test_export_plot_to_a_missing_folder_is_refused(window, tmp_path) -> None:
    window.files.export_plot(str(tmp_path / "nope" / "plot.png"))
    assert "does not exist" in window.messages.last_error


def test_importing_a_bad_parameters_file_names_the_problem(window, tmp_path) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps(
            {"weights": [0.5, 0.5], "means": [[0, 0], [1, 1]], "covariances": [[[1, 0.5], [0.2, 1]], [[1, 0], [0, 1]]]}
        )
    )
    assert not window.files.import_params(str(path))
    assert "component 0" in window.messages.last_error and "symmetric" in window.messages.last_error
    assert window.controls.init.currentText() != "imported parameters"


@pytest.mark.parametrize("view", ["demo", "pca of 4-D"])
def test_svg_export_is_the_fit_in_data_coordinates(qtbot, window, tmp_path, view: str) -> None:
    """The plot's SVG: every shown point, each ellipse, and the means where the view puts them (for 4-D data in
    its principal axes: the projected means, not the first two coordinates)."""
    import xml.etree.ElementTree as ET

    if view != "demo":
        data = tmp_path / "four.csv"
        x = np.random.default_rng(0).normal(size=(400, 4)) + np.repeat([[0, 0, 0, 0], [4, 1, -2, 3]], 200, axis=0)
        np.savetxt(data, x, delimiter=",", header="a,b,c,d", comments="")
        window.data.open_path(str(data), ask_columns=False)
        qtbot.waitUntil(lambda: window.state.dataset.source == str(data), timeout=30_000)
    run_fit(qtbot, window, k=3)
    if view != "demo":
        window.view_bar.kind.setCurrentIndex(1)  # principal axes
        window.views.choose()
    path = tmp_path / "plot.svg"
    window.files.export_plot(str(path))
    root = ET.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    paths = root.iter(f"{ns}path")
    by_class: dict[str, list] = {}
    for p in paths:
        by_class.setdefault(p.get("class"), []).append(p)
    assert len(by_class["ellipse"]) == 3 and len(by_class["mean"]) == 3
    dots = sum(p.get("d").count("h0.01") for p in by_class["points"])
    assert dots == len(window.state.scene.shown_points)
    # the mean markers sit where the data coordinates map to, through the view's own range
    (x0, x1), (y0, y1) = window.plot.view_box.viewRange()
    width, height = float(root.get("width")), float(root.get("height"))
    left, right, top, bottom = 70, 20, 20, 55  # the SVG's plot margins
    means = window.state.scene.view.means(window.state.frame.snapshot.means)  # the demo's view: columns 0, 1
    for k, p in enumerate(by_class["mean"]):
        horizontal, vertical = p.get("d").split("M")[1:]
        mx = float(vertical.split()[0])  # the vertical bar's x is the mean's x
        my = float(horizontal.split()[1].split("h")[0])  # the horizontal bar's y is the mean's y
        assert mx == pytest.approx(left + (means[k, 0] - x0) / (x1 - x0) * (width - left - right), abs=0.01)
        assert my == pytest.approx(top + (y1 - means[k, 1]) / (y1 - y0) * (height - top - bottom), abs=0.01)
    assert "nan" not in path.read_text().lower()


def test_exporting_the_gallery_before_there_is_one_says_so_before_asking_for_a_file(window, monkeypatch) -> None:
    """A new user was asked for a file name, then told there was no gallery."""
    asked = []
    monkeypatch.setattr(window.messages, "ask_path", lambda *a, **k: asked.append(a))
    window.files.export_gallery_dialog()
    assert asked == [] and "there is no gallery yet" in window.messages.last_error
