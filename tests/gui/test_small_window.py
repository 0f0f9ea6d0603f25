"""The window at 640 x 490 (issue 22, "Also seen"): every part keeps its own room. The Controls dock does not
scroll sideways, the timeline slider is a slider, the Compare verdict does not cover its charts, the selection chart
is a chart whose axis label fits and whose legend covers no point; the log-likelihood chart shows iteration 0."""

from __future__ import annotations

from gui_helpers import two_clusters
from PySide6.QtCore import QPointF, QRect, QRectF
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QWidget

import engine
from gui.views.selection_view import CHART_MIN_HEIGHT
from gui.views.timeline import SLIDER_MIN_WIDTH

SMALL = (640, 490)
LONG_VERDICT = (
    "Mean log-likelihood per point — em: -4.56786 after 224 iterations (0.4 s); gradient-em: -4.56844 after 10000 "
    "iterations (253.3 s); marginal: -4.56785 after 220 iterations (4.8 s). gradient-em: its means moved at most "
    "0.0012 per iteration; to reach em's answer, component 1's mean had to travel 2.10 from its start (at least "
    "1750 iterations at that speed) and is still 0.07 away."
)


def _small(window, tab: int | None = None) -> None:
    if tab is not None:
        window.tabs.setCurrentIndex(tab)
    window.resize(*SMALL)
    for _ in range(5):
        QApplication.processEvents()


def _rect(widget: QWidget, window) -> QRect:
    """The widget's rectangle in the window's coordinates."""
    return QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())


def test_the_controls_dock_scrolls_up_and_down_only(window) -> None:
    _small(window)
    assert (window.width(), window.height()) == SMALL  # the window can be that small
    scroll = window.controls_scroll
    assert not scroll.horizontalScrollBar().isVisible()
    assert scroll.viewport().width() >= window.controls.minimumSizeHint().width()  # no field cut at the right


def test_the_timeline_slider_keeps_a_usable_length(window) -> None:
    """The slider was squeezed to 15 px beside its label and buttons: in a small window the buttons go under it."""
    timeline = window.timeline
    assert not timeline.two_rows  # a large window: one row
    _small(window)
    assert timeline.two_rows
    assert (
        timeline.slider.width() >= SLIDER_MIN_WIDTH and timeline.slider.height() >= timeline.slider.sizeHint().height()
    )
    parts = [timeline.slider, timeline.label, timeline.show_paths, timeline.edit_start, timeline.live_button]
    parts.append(timeline.continue_button)
    for i, a in enumerate(parts):
        assert timeline.rect().contains(a.geometry()), a  # nothing cut off
        for b in parts[i + 1 :]:
            assert not a.geometry().intersects(b.geometry()), (a, b)


def test_the_compare_verdict_does_not_cover_its_charts(window) -> None:
    _small(window, tab=window.tabs.indexOf(window.compare))
    compare = window.compare
    compare.verdict.setText(LONG_VERDICT)
    QApplication.processEvents()
    verdict_box = compare.verdict.parentWidget().parentWidget()  # the label's scroll area
    box = _rect(verdict_box, window)
    for chart in (compare.by_time, compare.by_iter, *(p.plot for p in compare.panels.values())):
        assert not box.intersects(_rect(chart, window)), chart
    assert verdict_box.height() >= 3 * compare.verdict.fontMetrics().lineSpacing()


def test_the_selection_chart_is_a_chart_with_its_whole_axis_label(window) -> None:
    _small(window, tab=window.tabs.indexOf(window.selection))
    view = window.selection
    assert view.chart.height() >= CHART_MIN_HEIGHT
    axis = view.chart.getAxis("left")
    text = axis.label.toPlainText().strip()
    assert text == "BIC"
    # the rotated label runs along the axis: its text fits the axis' length
    assert QFontMetrics(axis.label.font()).horizontalAdvance(text) <= axis.size().height()
    assert view.chart.plotItem.legend is None  # the type check boxes are the legend, outside the chart
    assert all(not box.icon().isNull() for box in view.types.values())


