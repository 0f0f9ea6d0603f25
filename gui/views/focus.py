"""Keyboard focus kept where the user is. A focused button that Qt disables passes the focus on to the next widget
in the tab chain, and a scroll area scrolls that widget into view: the lower panel scrolled its tab bar away when a
run's Stop button was disabled at its end. Buttons that take turns hand the focus over instead."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def take_turns(on: QWidget, off: QWidget) -> None:
    """Enable `on` and disable `off`; the focus `off` had (if any) goes to `on`, not down the tab chain."""
    on.setEnabled(True)
    if off.hasFocus():
        on.setFocus()
    off.setEnabled(False)
