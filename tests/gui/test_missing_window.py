"""Missing values in the window (issue 25): a file with missing cells asks whether to fit them by EM (missing at
random); fits then run the engine's exact EM on each point's observed coordinates, and the plot draws a point
missing one shown coordinate as a tick on the margin (one missing both is counted). The reference for the fit is
independent: SciPy's observed-data log-likelihood (each row's density of its observed coordinates) of the fit's
parameters."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gui_helpers import FIT_TIMEOUT_MS, open_session, opened_dialog, run_fit
from PySide6.QtCore import Qt
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import engine
from cli.main import main as cli
from gui.views.uncertainty_dialog import PARAMETRIC_MISSING_TIP, TYPES, UncertaintyDialog

# measured: the window's reported log-likelihood against SciPy's observed-data one of its parameters differed by
# 2.2e-16 relative (Run to convergence: -1017.97; one Step: -1019.21); float64 sums in another order
TOL = 1e-10


def _blank_file(path, share: float = 0.1, seed: int = 0) -> np.ndarray:
    """Old Faithful's two columns (272, 2) with `share` of its cells blank (never both of a row): the values, NaN
    where blank, as written to path (a CSV with a header)."""
    x = engine.load("tests/data/old_faithful.csv").points.copy()
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(x), int(share * x.size), replace=False)
    x[rows, rng.integers(0, 2, len(rows))] = np.nan
    lines = ["eruptions,waiting"] + [",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in x]
    path.write_text("\n".join(lines) + "\n")
    return x


def _question(qtbot, window, path):
    return opened_dialog(qtbot, window, path, "missing_question")


def _open_with_missing(qtbot, window, path) -> None:
    box = _question(qtbot, window, path)
    box.fit_button.click()
    qtbot.waitUntil(lambda: window.state.scene is not None and window.state.scene.ticks is not None, timeout=30_000)


def _observed_log_likelihood(x: np.ndarray, w, m, c) -> float:
    """sum over rows of log sum_k w_k N(x_o; m_o, c_oo): each row on its observed coordinates (SciPy)."""
    total = 0.0
    for row in x:
        o = ~np.isnan(row)
        dens = [np.log(w[k]) + multivariate_normal(m[k][o], c[k][np.ix_(o, o)]).logpdf(row[o]) for k in range(len(w))]
        total += logsumexp(dens)
    return total


def test_a_file_with_missing_cells_asks_and_cancel_keeps_the_data(qtbot, window, tmp_path) -> None:
    window.data.show_demo()
    before = window.state.dataset
    path = tmp_path / "blank.csv"
    x = _blank_file(path)
    cells, rows = int(np.isnan(x).sum()), int(np.isnan(x).any(axis=1).sum())
    box = _question(qtbot, window, path)
    assert box.text() == (
        f"{path} has missing values: {cells} cells in {rows} rows.\nMissing values: fit them by EM (missing at random)?"
    )
    box.button(box.StandardButton.Cancel).click()
    note = window.statusBar().currentMessage()
    assert window.state.dataset is before
    row, col = np.argwhere(np.isnan(x))[0]  # the first blank cell, named (line: the row + the header + 1)
    assert f"line {row + 2}, column {col} ('{('eruptions', 'waiting')[col]}'): value '' is not a number: fix" in note
    assert "or open it again and choose 'Fit them by EM (missing at random)'" in note
    assert "--missing" not in note and note.startswith(f"opening {path} was cancelled: the data on screen stays. ")


def test_fit_them_by_em_loads_nan_cells_and_the_fit_is_the_observed_data_em(qtbot, window, tmp_path) -> None:
    path = tmp_path / "blank.csv"
    x = _blank_file(path)
    _open_with_missing(qtbot, window, path)
    np.testing.assert_array_equal(window.state.dataset.points, x)  # NaN where blank
    cells, rows = int(np.isnan(x).sum()), int(np.isnan(x).any(axis=1).sum())
    assert f"\nmissing: {cells} cells in {rows} rows" in window.controls.data_label.text()
    assert run_fit(qtbot, window, k=2, tol="1e-8", max_iter="200", restarts=3) == "converged"
    snap = window.state.latest.snapshot
    assert len(snap.restarts.seeds) == 3 and np.isfinite(snap.restarts.mean_log_likelihood).all()
    ll = _observed_log_likelihood(x, snap.weights, snap.means, snap.covariances)
    assert abs(snap.log_likelihood - ll) <= TOL * abs(ll)


def test_ticks_on_the_margins_and_a_count_of_points_missing_both(qtbot, window, tmp_path) -> None:
    path = tmp_path / "xyz.csv"
    rows = ["x,y,z", "1,2,3", "2,,4", "3,5,", ",6,7", ",,8", "4,1,2", "0,3,1"]  # ',,8': refused as a broken table
    path.write_text("\n".join(rows) + "\n")
    opened_dialog(qtbot, window, path, "column_picker").accept()  # all three columns fitted, x and y shown
    _question(qtbot, window, None).fit_button.click()
    qtbot.waitUntil(lambda: window.state.scene is not None and window.state.scene.ticks is not None, timeout=30_000)
    scene, plot = window.state.scene, window.plot
    np.testing.assert_array_equal(scene.shown, [0, 2, 5, 6])  # x and y observed (z missing in row 2: drawn)
    x0, x1, y0, y1 = scene.bounds
    xs, ys = plot.missing_ticks.getData()
    # row 1 misses y: a vertical tick at x = 2 from the bottom edge; row 3 misses x: a horizontal one at y = 6
    np.testing.assert_allclose(xs, [2, 2, x0, x0 + 0.04 * (x1 - x0)])
    np.testing.assert_allclose(ys, [y0, y0 + 0.04 * (y1 - y0), 6, 6])
    assert x0 < 0 and y0 < 1  # the margins lie outside every drawn point (x from 0, y from 1)
    said = (
        "1 point missing y: ticks at the bottom; 1 point missing x: ticks at the left; 1 point missing both: not drawn"
    )
    assert plot.plotItem.titleLabel.text == said
    svg = plot.svg_text()  # the SVG export draws the same two ticks, one subpath each
    d = svg.split('class="missing-ticks" d="')[1].split('"')[0]
    assert d.count("M") == 2 and d.count("L") == 2


def test_new_data_drops_the_missing_values_and_complete_data_draws_no_ticks(qtbot, window, tmp_path) -> None:
    window.data.show_demo()
    assert window.plot.missing_ticks is None  # complete data: no item more than before
    path = tmp_path / "blank.csv"
    _blank_file(path)
    _open_with_missing(qtbot, window, path)
    assert len(window.plot.missing_ticks.getData()[0]) > 0
    window.data.show_demo()
    assert window.state.scene.ticks is None and "missing" not in window.controls.data_label.text()
    assert len(window.plot.missing_ticks.getData()[0]) == 0 and not window.plot.plotItem.titleLabel.isVisible()
    assert "missing-ticks" not in window.plot.svg_text()


def test_model_selection_refuses_missing_values_in_one_line(qtbot, window, tmp_path) -> None:
    path = tmp_path / "blank.csv"
    _blank_file(path)
    _open_with_missing(qtbot, window, path)
    window.selection_control.run()
    assert window.messages.last_error.startswith("this data has missing values: only Run")
    assert "\n" not in window.messages.last_error
    # it said selection 'would need complete points', though `select --missing em` selects on the same file
    command = f"python3 main.py select {path} --columns eruptions,waiting --missing em"
    assert window.messages.last_error.endswith(f"or select models on it with: {command}")


def test_the_pairs_view_and_principal_axes_are_refused_and_the_view_stays(qtbot, window, tmp_path) -> None:
    from gui.controllers.view_control import KINDS

    path = tmp_path / "blank.csv"
    _blank_file(path)
    _open_with_missing(qtbot, window, path)
    scene, bar = window.state.scene, window.view_bar
    for kind, name in (("pairs", "the pairs view"), ("pca", "principal axes")):
        bar.kind.setCurrentIndex([k for k, _ in KINDS].index(kind))
        window.views.choose()
        note = window.statusBar().currentMessage()
        assert note.startswith(f"{name}: not for data with missing values")
        assert window.state.scene is scene and bar.kind.currentData() == "columns"
        assert window.plot_stack.currentWidget() is window.plot


def test_hover_on_a_tick_names_the_missing_coordinate_and_its_imputed_value(qtbot, window, tmp_path) -> None:
    from scipy.stats import norm

    path = tmp_path / "blank.csv"
    x = _blank_file(path)
    _open_with_missing(qtbot, window, path)
    run_fit(qtbot, window, k=2, tol="1e-8", max_iter="200")
    plot, scene = window.plot, window.state.scene
    row = int(scene.ticks.x_rows[0])  # its waiting time is missing: a tick on the bottom edge at its eruption
    foot = plot.display.to_display(np.array([x[row, 0], scene.bounds[2]]))
    assert plot.nearest_point(*foot) == row
    # E[waiting | eruptions] under the fit: each component's regression line, weighted by its responsibility
    snap = window.state.latest.snapshot
    w, m, c, e = snap.weights, snap.means, snap.covariances, x[row, 0]
    r = w * norm(m[:, 0], np.sqrt(c[:, 0, 0])).pdf(e)
    r /= r.sum()
    expected = float(r @ (m[:, 1] + c[:, 1, 0] / c[:, 0, 0] * (e - m[:, 0])))
    text = plot.describe_point(row)
    assert f"eruptions = {e:.6g}, waiting <b>missing</b> (imputed {expected:.6g} under this fit)" in text
    assert f"component 0: {r[0]:.4f}" in text and f"component 1: {r[1]:.4f}" in text


def test_a_point_missing_an_unshown_column_is_coloured_by_its_observed_ones(qtbot, window, tmp_path) -> None:
    x = engine.load("tests/data/old_faithful.csv").points
    rng = np.random.default_rng(1)
    z = x[:, 1] + rng.normal(0.0, 5.0, len(x))
    z[::4] = np.nan  # a quarter of the rows miss z, an unshown column: drawn where they are, coloured by the fit
    data = np.column_stack([x, z])
    lines = ["eruptions,waiting,z"] + [",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in data]
    path = tmp_path / "xyz.csv"
    path.write_text("\n".join(lines) + "\n")
    picker = opened_dialog(qtbot, window, path, "column_picker")  # the columns first, then the question
    picker.set_columns((0, 1, 2), (0, 1))  # z fitted too, eruptions and waiting shown
    picker.accept()
    _question(qtbot, window, None).fit_button.click()
    qtbot.waitUntil(lambda: window.state.scene is not None and window.state.scene.ticks is not None, timeout=30_000)
    assert window.state.dataset.columns == ("eruptions", "waiting", "z")
    run_fit(qtbot, window, k=2, tol="1e-8", max_iter="200")
    frame, scene = window.state.latest, window.state.scene
    np.testing.assert_array_equal(scene.shown, np.arange(len(x)))  # every point has both shown coordinates
    w, m, c = frame.snapshot.weights, frame.snapshot.means, frame.snapshot.covariances
    rows = np.arange(0, len(x), 4)
    joint = np.column_stack(
        [np.log(w[k]) + multivariate_normal(m[k][:2], c[k][:2, :2]).logpdf(x[rows]) for k in range(2)]
    )
    expected = joint.argmax(axis=1)
    assert 0 < expected.sum() < len(rows)  # both components among them
    np.testing.assert_array_equal(frame.labels[rows], expected)


def test_a_session_records_the_missing_values_reopens_and_reproduces(qtbot, make_window, tmp_path) -> None:
    """Saving a fit of data with missing values records them (data.missing): another window opens the session,
    reads the blank cells as missing again (no question) and refits to the same log-likelihood, SciPy's
    observed-data one. The labels export imputes."""
    path = tmp_path / "blank.csv"
    x = _blank_file(path)
    first = make_window()
    _open_with_missing(qtbot, first, path)
    run_fit(qtbot, first, k=2, tol="1e-8", max_iter="200")
    saved = first.state.latest.snapshot
    session = tmp_path / "s.gmmsession"
    assert first.sessions.save(str(session))
    assert json.loads(session.read_text())["data"]["missing"] is True
    done: list[bool] = []
    first.files.export_labels(str(tmp_path / "labels.csv"), on_done=lambda: done.append(True))
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    header = (tmp_path / "labels.csv").read_text().splitlines()[0].split(",")
    assert "imputed_waiting" in header and "imputed_eruptions" in header
    first.close()
    second = make_window()
    open_session(qtbot, second, session)
    again = second.state.frame.snapshot
    np.testing.assert_array_equal(second.state.dataset.points, x)  # NaN where blank
    assert second.state.scene.ticks is not None
    assert again.mean_log_likelihood == saved.mean_log_likelihood
    assert second.sessions.verdict.startswith("session: reproduced the saved fit")
    ll = _observed_log_likelihood(x, again.weights, again.means, again.covariances)
    assert abs(again.log_likelihood - ll) <= TOL * abs(ll)


def test_step_takes_one_em_iteration_on_the_observed_coordinates(qtbot, window, tmp_path) -> None:
    path = tmp_path / "blank.csv"
    x = _blank_file(path)
    _open_with_missing(qtbot, window, path)
    window.controls.k.setValue(2)
    window.run_control.step()
    stepped = lambda: window.state.latest is not None and window.state.latest.snapshot.iteration == 1  # noqa: E731
    qtbot.waitUntil(stepped, timeout=30_000)
    snap = window.state.latest.snapshot
    ll = _observed_log_likelihood(x, snap.weights, snap.means, snap.covariances)
    assert abs(snap.log_likelihood - ll) <= TOL * abs(ll)


def test_uncertainty_and_identifiability_bootstrap_the_missing_values_fit(qtbot, window, tmp_path) -> None:
    """Fit > Uncertainty and the Restarts tab's Identifiability on data with missing values: the engine's bootstrap
    of the fit on screen, each replicate missing-values EM (they were refused). The dialog offers every type, the
    parametric one (it was offered disabled) with the tip that its points miss the data's cells, and runs it."""
    path = tmp_path / "blank.csv"
    _blank_file(path)
    _open_with_missing(qtbot, window, path)
    assert run_fit(qtbot, window, k=2, tol="1e-6", max_iter="100", restarts=2) == "converged"
    qtbot.waitUntil(lambda: window.gallery_panel.gallery is not None)  # built in the background after the fit
    job, snap, unc = window.state.job, window.state.latest.snapshot, window.uncertainty
    window.messages.last_error = ""
    unc.dialog()
    dialog = window.findChild(UncertaintyDialog)
    assert all(dialog.kind.model().item(i).isEnabled() for i in range(len(TYPES)))
    tip = dialog.kind.itemData(TYPES.index("parametric"), Qt.ItemDataRole.ToolTipRole)
    assert tip == PARAMETRIC_MISSING_TIP and "missing completely at random" in tip
    dialog.replicates.setValue(12)
    dialog.kind.setCurrentText("parametric")
    dialog.accept()
    qtbot.waitUntil(lambda: unc.result is not None, timeout=FIT_TIMEOUT_MS)
    assert window.messages.last_error == ""
    fitted = (snap.weights, snap.means, snap.covariances)
    want = engine.bootstrap(job.scene.points, fitted, job.config, 12, "parametric", job.config.seed)
    assert np.isnan(job.scene.points).any() and want.failed == 0 and unc.result.boot.kind == "parametric"
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(getattr(unc.result.boot, name), getattr(want, name))
    assert len(unc.layer.clouds) == 2 and window.table.errors is not None
    gallery = window.gallery_panel
    assert window.identifiability.start(5), window.messages.last_error
    qtbot.waitUntil(lambda: gallery.found is not None, timeout=FIT_TIMEOUT_MS)
    found = engine.gallery_identifiability(job.scene.points, gallery.gallery.solutions, job.config, 5)
    assert {k: v.solution for k, v in gallery.found.items()} == {k: v.solution for k, v in found.items()} != {}


