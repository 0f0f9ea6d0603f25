"""Issue 24 in the window: mclust's default prior and its hc start, chosen in the Model panel (Run/Step) and in the
Model selection tab. The prior is refused, with why, where mclust fits none (VEE, EVE, VVE, EVV), for algorithms
other than exact EM and for data read by chunks; the choice comes back once the setting allows it. A selection run
with the prior leaves the four models out and says so; new data drops a run's late entries."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pyqtgraph as pg
import pytest
from gui_helpers import choose_selection
from PySide6.QtCore import QSettings

import engine
from gui.views.controls import ControlPanel
from gui.views.model_choices import PRIOR_ITEMS, STREAMED_PRIOR
from gui.views.selection_view import SelectionView

MCLUST = Path(__file__).resolve().parents[1] / "data" / "mclust"
# the converged BIC of mclust 6's `mclustBIC(faithful, G = 3, prior = priorControl())` (make_prior_reference.R),
# in mclust's sign; ours is its negative. The bound: 0.01
with open(MCLUST / "mclust_prior_faithful_k3.csv", newline="") as f:
    MCLUST_PRIOR_K3 = {r["model"]: float(r["bic_converged"]) for r in csv.DictReader(f) if r["bic_converged"] != "NA"}


@pytest.fixture
def panel(qtbot) -> ControlPanel:
    from gui.app import make_app

    make_app()
    p = ControlPanel()
    qtbot.addWidget(p)
    return p


def _choose_prior(combo) -> None:
    """As a user picks "mclust's default" from the list (`activated` is the user's signal)."""
    combo.setCurrentIndex(1)
    combo.activated.emit(1)


def test_the_panels_prior_goes_into_the_fit_config(panel) -> None:
    panel.covariance.setCurrentText("tied")  # EEE
    panel.init.setCurrentText("hc")
    assert panel.config().prior is None  # none by default: maximum likelihood
    _choose_prior(panel.prior)
    cfg = panel.config()
    assert (cfg.prior, cfg.init, cfg.covariance_type) == ("default", "hc", "tied")
    assert "hc" in panel.init.toolTip()


@pytest.mark.parametrize("model", engine.NO_PRIOR_MODELS)
def test_the_prior_is_refused_with_why_for_the_four_models_and_comes_back(panel, model) -> None:
    _choose_prior(panel.prior)
    panel.covariance.setCurrentText(model)
    assert not panel.prior.isEnabled() and panel.prior.currentText() == "none"
    assert f"mclust fits no prior for {model}" in panel.prior.toolTip()
    assert panel.config().prior is None  # a valid config: Run fits it by maximum likelihood, no error
    panel.covariance.setCurrentText("full")  # VVV: mclust fits a prior for it
    assert panel.prior.isEnabled() and panel.prior.currentText() == PRIOR_ITEMS[1]
    assert panel.config().prior == "default"


def test_the_prior_is_refused_for_other_algorithms_and_for_data_read_by_chunks(panel) -> None:
    _choose_prior(panel.prior)
    other = next(a for a in engine.ALGORITHMS if a != "em")
    panel.algorithm.setCurrentText(other)
    assert not panel.prior.isEnabled() and "exact EM" in panel.prior.toolTip()
    panel.algorithm.setCurrentText("em")
    panel.covariance.setCurrentText("full")
    assert panel.config().prior == "default"
    panel.set_streamed(True)
    assert not panel.prior.isEnabled() and panel.prior.toolTip() == f"No prior: {STREAMED_PRIOR}"
    assert panel.config().prior is None
    panel.set_streamed(False)
    assert panel.config().prior == "default"


def test_the_prior_choice_is_saved_and_a_session_sets_it(panel, qtbot, tmp_path) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    _choose_prior(panel.prior)
    panel.covariance.setCurrentText("VVE")  # refused now: the choice itself is what is saved
    panel.save(settings)
    other = ControlPanel()
    qtbot.addWidget(other)
    other.restore(settings)
    assert other.prior.wanted == 1 and other.config().prior is None  # VVE restored too: refused there
    other.covariance.setCurrentText("full")
    assert other.config().prior == "default"
    third = ControlPanel()
    qtbot.addWidget(third)
    third.apply_config(replace(other.config(), covariance_type="tied"))
    assert third.config().prior == "default"
    third.show_fit_settings(replace(third.config(), prior=None))  # a fit loaded from a selection without it
    assert third.config().prior is None


@pytest.fixture
def view(qtbot) -> SelectionView:
    from gui.app import make_app

    make_app()
    v = SelectionView()
    qtbot.addWidget(v)
    return v


def test_the_selections_prior_leaves_the_four_models_out(view) -> None:
    for box in view.types.values():
        box.setChecked(True)
    assert len(view.grid_types()[0]) == len(engine.MCLUST_MODELS)
    _choose_prior(view.prior)
    types, left_out = view.grid_types()
    assert sorted(left_out) == sorted(engine.NO_PRIOR_MODELS)
    assert sorted(engine.COVARIANCE_TYPES[t].model for t in types) == sorted(engine.PRIOR_MODELS)
    for name, box in view.types.items():
        refused = view.legend.models[name] in engine.NO_PRIOR_MODELS
        assert box.isEnabled() != refused and box.isChecked()  # greyed, the tick kept for later
        assert ("mclust fits no prior" in box.toolTip()) == refused
    view.set_streamed(True)  # the prior needs the data in memory
    assert not view.prior.isEnabled() and view.grid_types()[1] == []
    assert all(box.isEnabled() for box in view.types.values())


def test_new_data_drops_a_running_selections_late_entries(view) -> None:
    """Entries of a run already on their way when the data changes (queued by the sweep's thread) are not drawn
    over the new data."""
    from test_model_selection_chart import _entries

    view._run_id, view._cancel = 7, engine.CancelToken()  # a run going on
    view.run_button.setEnabled(False)
    late = _entries(list(engine.MCLUST_MODELS), list(engine.MCLUST_MODELS))[:3]
    view.clear()
    for entry in late:
        view._entry(7, entry)
    view._finished(7)
    view._redraw()
    assert view.entries == [] and view.best.text() == ""
    assert all(len(c.getData()[0] or []) == 0 for c in view.curves.values())
    assert not view.running and view.run_button.isEnabled()


def test_a_selection_with_the_prior_in_the_window(qtbot, window) -> None:
    """Old Faithful at K = 3, every model ticked, the prior and the hc start chosen in the tab: ten fits, the four
    said left out, each BIC mclust's converged one within 0.01 (the issue's bound)."""
    from data_sets import OLD_FAITHFUL

    window.data.open_path(str(OLD_FAITHFUL), [1, 2])
    qtbot.waitUntil(lambda: window.state.scene is not None and len(window.state.scene.points) == 272, timeout=30_000)
    view = window.selection
    view.k_from.setValue(3)
    view.k_to.setValue(3)
    view.restarts.setValue(1)
    view.init.setCurrentText("hc")
    _choose_prior(view.prior)
    window.controls.tol.setText("1e-10")  # mclust's converged numbers
    window.controls.max_iter.setText("5000")
    window.selection_control.run()
    qtbot.waitUntil(lambda: not view.running and len(view.entries) == 10, timeout=120_000)
    assert "VEE, EVE, VVE, EVV left out (mclust fits no prior for them)" in view.best.text()
    got = {engine.COVARIANCE_TYPES[e.covariance_type].model: e for e in view.entries}
    assert sorted(got) == sorted(engine.PRIOR_MODELS)
    for model, bic in MCLUST_PRIOR_K3.items():
        assert got[model].bic == pytest.approx(-bic, abs=0.01), model
    assert got["EEE"].snapshot.config.prior == "default" and got["EEE"].snapshot.config.init == "hc"


def test_the_prior_with_another_algorithm_is_one_message(qtbot, window) -> None:
    window.data.show_demo()
    qtbot.waitUntil(lambda: window.state.has_points, timeout=30_000)
    window.controls.algorithm.setCurrentText(next(a for a in engine.ALGORITHMS if a != "em"))
    window.controls.covariance.setCurrentText("full")
    _choose_prior(window.selection.prior)
    window.selection_control.run()
    assert "the prior is fitted by exact EM" in window.messages.last_error
    assert not window.selection.running


def test_a_redraw_sets_again_only_the_lines_that_changed(view) -> None:
    """Entries of a batched run arrive in bursts: a redraw leaves the lines whose points did not change alone, and
    a changed line's points are the new entries (a click loads them)."""
    from test_model_selection_chart import _entries

    entries = _entries(list(engine.MCLUST_MODELS), list(engine.MCLUST_MODELS))
    view.show_entries(entries)
    changed: list[str] = []
    for name, curve in view.curves.items():
        curve.sigPlotChanged.connect(lambda _item, name=name: changed.append(name))
    view.show_entries(list(entries))  # the same entries again
    assert changed == []
    moved = replace(entries[0], bic=entries[0].bic + 1.0)  # one model's K = 1 fit, a little worse
    view.show_entries([moved, *entries[1:]])
    assert set(changed) == {moved.covariance_type}
    assert view.curves[moved.covariance_type].scatter.data["data"][0] is moved


def test_a_hidden_table_is_filled_when_shown_or_when_the_run_ends(view) -> None:
    from test_model_selection_chart import _entries

    entries = _entries(list(engine.MCLUST_MODELS), list(engine.MCLUST_MODELS))
    view._run_id, view._cancel = 3, engine.CancelToken()  # a run going on, the chart shown
    for entry in entries[:20]:
        view._entry(3, entry)
    view._redraw()
    view.flush()
    assert view.table.rowCount() == 0 and len(view.curves) > 0
    view.views.setCurrentWidget(view.table)
    view.flush()
    assert view.table.rowCount() == 20
    view.views.setCurrentWidget(view.chart)
    view._entry(3, entries[20])
    view._finished(3)
    view.flush()
    assert view.table.rowCount() == 21 and not view.running


def test_fourteen_models_on_old_faithful_give_mclusts_choices(qtbot, window) -> None:
    """Every model ticked, K = 1..9, two restarts from the hc start: mclust's answers, EEE,3 by BIC and VVE,2 by
    ICL (the issue's statement of Mclust(faithful))."""
    from data_sets import OLD_FAITHFUL

    window.data.open_path(str(OLD_FAITHFUL), [1, 2])
    qtbot.waitUntil(lambda: window.state.scene is not None and len(window.state.scene.points) == 272, timeout=30_000)
    view = choose_selection(window, 1, 9, restarts=2)
    view.init.setCurrentText("hc")
    window.selection_control.run()
    qtbot.waitUntil(lambda: not view.running and len(view.entries) == 14 * 9, timeout=300_000)
    assert view.best.text().startswith("Best by BIC: EEE,3 (tied)")
    assert "By ICL: VVE,2." in view.best.text()
    view.criterion.setCurrentText("ICL")
    qtbot.waitUntil(lambda: not view.drawing, timeout=10_000)
    assert view.best.text().startswith("Best by ICL: VVE,2")
    assert view.chart.highlighted[0] == "VVE" and len(view.chart.labels) == 3


def test_run_fits_the_panels_prior(qtbot, window) -> None:
    """Run with the panel's prior: the fit shown is the engine's MAP fit of that config (the same log-likelihood)."""
    from data_sets import OLD_FAITHFUL
    from gui_helpers import run_fit

    window.data.open_path(str(OLD_FAITHFUL), [1, 2])
    qtbot.waitUntil(lambda: window.state.scene is not None and len(window.state.scene.points) == 272, timeout=30_000)
    _choose_prior(window.controls.prior)
    assert run_fit(qtbot, window, k=3, covariance="tied", init="hc") == "converged"
    shown = window.state.frame.snapshot
    assert shown.config.prior == "default"
    *_, alone = engine.fit(window.state.scene.points, window.controls.config())
    assert shown.log_likelihood == pytest.approx(alone.log_likelihood, rel=1e-12)


def test_a_runs_lines_are_made_when_it_starts(qtbot, view) -> None:
    """Every model a run fits has its (empty, thin) line once Run is clicked: the first entries, which come while
    the sweep still computes, only fill them."""
    from gui.views.selection_chart import THIN

    ended: list[str] = []
    view.failed.connect(lambda message, _internal: ended.append(message))

    def no_data(_report, _cells):
        raise engine.UserError("no data this time")

    for name, box in view.types.items():
        box.setChecked(view.legend.models[name] in ("EEE", "VVE", "EII"))
    view.start(no_data, engine.FitConfig())
    assert sorted(c.model for c in view.curves.values()) == ["EEE", "EII", "VVE"]
    assert all(c.opts["pen"].widthF() == THIN and len(c.getData()[0] or []) == 0 for c in view.curves.values())
    qtbot.waitUntil(lambda: not view.running, timeout=60_000)
    assert ended == ["no data this time"]


def test_new_data_leaves_no_label_of_the_old_selection(view) -> None:
    """Seen in a screenshot: after a selection, new data emptied the chart but left 'VVV,2', 'EEV,3' and 'EEE,3'
    floating over it."""
    from test_model_selection_chart import _entries

    view.show_entries(_entries(list(engine.MCLUST_MODELS), list(engine.MCLUST_MODELS)))
    assert len(view.chart.labels) == 3
    view.clear()
    assert view.chart.labels == [] and not any(isinstance(i, pg.TextItem) for i in view.chart.plotItem.items)
    view.show_entries(_entries(list(engine.MCLUST_MODELS), list(engine.MCLUST_MODELS)))  # and they come back
    assert [label.toPlainText() for label in view.chart.labels] == ["EII,3", "VII,3", "EEI,3"]


def test_a_prior_with_only_the_four_models_ticked_is_one_message(qtbot, window) -> None:
    """Not EII (the first model) fitted in their place: the user is told what to change."""
    window.data.show_demo()
    qtbot.waitUntil(lambda: window.state.has_points, timeout=30_000)
    view = window.selection
    for name, box in view.types.items():
        box.setChecked(view.legend.models[name] in ("VVE", "EVV"))
    _choose_prior(view.prior)
    window.selection_control.run()
    assert window.messages.last_error.startswith("mclust fits no prior for VVE, EVV: tick a model")
    assert not view.running and view.entries == []
