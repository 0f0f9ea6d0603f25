"""What the window tells the user: status-bar notes, error dialogs (kept alive while open) and file dialogs."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QMainWindow

from . import dialogs


class Messages:
    """The window's one way to say something; every controller reports through it."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self.last_error = ""  # the last error's message (what a test or a screenshot run reads)
        self.boxes: list = []  # open non-modal dialogs: a dialog without a reference would close at once

    def note(self, text: str, msecs: int = 8000) -> None:
        """A status-bar message (0: until the next one); whole in the bar's tooltip (a long one is cut where the
        bar's fit state begins)."""
        bar = self.window.statusBar()
        bar.showMessage(text, msecs)
        bar.setToolTip(text)

    def withdraw(self, text: str) -> None:
        """Take a note off the status bar if it is still the one shown (a progress note whose work ended)."""
        if text and self.window.statusBar().currentMessage() == text:
            self.window.statusBar().clearMessage()

    def error(self, title: str, message: str, details: str = "") -> None:
        """An error dialog (a traceback goes into its details, never into its message) and a status note."""
        message, details = dialogs.plain_message(message, details)
        self.last_error = message
        self.note(message, 10000)
        self.keep(dialogs.show_error(self.window, title, message, details))

    def failed(self, title: str):
        """A background task's error callback (message, internal) that shows the error under title."""
        return lambda message, internal: self.error(title, message)

    def keep(self, widget) -> None:
        self.boxes = [b for b in self.boxes if b.isVisible()] + [widget]

    def ask_path(self, action, title: str, filters: str, default: str = "", save: bool = True) -> None:
        """A save (or open) file dialog; unless it is cancelled, action(path)."""
        ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        path, _ = ask(self.window, title, default, filters)
        if path:
            action(path)
