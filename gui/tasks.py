"""One-off background work (load a file, generate or scan a large data set, write an export) on a thread pool.

The callbacks run on the GUI thread: the relay QObject lives there and its signals arrive queued.
A user's mistake (engine.UserError) goes to on_error with its message; anything else with a traceback.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(str, bool)  # message, is_internal


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], object], relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.relay = relay

    def run(self) -> None:
        from engine import UserError

        try:
            result = self.fn()
        except UserError as exc:
            self.relay.failed.emit(str(exc), False)
        except Exception:  # noqa: BLE001 - handed to the GUI, which shows it
            self.relay.failed.emit(traceback.format_exc(), True)
        else:
            self.relay.done.emit(result)


class TaskRunner(QObject):
    """Runs functions off the GUI thread; keeps each relay alive until its task has reported."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._live: set[_Relay] = set()

    def run(
        self, fn: Callable[[], object], on_done: Callable[[object], None], on_error: Callable[[str, bool], None]
    ) -> None:
        relay = _Relay(self)
        self._live.add(relay)

        def finish(callback, *args) -> None:
            self._live.discard(relay)
            relay.deleteLater()
            callback(*args)

        relay.done.connect(lambda result: finish(on_done, result))
        relay.failed.connect(lambda message, internal: finish(on_error, message, internal))
        self.pool.start(_Task(fn, relay))

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def wait(self, msecs: int = -1) -> bool:
        return self.pool.waitForDone(msecs)
