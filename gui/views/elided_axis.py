"""An axis whose title ends in '…' where the axis is shorter than it, the whole title in the title's tooltip.

pyqtgraph centres an axis's title on the axis and lets the view clip it, so a long column name lost both ends at the
window's minimum size ('…duration in minutes measured by the ranger on duty at Old F'). Its title is also HTML,
where a name with '<' or '&' would be markup: this axis writes the name as text.
"""

from __future__ import annotations

import html

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetricsF


class ElidedAxis(pg.AxisItem):
    """A pg.AxisItem whose title (set_title: a name and a note kept whole after it; no units: the plots' axes take
    none) is elided at the name's end to the axis's length (its width at the bottom or top, its height at the left
    or right), again at every resize; the title's tooltip holds the whole title when it is cut, else none."""

    def __init__(self, orientation: str, **kwargs) -> None:
        self._kept = ""  # the end of the title that is never elided (set_title's note)
        self._shown = ""  # the title as drawn (the whole of it, or the name's start, '…' and the note): labelString
        super().__init__(orientation, **kwargs)

    def set_title(self, name: str, note: str = "") -> None:
        """The title: name, then note (a display offset, " − 1e+08"), which stays whole when the name is cut."""
        self._kept = note
        self.setLabel(name + note)

    def labelString(self) -> str:  # noqa: N802 - pyqtgraph's name
        """The title, elided to the axis's length, as HTML text in the axis's style (pyqtgraph's span)."""
        self._shown = self._elided()
        if self.label is not None:
            self.label.setToolTip(self.labelText if self._shown != self.labelText else "")
        style = ";".join(f"{k}: {v}" for k, v in self.labelStyle.items())
        return f"<span style='{style}'>{html.escape(self._shown)}</span>"

    def _updateLabel(self) -> None:  # noqa: N802 - pyqtgraph's name
        """The new title, placed again: pyqtgraph centres a title at resizes only, so a longer one set without a
        resize kept the old one's place (from the middle of the axis on, off its end)."""
        super()._updateLabel()
        pg.AxisItem.resizeEvent(self)  # the placing alone (this class's resizeEvent may set the title again)

    def resizeEvent(self, ev=None) -> None:  # noqa: N802 - Qt's name
        if self.label is not None and self._elided() != self._shown:  # a new length cuts it elsewhere: set it again
            self._updateLabel()
        super().resizeEvent(ev)

    def _elided(self) -> str:
        """The title cut to fit the axis's length less the title's margins: the whole of it when that fits, else the
        name elided and the note (a title set by setLabel alone: all of it elided)."""
        text = self.labelText
        if self.label is None or not text:
            return text
        size = self.size()
        length = size.width() if self.orientation in ("bottom", "top") else size.height()
        room = length - 2 * self.label.document().documentMargin()
        metrics = QFontMetricsF(self.label.font())
        if room <= 0 or metrics.horizontalAdvance(text) <= room:  # room <= 0: not laid out yet, cut at its resize
            return text
        kept = self._kept if self._kept and text.endswith(self._kept) else ""
        name = text[: len(text) - len(kept)]
        return (
            metrics.elidedText(name, Qt.TextElideMode.ElideRight, max(room - metrics.horizontalAdvance(kept), 0)) + kept
        )