@pytest.mark.parametrize("kind", ["nonparametric", "parametric"])
def test_a_sessions_bootstrap_of_missing_values_replays_in_the_window(qtbot, window, tmp_path, kind) -> None:
    """fit --missing em --bootstrap B --session opened in the window: its bootstrap run again from the replayed fit,
    each replicate missing-values EM (parametric: over simulated points missing the data's cells), with the saved
    standard errors (to replay's 1e-9 relative)."""
    path, session = tmp_path / "blank.csv", tmp_path / "boot.gmmsession"
    _blank_file(path)
    argv = ["fit", str(path), "-k", "2", "--missing", "em", "--bootstrap", "12", "--session", str(session), "--quiet"]
    assert cli([*argv, "--bootstrap-type", kind]) == 0
    part = json.loads(session.read_text())["bootstrap"]
    assert open_session(qtbot, window, session) == "converged"
    unc = window.uncertainty
    qtbot.waitUntil(lambda: unc.result is not None, timeout=FIT_TIMEOUT_MS)
    assert np.isnan(window.state.job.scene.points).any() and unc.result.boot.requested == 12
    assert unc.result.boot.kind == part["type"] == kind
    for name, se in unc.result.boot.standard_errors().items():
        saved = np.reshape(np.asarray(part["standard_errors"][name], dtype=np.float64), part["shapes"][name])
        np.testing.assert_allclose(se, saved, rtol=1e-9, atol=0)
    message = window.statusBar().currentMessage()
    assert message.startswith("session: reproduced the saved fit and its bootstrap's standard errors")


