"""Python's cyclic garbage collection, run on the GUI thread only.

Automatic collection runs in whichever thread happens to allocate when a generation's count passes its
threshold: the fit's QThread, the background passes' pool, the E-step's workers, or the event-loop thread of a
Dask client. A collection there can free the last reference to a Qt wrapper caught in a reference cycle, and so
delete a QObject from a thread that does not own it, and the GUI thread can crash later, inside event processing
(pyqtgraph ships a collector like this one for that reason). Two full test runs crashed that way, in pytest-qt's
event processing with distributed's loop thread alive; this is the likely cause, not a proven one. So the window
turns automatic collection off and collects on a timer of the GUI thread, with the automatic collector's
thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500  # young cycles wait at most this long; each check costs a few microseconds when nothing is due


def due_generation(counts: tuple[int, int, int], thresholds: tuple[int, int, int]) -> int | None:
    """The generation the automatic collector would collect now (the oldest whose count passed its threshold,
    once the youngest's has), or None when none is due."""
    if counts[0] <= thresholds[0]:
        return None
    generation = 0
    for older in (1, 2):
        if counts[older] > thresholds[older]:
            generation = older
    return generation


def collect_due() -> int | None:
    """Collect the generation that is due, here and now; returns it (None when none was due)."""
    generation = due_generation(gc.get_count(), gc.get_threshold())
    if generation is not None:
        gc.collect(generation)
    return generation


class GuiThreadCollector(QObject):
    """Turns automatic collection off for the process and collects from a timer of the thread it lives on (make
    it on the GUI thread, child of the QApplication: it lives as long as the application)."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.setObjectName("gui-thread-collector")
        self.was_enabled = gc.isenabled()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(collect_due)
        self.timer.start(INTERVAL_MS)

    def uninstall(self) -> None:
        """Automatic collection as it was before (for tests, once no window and no background thread is left)."""
        self.timer.stop()
        gc.collect()
        if self.was_enabled:
            gc.enable()
        self.setObjectName("")
        self.deleteLater()


def uninstall(app: QObject) -> None:
    """Remove the application's collector, if any (see GuiThreadCollector.uninstall)."""
    found = app.findChild(GuiThreadCollector, "gui-thread-collector")
    if found is not None:
        found.uninstall()


def install(app: QObject) -> GuiThreadCollector:
    """The application's collector, made on the first call."""
    found = app.findChild(GuiThreadCollector, "gui-thread-collector")
    return found if found is not None else GuiThreadCollector(app)
