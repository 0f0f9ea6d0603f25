"""A real MainWindow (offscreen) with its settings in a temporary file, the engine loaded."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

ENGINE_TIMEOUT_MS = 120_000  # the first window imports torch and pyro (a few seconds; more on a busy machine)
FIT_TIMEOUT_MS = 120_000


@pytest.fixture
def settings_path(tmp_path):
    return tmp_path / "settings.ini"


@pytest.fixture
def make_window(qtbot, settings_path):
    """make_window() -> a shown MainWindow whose engine is ready; closed at the end of the test."""
    from gui.app import make_app
    from gui.main_window import MainWindow

    made = []

    def make() -> MainWindow:
        make_app()
        window = MainWindow(QSettings(str(settings_path), QSettings.Format.IniFormat))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.run_control.ready, timeout=ENGINE_TIMEOUT_MS)
        made.append(window)
        return window

    yield make
    for window in made:
        window.close()


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture
def view(qtbot):
    """The model-selection view alone (1100 x 500, shown), as the selection chart's tests use it."""
    from gui.app import make_app
    from gui.views.selection_view import SelectionView

    make_app()
    v = SelectionView()
    qtbot.addWidget(v)
    v.resize(1100, 500)
    v.show()
    return v