def test_the_log_likelihood_chart_shows_iteration_0(qtbot, window) -> None:
    """Reset shows the start (iteration 0) paused: one log-likelihood, drawn as a dot (a line needs two)."""
    window.run_control.reset()
    qtbot.waitUntil(lambda: window.state.frame is not None, timeout=60_000)
    assert window.state.frame.snapshot.iteration == 0
    x, y = window.ll_curve.getData()
    assert list(x) == [0] and y[0] == window.state.frame.snapshot.mean_log_likelihood
    assert window.ll_curve.opts["symbol"] == "o"
    window.run_control.step()
    qtbot.waitUntil(lambda: window.state.frame.snapshot.iteration == 1, timeout=60_000)
    assert len(window.ll_curve.getData()[0]) == 2 and window.ll_curve.opts["symbol"] is None  # a line now


def test_at_its_minimum_size_the_log_likelihood_chart_shows_both_axis_titles_whole(window) -> None:
    """The chart was squeezed to a strip (55 px) under the plot: its x-axis title and values below its edge, its
    y-axis title cut; the lower panel keeps the chart's least height, and the chart is not scrolled out of sight."""
    window.resize(1, 1)  # the window's minimum size
    for _ in range(5):
        QApplication.processEvents()
    assert window.height() <= SMALL[1]  # still smaller than the small window above
    chart = window.ll_plot
    assert window.lower.verticalScrollBar().value() == 0
    assert _rect(chart, window).bottom() <= _rect(window.lower.viewport(), window).bottom()  # the chart in sight
    bottom, left = chart.getAxis("bottom"), chart.getAxis("left")
    assert bottom.label.toPlainText().strip() == "iteration"
    assert bottom.mapRectToScene(bottom.boundingRect()).bottom() <= chart.height()  # the x title inside the chart
    text = left.label.toPlainText().strip()
    assert QFontMetrics(left.label.font()).horizontalAdvance(text) <= left.size().height()  # the y title whole


def test_a_status_note_longer_than_the_bar_is_whole_in_its_tooltip(window) -> None:
    """A new user could not read the end of a long note (cut where the bar's fit state begins)."""
    _small(window)
    note = "identifiable: " + ", ".join(f"component {k} 98%" for k in range(12))
    window.messages.note(note)
    bar = window.statusBar()
    assert bar.fontMetrics().horizontalAdvance(note) > bar.width()  # cut on the bar
    assert bar.currentMessage() == note and bar.toolTip() == note


def test_the_timeline_label_ends_in_an_ellipsis_where_it_is_narrow(window) -> None:
    """At the minimum size 'live: iteration 224 · its restart stopped at iteration 56' was cut mid-word at the edge."""
    _small(window)
    timeline = window.timeline
    timeline.show_position(224, 3, True, own=56)
    QApplication.processEvents()
    full = "live: iteration 224 · restart 3 · its restart stopped at iteration 56"
    assert timeline.label.text() == full and timeline.label.toolTip() == full
    shown = timeline.label.shown_text()
    assert shown.endswith("…") and full.startswith(shown[:-1])
    assert timeline.label.fontMetrics().horizontalAdvance(shown) <= timeline.label.contentsRect().width()


LONG_X = "eruption duration in minutes measured by the ranger on duty at Old Faithful <geyser> & co"
LONG_Y = "waiting time to the next eruption in minutes, from the end of the last one"


def _long_names(qtbot, window, offset: float = 0.0) -> None:
    """Two clusters whose columns have long names (with '<', '>' and '&', shown as written), about offset."""
    x = two_clusters(3, 200) + offset
    window.data.set_dataset(engine.Dataset(x, (LONG_X, LONG_Y), (0, 1), "long names"))
    qtbot.waitUntil(lambda: window.state.dataset.source == "long names" and window.state.scene is not None)


