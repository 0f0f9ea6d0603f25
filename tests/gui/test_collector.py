"""Garbage collection runs on the GUI thread only (gui/collector.py): a cycle made garbage on another thread is
finalised on the GUI thread, and the timer collects what the automatic collector would have."""

from __future__ import annotations

import gc
import threading

from gui.app import make_app
from gui.collector import due_generation


class Cycle:
    """An object in a reference cycle that records the thread that finalised it."""

    finalised_on: list[str] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        Cycle.finalised_on.append(threading.current_thread().name)


def test_due_generation_follows_the_automatic_collectors_rule() -> None:
    assert due_generation((700, 0, 0), (700, 10, 10)) is None
    assert due_generation((701, 0, 0), (700, 10, 10)) == 0
    assert due_generation((701, 11, 0), (700, 10, 10)) == 1
    assert due_generation((701, 11, 11), (700, 10, 10)) == 2
    assert due_generation((701, 3, 11), (700, 10, 10)) == 2
    assert due_generation((5, 11, 11), (700, 10, 10)) is None


def test_cycles_made_garbage_on_another_thread_are_finalised_on_the_gui_thread(qtbot) -> None:
    make_app()
    assert not gc.isenabled()
    gc.collect()
    Cycle.finalised_on.clear()
    count = 20 * gc.get_threshold()[0]  # enough allocations to start several automatic collections

    def make_garbage() -> None:
        for _ in range(count):
            Cycle()

    worker = threading.Thread(target=make_garbage, name="allocating-worker")
    worker.start()
    worker.join()
    assert Cycle.finalised_on == []  # nothing was collected on the worker
    qtbot.waitUntil(lambda: len(Cycle.finalised_on) == count, timeout=10_000)
    assert set(Cycle.finalised_on) == {threading.main_thread().name}
