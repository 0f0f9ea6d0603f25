"""The one way the window works in the background: the fits (their frames), the model-selection sweep, loads,
generation, replays and exports all run through a Background, a child of the window (so the window finds every
one of them: `shutdown_all`).

A function runs on one of the Background's threads; its result, the items it streams (a fit's frames, the
sweep's entries) and its error come back to callbacks on the GUI thread, in order: the Background's one relay
QObject lives there and its signals arrive queued. One error path: a user's mistake (engine.UserError) gives its
message; anything else a traceback, marked internal. A fit's pause, step and stop stay with its RunGate
(gui/worker.py), which the function waits on between iterations.

Lifetimes. Everything a task holds (its function's closure, which may reach controllers and Qt objects; its
result; its callbacks) is owned by the Background's table on the GUI thread and dropped there, when the task's end
is handled. The pool thread never holds the last reference to anything: QThreadPool deletes a finished runnable
on the pool thread, so the runnable gives its references up before it reports, and a Qt object can never be
finalised off the GUI thread through a task (tests/gui/test_lifetimes.py).
"""

from __future__ import annotations

import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

OnError = Callable[[str, bool], None]  # (message or traceback, internal)


def report(exc: BaseException) -> tuple[str, bool]:
    """What the user is told of an exception: (its message, False) for a user's mistake, else (the traceback,
    True)."""
    from engine import UserError

    if isinstance(exc, UserError):
        return str(exc), False
    return "".join(traceback.format_exception(exc)), True


@dataclass(eq=False)
class _Work:
    """One task: what runs, what it produced, who hears of it. Owned by the Background's table (GUI thread)."""

    fn: Callable
    on_done: Callable[[object], None]
    on_error: OnError
    on_item: Callable[[object], None] | None
    cancel: Callable[[], None] | None
    result: object = None
    error: tuple[str, bool] | None = None


class _Relay(QObject):
    item = Signal(int, object)
    ended = Signal(int)


class _Task(QRunnable):
    """Runs one _Work on a pool thread. It holds the work only until it starts (see the module's docstring)."""

    def __init__(self, work: _Work, task_id: int, relay: _Relay) -> None:
        super().__init__()
        self._work: _Work | None = work
        self.task_id, self.relay = task_id, relay

    def run(self) -> None:
        from engine import chunk_workers_on_this_thread

        work, self._work = self._work, None
        task_id, emit = self.task_id, self.relay.item.emit
        # the window's work runs its E-steps on one chunk worker (set for this thread only): the GUI thread shares the
        # GIL, see engine.runtime.threads.set_chunk_workers
        try:
            with chunk_workers_on_this_thread(1):
                if work.on_item is not None:
                    work.result = work.fn(lambda item: emit(task_id, item))
                else:
                    work.result = work.fn()
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, which shows it
            work.error = report(exc)
            del exc  # its traceback's frames hold the task's locals: not dropped here later
        del work  # the table still holds it: dropped on the GUI thread, in _ended
        self.relay.ended.emit(task_id)


class Background(QObject):
    """A pool of `threads` threads (1: the work runs one after another, in the order it was given)."""

    made: weakref.WeakSet[Background] = weakref.WeakSet()  # every one alive (the tests check none outlives its window)

    def __init__(self, parent: QObject | None = None, threads: int = 2) -> None:
        super().__init__(parent)
        Background.made.add(self)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._relay = _Relay(self)
        self._relay.item.connect(self._item)
        self._relay.ended.connect(self._ended)
        self._live: dict[int, _Work] = {}  # the tasks given and not yet reported, by id
        self._ids = 0
        self._closed = False

    def run(
        self,
        fn: Callable,
        on_done: Callable[[object], None],
        on_error: OnError,
        on_item: Callable[[object], None] | None = None,
        cancel: Callable[[], None] | None = None,
    ) -> bool:
        """Run fn() in the background, then on_done(result) or on_error(message, internal) on the GUI thread.
        With on_item, fn(emit) streams: each emit(item) reaches on_item(item) there, before on_done. cancel: asks fn
        to end early (shutdown calls it). False (nothing runs) once the Background is shut down."""
        if self._closed:
            return False
        self._start(_Work(fn, on_done, on_error, on_item, cancel))
        return True

    def _start(self, work: _Work) -> None:
        """Hold the work in the table (see the module's docstring) and queue it on the pool."""
        self._ids += 1
        self._live[self._ids] = work
        self.pool.start(_Task(work, self._ids, self._relay))

    def _item(self, task_id: int, item: object) -> None:
        work = self._live.get(task_id)
        if work is not None and work.on_item is not None:
            work.on_item(item)

    def _ended(self, task_id: int) -> None:
        work = self._live.pop(task_id, None)  # dropped here, on the GUI thread
        if work is None or self._closed:  # shut down: nobody listens any more
            return
        if work.error is not None:
            work.on_error(*work.error)
        else:
            work.on_done(work.result)

    @property
    def busy(self) -> bool:
        return bool(self._live)

    def wait(self, msecs: int = -1) -> bool:
        """Wait for every task to end (msecs < 0: as long as it takes); True when they all have."""
        return self.pool.waitForDone(msecs)

    def cancel(self) -> None:
        """Take the tasks that have not started off the queue (QThreadPool deletes them here, on this thread) and ask
        the running ones to end (those given a cancel)."""
        self.pool.clear()
        for work in list(self._live.values()):
            if work.cancel is not None:
                work.cancel()

    def close(self) -> None:
        """No more tasks, and no more callbacks: the window is going."""
        self._closed = True
        self.cancel()

    def run_last(self, fn: Callable[[], object]) -> None:
        """After close(): one last function on this pool (after what still runs there: with one thread, the same
        thread), with no callback; e.g. closing the Dask client on the thread that made and used it."""
        self._start(_Work(fn, lambda _result: None, lambda _message, _internal: None, None, None))

    def release(self) -> None:
        """Once every task has ended: drop what the table holds (here, on the GUI thread). While a task still runs
        its work stays held, so that the pool thread never drops the last reference to it."""
        if self.pool.activeThreadCount() == 0:
            self._live.clear()

    def shutdown(self, msecs: int = 30_000, last: Callable[[], object] | None = None) -> bool:
        """close() (then run_last(last)), and wait (at most msecs) for the running tasks; True when all ended."""
        return shutdown_all([self], msecs, {self: last} if last is not None else None)


def shutdown_all(
    backgrounds: list[Background], msecs: int = 30_000, last: dict[Background, Callable[[], object]] | None = None
) -> bool:
    """Close every Background first (so they all stop at once), start each one's last function (`last`), then wait
    for them all within one deadline of msecs; True when every task ended."""
    for background in backgrounds:
        background.close()
    for background, fn in (last or {}).items():
        background.run_last(fn)
    deadline = time.monotonic() + msecs / 1000
    ended = True
    for background in backgrounds:
        left = max(int((deadline - time.monotonic()) * 1000), 0)
        ended = background.wait(left) and ended
        background.release()
    return ended
