"""One stable colour per component index (tab10, then evenly spaced hues)."""

from __future__ import annotations

from PySide6.QtGui import QColor

_BASE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
UNFITTED = QColor("#6b7a8f")  # points before any fit


# Lines of a chart that compares things (algorithms): dark and saturated, apart from the component colours.
_SERIES = ("#1f4e79", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#2c3e50")


def series_color(i: int) -> QColor:
    """Colour of the i-th compared series (the i-th registered algorithm)."""
    return QColor(_SERIES[i]) if i < len(_SERIES) else component_color(i)


def component_color(k: int) -> QColor:
    """Colour of component k: the same in the plot, the table and every export."""
    if k < len(_BASE):
        return QColor(_BASE[k])
    golden = 0.618033988749895
    return QColor.fromHsvF(((k - len(_BASE)) * golden) % 1.0, 0.75, 0.85)
