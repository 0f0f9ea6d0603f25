"""Frequency weights in the window (issue 25): a weight column chosen in the column picker is read beside the fitted
columns (never one of them), checked by the engine (one line, the data on screen kept), and every fit the window
runs counts each point its weight times. The references are independent: the rows repeated w times fitted without
weights, SciPy's densities of the exported parameters, and the closed form of BIC with n = sum w."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gui_helpers import choose_selection, open_session, opened_dialog, run_fit, set_controls
from scipy.stats import multivariate_normal

import engine

# measured (this file's data, 25 iterations from _start): the weighted fit against the repeated rows' differed by
# 1.5e-14 in the parameters and 1.3e-16 relative in the log-likelihood (about -436); whole weights only reorder sums
TOL = 1e-10


def _weighted_file(path, n: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A CSV x,y,w: two clusters (n, 2) and whole weights 0..3 (n,), some 0."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0.0, 1.0, (n // 2, 2)), rng.normal([5.0, 3.0], 0.7, (n - n // 2, 2))])
    w = rng.integers(0, 4, n).astype(np.float64)
    np.savetxt(path, np.column_stack([x, w]), delimiter=",", header="x,y,w", comments="", fmt="%.17g")
    return x, w


def _picker(qtbot, window, path):
    return opened_dialog(qtbot, window, path, "column_picker")


def _open_weighted(qtbot, window, path) -> None:
    """Open path, choose its column 2 as the weights (fitting columns 0 and 1), wait for it on screen."""
    picker = _picker(qtbot, window, path)
    picker.set_weights(2)
    picker.accept()
    qtbot.waitUntil(lambda: window.state.weights is not None and window.state.scene is not None, timeout=30_000)


def _start() -> engine.InitParams:
    return engine.InitParams.from_arrays([0.5, 0.5], [[0.0, 0.0], [4.0, 2.0]], [np.eye(2), np.eye(2)])


def test_the_picker_reads_a_weight_column_that_is_never_fitted(qtbot, window, tmp_path) -> None:
    path = tmp_path / "xw.csv"
    x, w = _weighted_file(path)
    picker = _picker(qtbot, window, path)
    assert picker.weights() is None and picker.columns() == (0, 1, 2)  # none by default: every column fitted
    picker.set_weights(0)
    assert picker.columns() == (1, 2)  # choosing it unchecks it
    picker.set_weights(2)
    assert picker.columns() == (0, 1)  # another choice gives column 0 back to the fit, and unchecks column 2
    picker.set_columns((0, 1, 2), (0, 1))
    assert picker.message.text() == "the weights' column is never fitted: uncheck it, or choose other weights"
    assert not picker.buttons.button(picker.buttons.StandardButton.Ok).isEnabled()
    picker.set_columns((0, 1), (0, 1))
    picker.accept()
    qtbot.waitUntil(lambda: window.state.weights is not None, timeout=30_000)
    assert window.state.dataset.columns == ("x", "y")
    np.testing.assert_array_equal(window.state.dataset.points, x)
    np.testing.assert_array_equal(window.state.weights.values, w)
    np.testing.assert_array_equal(window.state.scene.weights, w)
    assert (window.state.weights.column, window.state.weights.name) == (2, "w")
    assert window.controls.data_label.text().endswith(f"\nweights: w (sum {w.sum():.0f})")


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        (
            "-1",
            "line 5, column 2 ('w'): weight -1 is negative: weights count each point (0 drops it): fix that row "
            "or choose other Weights in the column picker",
        ),
        ("nan", "line 5, column 2 ('w'): the weight is missing (only the fitted columns may miss values): weights"),
        ("a", "line 5, column 2 ('w'): weight 'a' is not a number: weights count each point (0 drops it): fix"),
    ],
)
def test_a_bad_weight_is_one_line_and_the_data_on_screen_stays(qtbot, window, tmp_path, bad: str, said: str) -> None:
    """(A NaN or a word in the column fails the file's default columns too, before a picker: the picker's choice is
    open_path with the columns and the weights, called here.)"""
    path = tmp_path / "bad.csv"
    _weighted_file(path, n=10)
    lines = path.read_text().splitlines()
    lines[4] = ",".join(lines[4].split(",")[:2] + [bad])  # line 5 of the file (the header is line 1)
    path.write_text("\n".join(lines) + "\n")
    before, scene = window.state.dataset, window.state.scene
    window.messages.last_error = ""
    if bad == "-1":
        picker = _picker(qtbot, window, path)
        picker.set_weights(2)
        picker.accept()
    else:
        window.data.open_path(str(path), [0, 1], weights=2)
    qtbot.waitUntil(lambda: window.messages.last_error != "", timeout=30_000)
    message = window.messages.last_error
    assert message.startswith(f"{path}: {said}") and "\n" not in message
    assert window.state.dataset is before and window.state.scene is scene and window.state.weights is None


def test_every_weight_zero_is_refused(qtbot, window, tmp_path) -> None:
    path = tmp_path / "zero.csv"
    table = np.c_[np.arange(6.0), np.arange(6.0) ** 2, np.zeros(6)]
    np.savetxt(path, table, delimiter=",", header="a,b,w", comments="")
    window.messages.last_error = ""
    picker = _picker(qtbot, window, path)
    picker.set_weights(2)
    picker.accept()
    qtbot.waitUntil(lambda: window.messages.last_error != "", timeout=30_000)
    assert "every weight in column 2 ('w') is 0" in window.messages.last_error
    assert window.messages.last_error.endswith("fix the weights or choose other Weights in the column picker")
    assert window.state.weights is None


def test_a_weighted_fit_is_the_fit_of_the_repeated_rows(qtbot, window, tmp_path) -> None:
    """Run from a given start: the window's fit equals the unweighted fit of each row repeated w times, and the
    component table's counts are the weights' sums."""
    path = tmp_path / "xw.csv"
    x, w = _weighted_file(path)
    _open_weighted(qtbot, window, path)
    window.controls.set_imported(_start(), "a start for the test")
    assert run_fit(qtbot, window, k=2, tol="0", max_iter="25") == "max_iter"
    snap = window.state.frame.snapshot
    ref = engine.run_to_end(np.repeat(x, w.astype(int), axis=0), snap.config)
    assert snap.n_counted == w.sum() == ref.n_samples
    assert abs(snap.log_likelihood - ref.log_likelihood) <= TOL * abs(ref.log_likelihood)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(getattr(snap, name), getattr(ref, name), rtol=0, atol=TOL)
    counts = [s.n_effective for s in window.state.frame.states]
    np.testing.assert_allclose(counts, ref.weights * w.sum(), rtol=1e-12)


def test_step_and_restarts_fit_the_weights(qtbot, window, tmp_path) -> None:
    """Step's first iteration and a fit of several restarts are weighted too (their log-likelihood is sum w log p,
    computed here with SciPy at the fit's own parameters)."""
    path = tmp_path / "xw.csv"
    x, w = _weighted_file(path)
    _open_weighted(qtbot, window, path)
    set_controls(window, k=2)
    window.run_control.step()
    stepped = lambda: window.state.frame is not None and window.state.frame.snapshot.iteration == 1  # noqa: E731
    qtbot.waitUntil(stepped, timeout=60_000)
    _assert_weighted_likelihood(window.state.frame.snapshot, x, w)
    window.run_control.stop()
    run_fit(qtbot, window, k=2, restarts=3)
    _assert_weighted_likelihood(window.state.frame.snapshot, x, w)


