"""The model legend in a small window (issue 24, window): at 900 x 600 it took 48% of the selection tab's width (its
names with their glyphs and sklearn names: 215 px of 451) and squeezed the chart to its minimum. Where the full
legend would take more than LEGEND_SHARE of the tab it is compact: the mclust names and the line samples, the rest
in the tooltips. Checked in the real window at 1600 x 1000, 900 x 600 and its minimum size."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

import engine
from gui.views.selection_view import CHART_MIN_WIDTH, LEGEND_SHARE

SIZES = ((1600, 1000), (900, 600), (1, 1))  # (1, 1): the window's minimum size


def _show(window, size: tuple[int, int]) -> None:
    window.resize(*size)
    for _ in range(5):
        QApplication.processEvents()


def _names_fit(legend) -> bool:
    """Every row is whole in the legend: no sideways scroll bar, each box as wide as its text and icon need."""
    return not legend.horizontalScrollBar().isVisible() and all(
        box.width() >= box.sizeHint().width() for box in legend.boxes.values()
    )


@pytest.mark.parametrize("size", SIZES)
def test_the_legend_leaves_the_chart_its_room(window, size) -> None:
    window.tabs.setCurrentWidget(window.selection)
    _show(window, size)
    view, legend = window.selection, window.selection.legend
    assert legend.isVisible() and view.chart.isVisible()
    compact = size != SIZES[0]
    # the full legend where it takes at most LEGEND_SHARE of the tab; the compact one, at the smallest tab, a third
    assert legend.width() <= (view.width() / 3 if compact else LEGEND_SHARE * view.width()), (legend, view.width())
    assert view.chart.width() >= max(CHART_MIN_WIDTH, 0.6 * view.width())
    assert _names_fit(legend)
    assert legend.compact == compact
    for name, box in legend.boxes.items():
        model = legend.models[name]
        assert box.text() == (model if compact or name == model else f"{model} ({name})")
        assert box.toolTip().startswith(model if name == model else f"{model} ({name}):")  # the tooltip says all
    assert legend.key.isVisible() == (not compact)


def test_the_legend_comes_back_whole_and_keeps_the_ticks(window) -> None:
    """Small, then large again: the full rows (names, glyphs) and the user's ticks as they were."""
    window.tabs.setCurrentWidget(window.selection)
    view = window.selection
    ticked = {name: i % 2 == 0 for i, name in enumerate(view.types)}
    for name, box in view.types.items():
        box.setChecked(ticked[name])
    _show(window, (900, 600))
    assert view.legend.compact
    icon_widths = {name: box.iconSize().width() for name, box in view.types.items()}
    _show(window, (1600, 1000))
    assert not view.legend.compact and _names_fit(view.legend)
    assert all(box.iconSize().width() > icon_widths[name] for name, box in view.types.items())  # the glyph again
    assert {name: box.isChecked() for name, box in view.types.items()} == ticked
    assert view.grid_types()[0] == [name for name in engine.COVARIANCE_TYPES if ticked[name]]
