"""Start the window: the QApplication, the icon and names the desktop needs, then the main window.

Only Qt, pyqtgraph and NumPy load here (the window shows before the slow imports: docs/performance.md, 'The
window'); torch and pyro load in the fit thread afterwards.
Set GMM_STUDIO_STARTUP_REPORT=FILE to have the window write when it was first painted and when the
engine was ready (time.time() seconds, JSON) and then quit: bench/bench_gui_startup.py uses it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from . import collector

APP_NAME = "gmm-studio"
ORGANIZATION = "GMM Studio"
SWITCH_INTERVAL_S = 0.001
_DEFAULT_SWITCH_INTERVAL = sys.getswitchinterval()  # the process's before make_app
ICON = Path(__file__).resolve().parent / "resources" / "gmm-studio.svg"


def make_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (or the one that exists), named for QSettings and the desktop's .desktop file."""
    # The fit thread's Python code holds the GIL for up to the switch interval (5 ms by default) each time
    # the GUI thread asks for it, and a repaint asks hundreds of times: 1 ms keeps the event loop smooth.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True)
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0], *(argv or [])])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName("GMM Studio")
    QGuiApplication.setDesktopFileName(APP_NAME)  # Wayland finds the icon through the .desktop file's name
    app.setWindowIcon(QIcon(str(ICON)))
    collector.install(app)  # garbage collection on this thread only: see collector.py
    return app


def dispose_window(window) -> None:
    """Take the window apart now, on the GUI thread, while Python is whole: closed (settings saved, the fit
    cancelled and the background work ended), the pairs matrix's plots closed as pyqtgraph closes them, then the
    window and every widget and graphics item in it deleted, and the Python objects that held pyqtgraph's own
    parentless menus collected.

    Without this the window outlives the command (closing only hides it; what holds it is held from C++, where
    no garbage collection reaches), and PySide deletes it at the interpreter's exit, in an atexit function that
    deletes every object Python still owns, in no set order. There, with the pairs matrix half laid out, a
    pyqtgraph item's Python override met a half-deleted item: an AxisItem's resizeEvent asked its label, already
    deleted, for its size, and shiboken crashed reporting that RuntimeError (issue 21)."""
    import gc

    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent

    if not shiboken6.isValid(window):
        return
    window.close()
    window.pairs.close_down()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # no event loop runs: delete it now
    if shiboken6.isValid(window):  # the deferred delete did not run (a nested loop held it): delete it directly
        shiboken6.delete(window)
    gc.collect()  # the window's Python objects (and the menus pyqtgraph's items own) in reference cycles
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def end_app_settings(app: QApplication) -> None:
    """Undo make_app's process-wide settings (the switch interval, the collector): for tests, once no window and no
    background thread is left, so that the next test module finds the process as it was."""
    sys.setswitchinterval(_DEFAULT_SWITCH_INTERVAL)
    collector.uninstall(app)


def missing_system_library() -> str:
    """What stops Qt from opening a window here, in words (Qt itself aborts with a terse message): no display
    at all, on X11 a DISPLAY no X server answers at (checked first: Qt then blames a missing library), or
    the system libraries Qt's xcb plugin needs. Empty when nothing is missing."""
    from .system_libraries import display_problem, missing_libraries, missing_message

    platform = os.environ.get("QT_QPA_PLATFORM", "")
    linux = sys.platform.startswith("linux")
    if linux and not platform and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return (
            "there is no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset): run it in a "
            "desktop session, or use `python3 main.py screenshot OUT.png` or the command line "
            "(`python3 main.py fit --help`)"
        )
    x11 = linux and os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
    if platform not in ("", "xcb") or not x11:
        return ""
    return display_problem(os.environ["DISPLAY"]) or missing_message(missing_libraries())


def main(argv: list[str] | None = None) -> int:
    """Open the window on the demo data and run the event loop."""
    missing = missing_system_library()
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    app = make_app(argv)
    from .main_window import MainWindow

    window = MainWindow(QSettings())
    window.show()
    report = os.environ.get("GMM_STUDIO_STARTUP_REPORT")
    if report:
        _report_startup(app, window, Path(report))
    code = app.exec()
    dispose_window(window)  # now, while Python is whole: see dispose_window
    return code


def _report_startup(app: QApplication, window, path: Path) -> None:
    """Write when the window was painted and when the engine was ready, then quit (for the benchmark)."""
    times: dict[str, float] = {}

    def write() -> None:
        path.write_text(json.dumps(times))
        window.close()
        app.quit()

    def shown() -> None:
        times["shown"] = time.time()
        if window.run_control.ready:
            engine_ready()

    def engine_ready() -> None:
        times["ready"] = time.time()
        if "shown" in times:
            write()

    QTimer.singleShot(0, shown)  # runs once the event loop has painted the window
    window.run_control.engine_loaded.connect(engine_ready)