def _assert_weighted_likelihood(snap, x: np.ndarray, w: np.ndarray) -> None:
    """snap's log-likelihood is sum_i w_i log p(x_i) at its own parameters (SciPy), its n sum w."""
    assert snap.n_counted == w.sum()
    parts = zip(snap.weights, snap.means, snap.covariances, strict=True)
    dens = sum(pk * multivariate_normal(m, c).pdf(x) for pk, m, c in parts)
    assert snap.log_likelihood == pytest.approx(w @ np.log(dens), rel=1e-10)  # measured: 0 to 1e-16 relative


def test_model_selection_counts_the_weights(qtbot, window, tmp_path) -> None:
    """Each entry's BIC is -2 LL + p log(sum w), and its log-likelihood sum w log p at its parameters (SciPy)."""
    path = tmp_path / "xw.csv"
    x, w = _weighted_file(path)
    _open_weighted(qtbot, window, path)
    view = choose_selection(window, 1, 2, ("full",))
    window.selection_control.run()
    qtbot.waitUntil(lambda: not view.running and len(view.entries) == 2, timeout=120_000)
    for entry in view.entries:
        snap = entry.snapshot
        p = engine.COVARIANCE_TYPES["full"].n_parameters(entry.k, 2)
        assert entry.bic == pytest.approx(-2 * snap.log_likelihood + p * np.log(w.sum()), rel=1e-12)
        _assert_weighted_likelihood(snap, x, w)
        if entry.k == 1:  # one component's mean is the weighted mean
            np.testing.assert_allclose(snap.means[0], np.average(x, axis=0, weights=w), rtol=0, atol=1e-12)


