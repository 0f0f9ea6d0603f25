"""The window's status bar: a note longer than the room left of the fit's labels ends in '…' there (Qt cut it
mid-letter, against the 'converged' label); the whole note is in the bar's tooltip (Messages.note)."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QStatusBar, QStyle, QStyleOption, QWidget

MESSAGE_LEFT = 6  # pixels: where Qt's status bar starts its message
GAP = 12  # pixels between a note's end and the first permanent label (the fit's state)


class StatusBar(QStatusBar):
    """A QStatusBar that elides its temporary message to the room left of its permanent widgets."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._permanent: list[QWidget] = []

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:  # noqa: N802 - Qt's name
        super().addPermanentWidget(widget, stretch)
        self._permanent.append(widget)

    def message_rect(self) -> QRect:
        """Where the message is drawn: from Qt's left margin to GAP before the first permanent widget shown."""
        shown = [w.x() for w in self._permanent if w.isVisible()]
        right = min(shown) - GAP if shown else self.width() - 2 * MESSAGE_LEFT
        return QRect(MESSAGE_LEFT, 0, max(right - MESSAGE_LEFT, 0), self.height())

    def shown_message(self) -> str:
        """The message as drawn: whole, or cut at its end with '…' to message_rect's width."""
        width = self.message_rect().width()
        return self.fontMetrics().elidedText(self.currentMessage(), Qt.TextElideMode.ElideRight, width)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """As QStatusBar paints (its panel, the permanent widgets' frames, the message), the message elided."""
        if not self.currentMessage():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        style = self.style()
        option = QStyleOption()
        option.initFrom(self)
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelStatusBar, option, painter, self)
        for widget in self._permanent:
            if widget.isVisible():
                frame = QStyleOption()
                frame.rect = widget.geometry().adjusted(-2, -1, 2, 1)
                frame.palette = self.palette()
                frame.state = QStyle.StateFlag.State_None
                style.drawPrimitive(QStyle.PrimitiveElement.PE_FrameStatusBarItem, frame, painter, widget)
        painter.setPen(self.palette().windowText().color())
        flags = Qt.AlignmentFlag.AlignLeading | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextSingleLine
        painter.drawText(self.message_rect(), int(flags), self.shown_message())
        painter.end()
