"""The one way the window works in the background: the fits (their frames), the model-selection sweep, loads,
generation, replays and exports all run through a Background.

A function runs on one of the Background's threads; its result, the items it streams (a fit's frames, the
sweep's entries) and its error come back to callbacks on the GUI thread, in order: a relay QObject lives there
and its signals arrive queued. One error path: a user's mistake (engine.UserError) gives its message; anything
else a traceback, marked internal. A fit's pause, step and stop stay with its RunGate (gui/worker.py), which
the function waits on between iterations.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

OnError = Callable[[str, bool], None]  # (message or traceback, internal)


def report(exc: BaseException) -> tuple[str, bool]:
    """What the user is told of an exception: (its message, False) for a user's mistake, else (the traceback,
    True)."""
    from engine import UserError

    if isinstance(exc, UserError):
        return str(exc), False
    return "".join(traceback.format_exception(exc)), True


class _Relay(QObject):
    item = Signal(object)
    done = Signal(object)
    failed = Signal(str, bool)


class _Task(QRunnable):
    def __init__(self, fn: Callable, relay: _Relay, streams: bool) -> None:
        super().__init__()
        self.fn, self.relay, self.streams = fn, relay, streams

    def run(self) -> None:
        try:
            result = self.fn(self.relay.item.emit) if self.streams else self.fn()
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, which shows it
            self.relay.failed.emit(*report(exc))
        else:
            self.relay.done.emit(result)


class Background(QObject):
    """A pool of `threads` threads (1: the work runs one after another, in the order it was given)."""

    def __init__(self, parent: QObject | None = None, threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._live: set[_Relay] = set()  # each relay stays alive until its task has reported

    def run(
        self,
        fn: Callable,
        on_done: Callable[[object], None],
        on_error: OnError,
        on_item: Callable[[object], None] | None = None,
    ) -> None:
        """Run fn() in the background, then on_done(result) or on_error(message, internal) on the GUI thread.
        With on_item, fn(emit) streams: each emit(item) reaches on_item(item) there, before on_done."""
        relay = _Relay(self)
        self._live.add(relay)

        def finish(callback, *args) -> None:
            self._live.discard(relay)
            relay.deleteLater()
            callback(*args)

        if on_item is not None:
            relay.item.connect(on_item)
        relay.done.connect(lambda result: finish(on_done, result))
        relay.failed.connect(lambda message, internal: finish(on_error, message, internal))
        self.pool.start(_Task(fn, relay, on_item is not None))

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def wait(self, msecs: int = -1) -> bool:
        """Wait for every task to end (msecs < 0: as long as it takes); True when they all have."""
        return self.pool.waitForDone(msecs)