def test_the_parameters_export_names_the_weights(qtbot, window, tmp_path) -> None:
    path = tmp_path / "xw.csv"
    _, w = _weighted_file(path)
    _open_weighted(qtbot, window, path)
    run_fit(qtbot, window, k=2)
    out = tmp_path / "p.json"
    window.files.export_params(str(out))
    meta = json.loads(out.read_text())
    meta = meta.get("meta", meta)
    assert meta["weights_column"] == "w" and meta["n_effective"] == w.sum() and meta["n_samples"] == len(w)
    snap = window.state.frame.snapshot
    p = engine.COVARIANCE_TYPES[snap.config.covariance_type].n_parameters(2, 2)
    assert meta["bic"] == pytest.approx(-2 * snap.log_likelihood + p * np.log(w.sum()), rel=1e-12)


def test_a_weighted_session_opens_and_reproduces(qtbot, make_window, tmp_path) -> None:
    path = tmp_path / "xw.csv"
    _, w = _weighted_file(path)
    first = make_window()
    _open_weighted(qtbot, first, path)
    run_fit(qtbot, first, k=2, restarts=2)
    saved = first.state.frame.snapshot
    session = tmp_path / "w.gmmsession"
    assert first.sessions.save(str(session))
    assert json.loads(session.read_text())["data"]["weights_column"] == 2
    first.close()
    second = make_window()
    open_session(qtbot, second, session)
    again = second.state.frame.snapshot
    assert again.mean_log_likelihood == saved.mean_log_likelihood and again.n_counted == w.sum()
    np.testing.assert_array_equal(again.means, saved.means)
    assert second.sessions.verdict.startswith("session: reproduced the saved fit")
    assert second.state.weights.name == "w" and "weights: w" in second.controls.data_label.text()


def test_a_weighted_session_whose_weights_changed_is_refused(qtbot, window, tmp_path) -> None:
    path = tmp_path / "xw.csv"
    _weighted_file(path)
    _open_weighted(qtbot, window, path)
    run_fit(qtbot, window, k=2)
    session = tmp_path / "w.gmmsession"
    assert window.sessions.save(str(session))
    lines = path.read_text().splitlines()
    lines[3] = ",".join(lines[3].split(",")[:2] + ["7"])
    path.write_text("\n".join(lines) + "\n")
    window.messages.last_error = ""
    window.sessions.open(str(session))
    qtbot.waitUntil(lambda: window.messages.last_error != "", timeout=30_000)
    assert "its weights' column 2 has changed since the session was saved" in window.messages.last_error


def test_other_data_after_a_weighted_fit_carries_no_weights(qtbot, window, tmp_path) -> None:
    path = tmp_path / "xw.csv"
    _weighted_file(path)
    _open_weighted(qtbot, window, path)
    run_fit(qtbot, window, k=2)
    shown = []
    window.state.scene_changed.connect(lambda: shown.append(1))
    window.data.show_demo()
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert window.state.weights is None and window.state.scene.weights is None and window.state.frame is None
    assert "weights" not in window.controls.data_label.text()
    assert run_fit(qtbot, window, k=2) in ("converged", "max_iter")
    assert window.state.frame.snapshot.n_effective is None and window.state.frame.snapshot.n_samples == 1000


