"""One owner for every lifetime (gui/background.py, MainWindow.shutdown): what a background task holds is dropped on
the GUI thread, the window's shutdown cancels and awaits all of its background work, and the Dask client is closed
on the thread that made and used it."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject

from gui.app import make_app
from gui.background import Background


class Held:
    """What a task's closure holds (in the window: controllers, the WindowState): records where it is finalised."""

    finalised_on: list[str] = []

    def __del__(self) -> None:
        Held.finalised_on.append(threading.current_thread().name)


def _task(held: Held, fails: bool, streams: bool):
    """A task whose closure holds `held` (as a window's task holds its controller)."""

    def fn(*emit):
        assert isinstance(held, Held)
        if streams:
            emit[0]("an item")
        if fails:
            raise RuntimeError("a failure")
        return "a result"

    return fn


def _run_and_forget(qtbot, background: Background, fails: bool, streams: bool) -> None:
    done = []
    background.run(
        _task(Held(), fails, streams),
        lambda result: done.append(result),
        lambda message, internal: done.append(internal),
        on_item=(lambda _item: None) if streams else None,
    )
    qtbot.waitUntil(lambda: bool(done), timeout=10_000)
    background.wait(10_000)  # the pool has deleted its runnable by now (on its thread)
    qtbot.wait(50)


def test_a_tasks_closure_is_finalised_on_the_gui_thread(qtbot) -> None:
    """QThreadPool deletes a finished runnable on its own thread. The old runnable held the task's function, so the
    closure's last reference (and with it a controller, a WindowState: Qt objects) was dropped there; a Qt object
    finalised off its thread can crash the GUI thread later. Now the Background's table holds it and drops it on
    the GUI thread: after a result, an error, and a stream."""
    make_app()
    owner = QObject()
    background = Background(owner, threads=2)
    Held.finalised_on.clear()
    for fails, streams in ((False, False), (True, False), (False, True)):
        _run_and_forget(qtbot, background, fails, streams)
    assert Held.finalised_on == [threading.main_thread().name] * 3
    background.shutdown()
    owner.deleteLater()


def test_shutdown_cancels_and_awaits_every_task_and_reports_nothing_after(qtbot) -> None:
    """shutdown: the queue is dropped, each running task's cancel is called, the wait covers every task, and no
    callback runs afterwards (the window is going)."""
    make_app()
    owner = QObject()
    background = Background(owner, threads=1)
    stop = threading.Event()
    started = threading.Event()
    calls: list[str] = []

    def long_task() -> str:
        started.set()
        stop.wait(20)
        return "ended"

    background.run(long_task, lambda r: calls.append(r), lambda m, i: calls.append(m), cancel=stop.set)
    background.run(lambda: calls.append("queued ran"), lambda r: None, lambda m, i: None)
    assert started.wait(10)
    t0 = time.monotonic()
    assert background.shutdown(10_000)
    assert time.monotonic() - t0 < 5  # cancelled, not waited out
    assert not background.run(lambda: None, lambda r: None, lambda m, i: None)  # takes no more work
    qtbot.wait(100)
    assert calls == []  # the queued task never ran, and no callback came after the shutdown
    owner.deleteLater()


def test_closing_the_window_ends_every_background_and_closes_the_cluster_on_the_fits_thread(qtbot, window) -> None:
    """A load (window.tasks), a fit and a Compare run at once; closing the window cancels and awaits all of them, and
    the Dask client is closed on the fits' thread (the one that made and used it), after the fit."""
    where: dict[str, int] = {}

    class Client:
        def close(self) -> None:
            where["closed"] = threading.get_ident()

    link = window.run_control.cluster
    link.client = Client()
    link.close = lambda: where.__setitem__("closed", threading.get_ident()) or setattr(link, "client", None)
    window.run_control.fits.run(lambda: where.__setitem__("fits", threading.get_ident()), lambda r: None, print)
    qtbot.waitUntil(lambda: "fits" in where, timeout=10_000)
    gate = threading.Event()
    window.tasks.run(lambda: gate.wait(20), lambda r: None, lambda m, i: None, cancel=gate.set)
    window.controls.max_iter.setText("100000")
    window.controls.tol.setText("0")
    assert window.run_control.start_fit()
    window.compare_control.run()  # every algorithm side by side, on the Compare tab's own Background
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 10
    backgrounds = window.findChildren(Background)
    assert len(backgrounds) >= 4  # fits, tasks, Compare, Selection
    assert all(b.pool.activeThreadCount() == 0 and not b.busy for b in backgrounds)
    assert where["closed"] == where["fits"] != threading.get_ident()


def test_every_qt_object_of_the_window_has_a_parent(make_window) -> None:
    """Every QObject our code makes for a window is in its object tree (deleted with it, on the GUI thread), so that
    none is finalised by whichever thread drops its last Python reference; the window itself is the root. (A
    pyqtgraph item is a QGraphicsObject: its owner is its scene, through its parent item.)"""
    before = {id(obj) for obj in _orphans()}
    window = make_window()
    assert window.state.parent() is window
    assert [type(obj).__qualname__ for obj in _orphans() if id(obj) not in before] == []


def _orphans() -> list:
    """Our QObjects (gui modules') with neither a QObject parent nor a parent item, but top-level windows."""
    import gc

    from PySide6.QtWidgets import QGraphicsObject

    from gui.main_window import MainWindow

    gc.collect()
    return [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, QObject)
        and type(obj).__module__.startswith("gui.")
        and not isinstance(obj, MainWindow)
        and _valid(obj)
        and obj.parent() is None
        and not (isinstance(obj, QGraphicsObject) and (obj.parentItem() is not None or obj.scene() is not None))
    ]


def _valid(obj) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)