def test_the_column_picker_comes_first_and_the_question_only_for_chosen_columns_with_missing_cells(
    qtbot, window, tmp_path
) -> None:
    """A file of three columns, z missing in a quarter of its rows: the picker first; x and y chosen (complete):
    no question, the complete data; z chosen too: the question; cancelling the picker or the question keeps the data
    on screen; Fit them by EM: the three columns with NaN where z is blank."""
    x = engine.load("tests/data/old_faithful.csv").points
    z = x[:, 0].copy()
    z[::4] = np.nan
    data = np.column_stack([x, z])
    path = tmp_path / "xyz.csv"
    lines = ["eruptions,waiting,z"] + [",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in data]
    path.write_text("\n".join(lines) + "\n")
    picker = opened_dialog(qtbot, window, path, "column_picker")
    assert window.data.missing_question is None  # not asked before the columns are chosen
    picker.set_columns((0, 1), (0, 1))
    picker.accept()
    qtbot.waitUntil(
        lambda: window.state.dataset is not None and window.state.dataset.columns == ("eruptions", "waiting")
    )
    np.testing.assert_array_equal(window.state.dataset.points, x)  # complete: no question, no missing values
    assert window.data.missing_question is None and window.state.scene.ticks is None
    shown = window.state.dataset
    opened_dialog(qtbot, window, path, "column_picker").reject()  # cancelled: the data on screen stays
    assert window.state.dataset is shown and window.data.missing_question is None
    opened_dialog(qtbot, window, path, "column_picker").accept()  # the default: all three
    box = _question(qtbot, window, None)
    cells = int(np.isnan(z).sum())
    assert box.text() == (
        f"{path} has missing values: {cells} cells in {cells} rows.\n"
        "Missing values: fit them by EM (missing at random)?"
    )
    box.button(box.StandardButton.Cancel).click()  # cancelled: the data on screen stays
    assert window.state.dataset is shown
    opened_dialog(qtbot, window, path, "column_picker").accept()
    _question(qtbot, window, None).fit_button.click()
    qtbot.waitUntil(lambda: window.state.dataset is not shown and window.state.scene.ticks is not None, timeout=30_000)
    assert window.state.dataset.columns == ("eruptions", "waiting", "z")
    np.testing.assert_array_equal(window.state.dataset.points, data)


def test_the_question_counts_one_cell_in_one_row_in_the_singular(qtbot) -> None:
    from gui.views import dialogs

    box = dialogs.ask_missing(None, "one.csv", 1, 1)
    qtbot.addWidget(box)
    assert box.text().startswith("one.csv has missing values: 1 cell in 1 row.\n")
