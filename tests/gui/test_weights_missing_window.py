"""A weights' column chosen in the column picker of a file whose fitted columns miss cells, or hold a word: the window
asks the missing-values question as it does without weights (the command line fits `--weights W --missing em`), and
a refused value is one line, never the loader's TypeError. The fit's reference is independent: SciPy's weighted
observed-data log-likelihood (each row's density of its observed coordinates, times its weight)."""

from __future__ import annotations

import numpy as np
from gui_helpers import opened_dialog, run_fit
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import engine

# measured: the window's log-likelihood against SciPy's weighted observed-data one of its parameters differed by
# 1.4e-16 relative (about -356); float64 sums in another order
TOL = 1e-10


def _table(path, blanks: bool = True, word: str = "") -> tuple[np.ndarray, np.ndarray]:
    """A CSV x,y,w of two clusters (60, 2) with whole weights 0..3 (60,); blanks: every 7th row misses x or y
    (never both); word: written in place of x on line 5. The values (NaN where blank) and the weights."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0.0, 1.0, (30, 2)), rng.normal([5.0, 3.0], 0.7, (30, 2))])
    w = rng.integers(0, 4, len(x)).astype(np.float64)
    if blanks:
        for i in range(2, len(x), 7):
            x[i, i % 2] = np.nan
    rows = [
        ["" if np.isnan(v) else repr(float(v)) for v in row] + [repr(float(c))] for row, c in zip(x, w, strict=True)
    ]
    if word:
        rows[3][0] = word
    path.write_text("\n".join(["x,y,w"] + [",".join(r) for r in rows]) + "\n")
    return x, w


def _question_after_picking_weights(qtbot, window, path):
    picker = opened_dialog(qtbot, window, path, "column_picker")
    picker.set_weights(2)
    picker.accept()
    return opened_dialog(qtbot, window, None, "missing_question")


def _weighted_observed_log_likelihood(x: np.ndarray, counts: np.ndarray, w, m, c) -> float:
    """sum over rows of count * log sum_k w_k N(x_o; m_o, c_oo): each row on its observed coordinates (SciPy)."""
    total = 0.0
    for row, count in zip(x, counts, strict=True):
        o = ~np.isnan(row)
        dens = [np.log(w[k]) + multivariate_normal(m[k][o], c[k][np.ix_(o, o)]).logpdf(row[o]) for k in range(len(w))]
        total += count * logsumexp(dens)
    return total


def test_missing_cells_beside_weights_ask_and_fit_by_em_with_the_weights(qtbot, window, tmp_path) -> None:
    path = tmp_path / "xyw.csv"
    x, w = _table(path)
    window.messages.last_error = ""
    box = _question_after_picking_weights(qtbot, window, path)
    cells = int(np.isnan(x).sum())
    assert box.text().startswith(f"{path} has missing values: {cells} cells in {cells} rows.")
    box.fit_button.click()
    qtbot.waitUntil(lambda: window.state.weights is not None and window.state.scene.ticks is not None, timeout=30_000)
    assert window.messages.last_error == ""
    np.testing.assert_array_equal(window.state.dataset.points, x)  # NaN where blank
    np.testing.assert_array_equal(window.state.weights.values, w)
    start = engine.InitParams.from_arrays([0.5, 0.5], [[0.0, 0.0], [4.0, 2.0]], [np.eye(2), np.eye(2)])
    window.controls.set_imported(start, "a start for the test")
    assert run_fit(qtbot, window, k=2, tol="0", max_iter="5") == "max_iter"
    snap = window.state.frame.snapshot
    assert snap.n_counted == w.sum()
    ll = _weighted_observed_log_likelihood(x, w, snap.weights, snap.means, snap.covariances)
    assert abs(snap.log_likelihood - ll) <= TOL * abs(ll)


def test_the_question_cancelled_keeps_the_data_and_names_the_cell_in_the_windows_words(qtbot, window, tmp_path) -> None:
    window.data.show_demo()
    before = window.state.dataset
    path = tmp_path / "xyw.csv"
    _table(path)
    box = _question_after_picking_weights(qtbot, window, path)
    box.button(box.StandardButton.Cancel).click()
    note = window.statusBar().currentMessage()
    assert window.state.dataset is before and window.state.weights is None
    assert note.startswith(f"opening {path} was cancelled: the data on screen stays. {path}: line 4, column 0 ('x')")
    assert "memory limit" not in note and "--missing" not in note  # the file is in memory: no advice to read it so


def test_a_word_in_a_fitted_column_beside_weights_is_one_line(qtbot, window, tmp_path) -> None:
    path = tmp_path / "word.csv"
    _table(path, blanks=False, word="abc")
    before = window.state.dataset
    window.messages.last_error = ""
    window.data.open_path(str(path), [0, 1], weights=2)
    qtbot.waitUntil(lambda: window.messages.last_error != "", timeout=30_000)
    message = window.messages.last_error
    assert message.startswith(f"{path}: line 5, column 0 ('x'): value 'abc' is not a number: fix or remove that row")
    assert "\n" not in message and "Error" not in message
    assert window.state.dataset is before and window.state.weights is None
