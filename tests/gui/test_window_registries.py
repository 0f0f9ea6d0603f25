"""A toy algorithm registered in the engine (by the test only) appears in the window with no change to gui/:
in the panel's algorithm choice with its defaults and covariance types, and as a panel of the Compare tab."""

from __future__ import annotations

from dataclasses import replace

import engine
from engine.algorithms import Algorithm
from engine.inference.em import ExactEM
from gui.views.compare import NO_SHARED_TYPE

FIT_TIMEOUT_MS = 120_000


class ToyEM(ExactEM):
    """Exact EM under another name, with other defaults."""


TOY = Algorithm(
    "toy-em",
    ToyEM,
    "exact EM again, registered by a test",
    {**engine.ALGORITHMS["em"].defaults, "tol": 1e-3, "max_iter": 77},
    covariance_types=("diag",),
)


def test_a_registered_algorithm_is_in_the_panel_and_the_compare_tab(monkeypatch, make_window, qtbot) -> None:
    monkeypatch.setitem(engine.ALGORITHMS, "toy-em", TOY)
    window = make_window()
    combo = window.controls.algorithm
    assert [combo.itemText(i) for i in range(combo.count())] == list(engine.ALGORITHMS)
    window.controls.covariance.setCurrentText("tied")
    combo.setCurrentText("toy-em")
    assert window.controls.tol.placeholderText() == "default: 0.001"
    assert window.controls.max_iter.placeholderText() == "default: 77"
    assert window.controls.covariance.currentText() == "diag" and not window.controls.covariance.isEnabled()
    combo.setCurrentText("em")  # the user's own choice comes back
    assert window.controls.covariance.currentText() == "tied" and window.controls.covariance.isEnabled()
    assert list(window.compare.panels) == list(engine.ALGORITHMS)
    assert set(window.compare.time_curves) == set(engine.ALGORITHMS)
    # the toy fits diag only, the forum recipe full only: nothing to compare them on, and the tab says so
    assert window.compare.note.text() == NO_SHARED_TYPE
    window.compare_control.run()
    qtbot.waitUntil(lambda: window.messages.last_error == NO_SHARED_TYPE, timeout=30_000)


def test_the_compare_tab_runs_a_registered_algorithm(monkeypatch, make_window, qtbot) -> None:
    # full covariances (the comparison's) and exact EM's defaults: the toy gives em's answer
    monkeypatch.setitem(
        engine.ALGORITHMS, "toy-em", replace(TOY, covariance_types=None, defaults=engine.ALGORITHMS["em"].defaults)
    )
    monkeypatch.setitem(
        engine.ALGORITHMS,
        "gradient-em",
        replace(
            engine.ALGORITHMS["gradient-em"], defaults={**engine.ALGORITHMS["gradient-em"].defaults, "max_iter": 50}
        ),
    )
    monkeypatch.setitem(
        engine.ALGORITHMS,
        "marginal",
        replace(engine.ALGORITHMS["marginal"], defaults={**engine.ALGORITHMS["marginal"].defaults, "max_iter": 50}),
    )
    window = make_window()
    with qtbot.waitSignal(window.compare.finished, timeout=FIT_TIMEOUT_MS):
        window.compare_control.run()
    assert window.messages.last_error == ""
    toy, em = window.compare.last["toy-em"].snapshot, window.compare.last["em"].snapshot
    assert toy.config.algorithm == "toy-em" and toy.done
    assert toy.mean_log_likelihood == em.mean_log_likelihood
    assert "toy-em: " in window.compare.verdict.text()
