"""A file bigger than the memory limit in the window: an image of ALL its points under a sample, a fit a pass
per iteration (here, or on a Dask LocalCluster) equal to the in-memory fit from the same start, and the
analyses that need the data in memory refused with a message."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from gui_helpers import FIT_TIMEOUT_MS, choose_selection, run_fit

import engine
from gui.controllers.view_control import KINDS
from gui.scene import frames
from gui.scene.big_data import MACHINE

LIMIT = "256K"  # the Run panel's memory limit: every file below is bigger (in float64)


def _data(n: int, d: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 5.0, (3, d))
    return centres[rng.integers(0, 3, n)] + rng.normal(size=(n, d)) * rng.uniform(0.5, 1.5, d)


def _open_big(qtbot, window, path) -> None:
    window.controls.memory_limit.setText(LIMIT)
    window.data.open_path(str(path), ask_columns=False)
    qtbot.waitUntil(lambda: window.state.scene is not None and window.state.stream is not None, timeout=60_000)


def _start(x: np.ndarray, k: int = 3) -> engine.InitParams:
    rng = np.random.default_rng(5)
    cov = np.broadcast_to(np.cov(x.T) * 0.3, (k, x.shape[1], x.shape[1]))
    return engine.InitParams.from_arrays(np.full(k, 1 / k), x[rng.choice(len(x), k, replace=False)], cov)


def _histogram(xy: np.ndarray, bounds) -> np.ndarray:
    counts, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=frames.IMAGE_BINS, range=[bounds[:2], bounds[2:]])
    return frames.image_of(counts)


def test_a_big_file_shows_every_point_as_an_image_and_a_sample_as_dots(qtbot, window, tmp_path) -> None:
    """150,000 rows (2.4 MB in float64, limit 256 kB): the image counts all of them (np.histogram2d of the whole
    array), the dots are points of the file, the data label says N and how it is read."""
    x = _data(150_000)
    np.save(tmp_path / "big.npy", x)
    _open_big(qtbot, window, tmp_path / "big.npy")
    scene = window.state.scene
    assert scene.n_samples == 150_000 and len(scene.points) == 100_000  # the first pass's uniform sample
    assert len(scene.shown) == frames.DOTS_SHOWN
    np.testing.assert_array_equal(scene.image, _histogram(x, scene.bounds))
    assert scene.bounds == frames.padded_bounds(x)  # the exact extremes of all the points
    rows = window.state.stream.survey.sample_rows
    np.testing.assert_array_equal(scene.points, x[rows])
    assert "N = 150,000" in window.controls.data_label.text() and "read by chunks" in window.controls.data_label.text()


def test_the_window_fits_it_a_pass_per_iteration_as_the_in_memory_fit(qtbot, window, tmp_path) -> None:
    """The same imported start: every iteration's log-likelihood equals the in-memory fit's to 1e-10; the
    speed label counts the points the passes read."""
    x = _data(60_000, d=3)
    np.save(tmp_path / "big.npy", x)
    _open_big(qtbot, window, tmp_path / "big.npy")
    start = _start(x)
    window.controls.set_imported(start, "a test start")
    assert run_fit(qtbot, window, tol="0", max_iter="12") == "max_iter"
    frame = window.state.frame
    memory = list(engine.fit(x, engine.FitConfig(n_components=3, init_params=start, tol=0.0, max_iter=12)))
    np.testing.assert_allclose(frame.history[:, 1], [s.mean_log_likelihood for s in memory], rtol=1e-10)
    np.testing.assert_allclose(frame.snapshot.means, memory[-1].means, rtol=1e-9, atol=1e-9)
    assert frame.snapshot.n_samples == 60_000
    assert "M points/s" in window.fit_view.labels.speed.text()


def test_another_view_counts_every_point_again(qtbot, window, tmp_path) -> None:
    """A 3-D file seen across columns 2 and 0, then along principal axes: each image counts all the points in
    that view (its range from its own pass)."""
    x = _data(80_000, d=3)
    np.save(tmp_path / "big.npy", x)
    _open_big(qtbot, window, tmp_path / "big.npy")
    bar = window.view_bar
    bar.x.setCurrentIndex(2)
    bar.y.setCurrentIndex(0)
    window.views.choose()
    qtbot.waitUntil(lambda: window.state.scene.view.columns == (2, 0), timeout=30_000)
    np.testing.assert_array_equal(window.state.scene.image, _histogram(x[:, [2, 0]], window.state.scene.bounds))
    bar.kind.setCurrentIndex([k for k, _ in KINDS].index("pca"))
    window.views.choose()
    qtbot.waitUntil(lambda: window.state.scene.view.kind == "pca", timeout=30_000)
    scene = window.state.scene
    xy = scene.view.points(x)
    assert scene.bounds == frames.padded_bounds(xy)
    np.testing.assert_array_equal(scene.image, _histogram(xy, scene.bounds))


def test_labels_of_all_points_are_exported_in_one_pass(qtbot, window, tmp_path) -> None:
    """Every point's label and responsibilities, as the in-memory export writes them: the same header, points
    and labels; responsibilities to 1e-12 (the chunks' products round differently in the last bits)."""
    x = _data(40_000)
    np.save(tmp_path / "big.npy", x)
    _open_big(qtbot, window, tmp_path / "big.npy")
    run_fit(qtbot, window, k=3, max_iter="5")
    out = tmp_path / "labels.csv"
    written = []
    window.files.export_labels(str(out), lambda: written.append(1))
    qtbot.waitUntil(lambda: bool(written), timeout=60_000)
    params, _ = window.files.current_params()
    engine.write_labels(tmp_path / "reference.csv", x, params)
    ours, reference = (open(p).read().splitlines() for p in (out, tmp_path / "reference.csv"))
    assert ours[0] == reference[0] and len(ours) == len(x) + 1
    a, b = (np.loadtxt(lines[1:], delimiter=",") for lines in (ours, reference))
    np.testing.assert_array_equal(a[:, :3], b[:, :3])  # the points as read, and their labels
    np.testing.assert_allclose(a[:, 3:], b[:, 3:], rtol=0, atol=1e-12)


def test_what_needs_the_data_in_memory_says_so(qtbot, window, tmp_path) -> None:
    """Compare, drawing points and other algorithms: a message, nothing started."""
    np.save(tmp_path / "big.npy", _data(30_000))
    _open_big(qtbot, window, tmp_path / "big.npy")
    window.compare_control.run()
    assert "only exact EM fits it" in window.messages.last_error
    window.controls.algorithm.setCurrentText("gradient-em")
    assert not window.run_control.start_fit()
    assert "exact EM" in window.messages.last_error
    before = window.state.dataset
    window.data.add_points(np.zeros((1, 2)))
    assert window.state.dataset is before


def test_new_data_after_a_big_file_leaves_nothing_of_it(qtbot, window, tmp_path) -> None:
    """A 3-D file fitted, then the 2-D demo: no stream, no fit, no label of it, and the table's headers are the
    2-D ones (the 3-D headers had stayed over the empty table)."""
    np.save(tmp_path / "big.npy", _data(30_000, d=3))
    _open_big(qtbot, window, tmp_path / "big.npy")
    run_fit(qtbot, window, k=2, max_iter="3")
    assert window.table.horizontalHeaderItem(2).text() == "mean"
    window.data.show_demo()
    qtbot.waitUntil(lambda: window.state.scene is not None and window.state.scene.stream is None, timeout=10_000)
    assert window.state.stream is None and window.state.frame is None
    assert "read by chunks" not in window.controls.data_label.text()
    assert window.table.horizontalHeaderItem(2).text() == "mean x0" and window.table.rowCount() == 0  # its columns


def test_a_file_within_the_limit_is_loaded_whole(qtbot, window, tmp_path) -> None:
    np.save(tmp_path / "small.npy", _data(1000))
    window.controls.memory_limit.setText("64M")
    window.data.open_path(str(tmp_path / "small.npy"), ask_columns=False)
    qtbot.waitUntil(lambda: window.state.scene is not None and window.state.dataset.source.endswith("small.npy"))
    assert window.state.stream is None and len(window.state.scene.points) == 1000


def test_a_wrong_memory_limit_is_named(qtbot, window, tmp_path) -> None:
    np.save(tmp_path / "x.npy", _data(100))
    window.controls.memory_limit.setText("lots")
    window.data.open_path(str(tmp_path / "x.npy"), ask_columns=False)
    assert "Memory limit takes a size such as 256M" in window.messages.last_error


def test_a_local_dask_cluster_fits_it_as_this_machine_does(qtbot, window, tmp_path) -> None:
    """Fit on: local cluster. The workers hold the file's parts; the answer equals the in-memory fit's from the
    same start (1e-10 per iteration), and closing the window ends the cluster. Random-data seeded 4 on 120,000
    rows (above the initialisation's sample of 100,000): the window's cluster fit starts as `fit --dask` and `fit`
    in memory do (the seed's rows, gathered by the workers; before, the window's own first pass drew its sample),
    each iteration equal to the in-memory fit's (1.9e-15 relative measured, 0.19 before; 1e-12 asked)."""
    x = _data(50_000, d=2, seed=4)
    np.save(tmp_path / "big.npy", x)
    _open_big(qtbot, window, tmp_path / "big.npy")
    start = _start(x)
    window.controls.set_imported(start, "a test start")
    window.controls.where_box.setCurrentIndex(1)
    assert run_fit(qtbot, window, tol="0", max_iter="6") == "max_iter"
    memory = list(engine.fit(x, engine.FitConfig(n_components=3, init_params=start, tol=0.0, max_iter=6)))
    np.testing.assert_allclose(window.state.frame.history[:, 1], [s.mean_log_likelihood for s in memory], rtol=1e-10)
    x = _data(120_000, d=2, seed=6)
    np.save(tmp_path / "bigger.npy", x)
    window.data.open_path(str(tmp_path / "bigger.npy"), ask_columns=False)
    qtbot.waitUntil(
        lambda: window.state.stream is not None and window.state.stream.n_samples == 120_000, timeout=60_000
    )
    window.controls.where_box.setCurrentIndex(1)
    assert run_fit(qtbot, window, init="random-data", seed=4, tol="0", max_iter="6") == "max_iter"
    cfg = engine.FitConfig(n_components=3, init="random-data", seed=4, tol=0.0, max_iter=6)
    memory = list(engine.fit(x, cfg))
    np.testing.assert_allclose(window.state.frame.history[:, 1], [s.mean_log_likelihood for s in memory], rtol=1e-12)
    link = window.run_control.cluster
    assert link.client is not None and len(link.client.scheduler_info()["workers"]) >= 1
    window.run_control.shutdown(FIT_TIMEOUT_MS)
    assert link.client is None


def test_a_scheduler_address_must_be_one(qtbot, window, tmp_path) -> None:
    """A malformed address is named when a big file would be fitted there; data in memory is fitted here, with a
    note, whatever the address field holds."""
    window.controls.where_box.setCurrentIndex(2)
    window.controls.scheduler.setText("localhost")
    assert window.run_control.start_fit() and window.state.job.where == MACHINE
    assert "fitted on this machine" in window.statusBar().currentMessage()
    window.run_control.cancel()
    np.save(tmp_path / "big.npy", _data(30_000))
    _open_big(qtbot, window, tmp_path / "big.npy")
    assert not window.run_control.start_fit()
    assert "tcp://HOST:PORT" in window.messages.last_error


def test_restarts_of_a_big_file_fill_the_gallery(qtbot, window, tmp_path) -> None:
    """Four batched restarts, a pass per iteration for all of them: the gallery shows each restart's answer, and
    the best is the fit's own."""
    np.save(tmp_path / "big.npy", _data(40_000))
    _open_big(qtbot, window, tmp_path / "big.npy")
    run_fit(qtbot, window, k=3, restarts=4, max_iter="40")
    qtbot.waitUntil(lambda: window.gallery_panel.gallery is not None, timeout=60_000)
    assert window.gallery_panel.pictures.count() == 4 and window.gallery_panel.table.rowCount() == 4
    lls = [float(window.gallery_panel.table.item(r, 3).text()) for r in range(4)]
    assert max(lls) == pytest.approx(window.state.frame.snapshot.log_likelihood, rel=1e-5)  # shown to 6 digits


def test_a_session_of_a_big_file_is_saved_and_opened_again(qtbot, window, make_window, tmp_path) -> None:
    """Save session hashes the file in one pass (the whole array's SHA-256); opening it in another window
    checks the file, reads it by chunks and fits it again: reproduced. A changed file is refused, named."""
    import json

    from engine.io.dataset import points_sha256

    x = _data(30_000, d=3)
    np.save(tmp_path / "big.npy", x)
    _open_big(qtbot, window, tmp_path / "big.npy")
    run_fit(qtbot, window, k=3, max_iter="30", seed=4)
    path = tmp_path / "fit.gmmsession"
    assert window.sessions.save(str(path))
    qtbot.waitUntil(path.exists, timeout=30_000)
    ref = json.loads(path.read_text())["data"]
    assert ref["chunked"] and ref["sha256"] == points_sha256(x) and ref["columns"] == [0, 1, 2]
    other = make_window()
    ended = []
    other.run_control.fit_ended.connect(ended.append)
    other.sessions.open(str(path))
    qtbot.waitUntil(lambda: bool(ended) and other.sessions.verdict != "", timeout=60_000)
    assert other.state.stream is not None and other.state.stream.n_samples == 30_000
    assert "reproduced the saved fit" in other.sessions.verdict and "NOT" not in other.sessions.verdict
    x[7, 1] = 99.0
    np.save(tmp_path / "big.npy", x)
    other.sessions.open(str(path))
    qtbot.waitUntil(lambda: "has changed since the session was saved" in other.messages.last_error, timeout=30_000)


def test_a_progress_note_is_withdrawn_only_while_it_is_shown(window) -> None:
    """A pass's progress note ends with its fit; a newer note (a warning, a verdict) stays."""
    window.messages.note("pass: 10 of 20 rows (50%)", 0)
    window.messages.withdraw("pass: 10 of 20 rows (50%)")
    assert window.statusBar().currentMessage() == ""
    window.messages.note("a newer note", 0)
    window.messages.withdraw("pass: 10 of 20 rows (50%)")
    assert window.statusBar().currentMessage() == "a newer note"


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_model_selection_over_a_big_file_is_the_in_memory_one(qtbot, window, tmp_path, monkeypatch, suffix) -> None:
    """The Model selection tab on a file read by chunks: the whole grid as one batched EM, a pass per iteration;
    every cell's BIC equals the in-memory selection's (the sample holds every row, so the starts are the same),
    and a fit chosen there is shown. A CSV's chunks are kept as parsed (engine's spill.py), the copy closed when
    the selection ends; a .npy file keeps none."""
    from engine.inference import spill

    made = []
    real = spill.tempfile.TemporaryFile
    monkeypatch.setattr(spill.tempfile, "TemporaryFile", lambda **kw: made.append(real(**kw)) or made[-1])
    x = _data(20_000, d=2, seed=6)
    if suffix == ".npy":
        np.save(tmp_path / "big.npy", x)
    else:
        np.savetxt(tmp_path / "big.csv", x, delimiter=",", header="a,b", comments="", fmt="%.17g")
    _open_big(qtbot, window, tmp_path / f"big{suffix}")
    view = choose_selection(window, 1, 3, ("full", "diag"), restarts=2)
    window.selection_control.run()
    qtbot.waitUntil(lambda: not view.running and len(view.entries) == 6, timeout=120_000)
    base = replace(window.run_control.checked_config(), restarts=2, init=None)
    memory = list(engine.select_models(x, [1, 2, 3], ["full", "diag"], base))
    got = {(e.k, e.covariance_type): e.bic for e in view.entries}
    for e in memory:
        assert got[(e.k, e.covariance_type)] == pytest.approx(e.bic, rel=1e-9)
    qtbot.waitUntil(lambda: all(f.closed for f in made), timeout=10_000)
    assert len(made) == (suffix == ".csv")
    best = engine.best_entry(view.entries)
    window.selection_control.load_fit(best)
    qtbot.waitUntil(lambda: window.state.frame is not None and window.state.frame.snapshot is best.snapshot)


def test_a_big_csv_is_parsed_once_and_its_copy_closed_with_the_fit(qtbot, window, tmp_path, monkeypatch) -> None:
    """A CSV over the limit: the fit's first pass keeps its chunks as parsed in a temporary file (engine's spill.py),
    the later passes read them back, every iteration's log-likelihood is the in-memory fit's to 1e-10, and the
    file is closed (it has no name: gone) when the fit ends."""
    from engine.inference import spill

    made = []
    real = spill.tempfile.TemporaryFile
    monkeypatch.setattr(spill.tempfile, "TemporaryFile", lambda **kw: made.append(real(**kw)) or made[-1])
    x = _data(20_000, d=3)
    np.savetxt(tmp_path / "big.csv", x, delimiter=",", header="a,b,c", comments="", fmt="%.17g")
    _open_big(qtbot, window, tmp_path / "big.csv")
    start = _start(x)
    window.controls.set_imported(start, "a test start")
    assert run_fit(qtbot, window, tol="0", max_iter="6") == "max_iter"
    memory = list(engine.fit(x, engine.FitConfig(n_components=3, init_params=start, tol=0.0, max_iter=6)))
    np.testing.assert_allclose(window.state.frame.history[:, 1], [s.mean_log_likelihood for s in memory], rtol=1e-10)
    qtbot.waitUntil(lambda: len(made) == 1 and made[0].closed, timeout=10_000)