def _titles(window) -> list[tuple[str, str, float, float]]:
    """The plot's x and y titles: (as drawn, tooltip, drawn length, the axis's length)."""
    plot = window.plot.plotItem
    out = []
    for side, length in (("bottom", "width"), ("left", "height")):
        axis = plot.getAxis(side)
        out.append((axis.label.toPlainText(), axis.label.toolTip(), axis.label.boundingRect().width()))
        out[-1] += (getattr(axis.size(), length)(),)
    return out


def test_a_long_column_name_as_the_plots_axis_title_ends_in_an_ellipsis_and_is_whole_in_its_tooltip(
    qtbot, window
) -> None:
    """At the window's minimum size a long name was centred on the axis and cut at both ends by the plot's edges:
    now it ends in '…' inside the axis, the whole name in the title's tooltip; in a large window it is whole (no
    tooltip)."""
    _long_names(qtbot, window)
    window.resize(1, 1)  # the window's minimum size
    for _ in range(5):
        QApplication.processEvents()
    for (shown, tip, drawn, length), name in zip(_titles(window), (LONG_X, LONG_Y), strict=True):
        assert shown.endswith("…") and len(shown) > 10 and name.startswith(shown[:-1]), shown
        assert drawn <= length and tip == name
    window.resize(1600, 1000)
    for _ in range(5):
        QApplication.processEvents()
    for (shown, tip, drawn, length), name in zip(_titles(window), (LONG_X, LONG_Y), strict=True):
        assert (shown, tip) == (name, "") and drawn <= length


def test_an_elided_axis_title_keeps_its_offset_whole(qtbot, window) -> None:
    """Data about 1e8 is drawn less an offset the title names ('name − 100000000'): the name is cut, the offset is
    not (the ticks read wrong without it), in the plot and in Compare's panels."""
    _long_names(qtbot, window, offset=1e8)
    note = window.plot.display.offset_note(0)
    assert note.startswith(" − ")
    window.resize(1, 1)
    for _ in range(5):
        QApplication.processEvents()
    (shown, tip, drawn, length), _ = _titles(window)
    assert shown.endswith("…" + note) and LONG_X.startswith(shown[: -len(note) - 1])
    assert tip == LONG_X + note and drawn <= length
    window.resize(1100, 700)  # Compare's three panels side by side, 117 px wide: the name cut to its first letter
    window.tabs.setCurrentIndex(window.tabs.indexOf(window.compare))  # its panels title an offset only
    for _ in range(5):
        QApplication.processEvents()
    for panel in window.compare.panels.values():
        axis = panel.plot.getAxis("bottom")
        shown, drawn = axis.label.toPlainText(), axis.label.boundingRect().width()
        assert shown.endswith("…" + note) and drawn <= axis.width() and axis.label.toolTip() == LONG_X + note


def test_a_new_title_is_centred_on_its_axis(qtbot, window) -> None:
    """A longer title set with no resize kept the old title's place (pyqtgraph places it at resizes only): a long
    name started at the middle of the x axis and ran off its right end, and on the y axis off its top."""
    window.resize(1600, 1000)  # room for both names whole: nothing elided, nothing resized by the new names
    for _ in range(5):
        QApplication.processEvents()
    _long_names(qtbot, window)
    for _ in range(5):
        QApplication.processEvents()
    plot = window.plot.plotItem
    for side, along in (("bottom", "x"), ("left", "y")):
        axis = plot.getAxis(side)
        title = axis.label.mapRectToScene(axis.label.boundingRect())
        span = axis.mapRectToScene(QRectF(QPointF(0, 0), axis.size()))
        centre = {"x": (title.center().x(), span.center().x()), "y": (title.center().y(), span.center().y())}[along]
        assert abs(centre[0] - centre[1]) <= 2, (side, title, span)
        assert axis.label.toPlainText() in (LONG_X, LONG_Y)  # whole: the test is of its place, not of its cut
