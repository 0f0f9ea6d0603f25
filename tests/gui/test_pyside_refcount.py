"""PySide6 6.12.0 on Python 3.11 returned None from void methods without taking a reference: None's
refcount ran down with every painter call and the window aborted with "none_dealloc" after seconds of
drawing. This guards the pinned version (and any upgrade) against that."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

CALLS = 10_000


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 on")
def test_void_qt_methods_keep_references_to_none(qapp) -> None:
    image = QImage(16, 16, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    pen = QPen(QColor("red"))
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        pen.setWidthF(2.0)
        painter.setPen(pen)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.drawLine(QPointF(0, 0), QPointF(8, 8))
        pen.setCapStyle(Qt.PenCapStyle.SquareCap)
    painter.end()
    # other threads may hold or drop a few references meanwhile; the bug dropped 5 per loop (50,000)
    assert sys.getrefcount(None) - before > -100