def test_cancelling_the_picker_keeps_the_data_and_its_weights(qtbot, window, tmp_path) -> None:
    path = tmp_path / "xw.csv"
    _, w = _weighted_file(path)
    _open_weighted(qtbot, window, path)
    before = window.state.weights
    picker = _picker(qtbot, window, path)
    picker.set_weights(None)
    picker.reject()
    assert window.state.weights is before and window.state.scene.weights is before.values
    assert window.statusBar().currentMessage().endswith("was cancelled: the data on screen stays")


def test_drawing_on_weighted_data_and_comparing_it_are_refused(qtbot, window, tmp_path) -> None:
    path = tmp_path / "xw.csv"
    _weighted_file(path)
    _open_weighted(qtbot, window, path)
    n = len(window.state.dataset.points)
    window.data.add_points(np.array([[0.5, 0.5]]))
    assert len(window.state.dataset.points) == n
    said = window.statusBar().currentMessage()
    assert said == "this data is weighted by its column 'w': Clear first to draw new data"
    window.compare_control.run()
    assert "only exact EM fits weights" in window.messages.last_error


def test_a_weighted_file_too_big_for_memory_is_refused_in_one_line(qtbot, window, tmp_path) -> None:
    path = tmp_path / "xw.csv"
    _weighted_file(path)
    window.messages.last_error = ""
    window.data.open_path(str(path), [0, 1], weights=2, by_chunks=True)
    qtbot.waitUntil(lambda: window.messages.last_error != "", timeout=30_000)
    assert "the window fits weights on data in memory only" in window.messages.last_error
    assert f"main.py fit {path} --weights 2" in window.messages.last_error
    assert window.state.weights is None


def test_another_view_keeps_the_weights(qtbot, window, tmp_path) -> None:
    """The same data along its principal axes: the scene keeps its weights, and a fit there is still weighted."""
    from gui.controllers.view_control import KINDS

    path = tmp_path / "xw.csv"
    x, w = _weighted_file(path)
    _open_weighted(qtbot, window, path)
    window.view_bar.kind.setCurrentIndex([k for k, _ in KINDS].index("pca"))
    window.views.choose()
    qtbot.waitUntil(lambda: window.state.scene.view.kind == "pca", timeout=30_000)
    np.testing.assert_array_equal(window.state.scene.weights, w)
    run_fit(qtbot, window, k=2)
    _assert_weighted_likelihood(window.state.frame.snapshot, x, w)


def test_the_start_counts_each_components_points_by_weight(qtbot, window, tmp_path) -> None:
    """Reset shows the start (iteration 0): each component's points are the weighted sums of its responsibilities
    (SciPy's densities at the start), which add up to sum w, not N."""
    path = tmp_path / "xw.csv"
    x, w = _weighted_file(path)
    _open_weighted(qtbot, window, path)
    set_controls(window, k=2)
    window.run_control.reset()
    qtbot.waitUntil(
        lambda: window.state.frame is not None and window.state.frame.snapshot.iteration == 0, timeout=60_000
    )
    snap = window.state.frame.snapshot
    parts = zip(snap.weights, snap.means, snap.covariances, strict=True)
    joint = np.column_stack([pk * multivariate_normal(m, c).pdf(x) for pk, m, c in parts])
    owned = w @ (joint / joint.sum(axis=1, keepdims=True))
    np.testing.assert_allclose([s.n_effective for s in window.state.frame.states], owned, rtol=1e-9)
    window.run_control.stop()


def test_an_algorithm_that_fits_no_weights_says_so_in_one_line(qtbot, window, tmp_path) -> None:
    path = tmp_path / "xw.csv"
    _weighted_file(path)
    _open_weighted(qtbot, window, path)
    window.messages.last_error = ""
    assert run_fit(qtbot, window, k=2, algorithm="marginal") == "error"
    assert window.messages.last_error == "weights are fitted by exact EM (algorithm em), not marginal"
