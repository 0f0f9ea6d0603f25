"""How torch's CPU threads wait, and how many a fit uses.

torch's OpenMP threads spin for a while after each parallel region, waiting for more work. When other
processes keep the cores busy, the spinning threads fight them for the cores, and a fit takes many times as long
as alone. Passive waiting (threads sleep when out of work) removes that, but makes thousands of tiny parallel
regions slower (a model-selection grid on Old Faithful). So both: OpenMP waits passively, and a fit below
~1e5 point x component x restart products per iteration runs on one thread (no parallel regions to wait in;
measured as fast as two threads there), a larger one on torch's count. The numbers: docs/performance.md,
'Threads and busy machines'.

GMM_STUDIO_THREADS=N fixes the count; GMM_STUDIO_THREADS=torch-defaults leaves torch's settings alone (for the
benchmark's comparison).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # torch loads after before_torch() has set OpenMP's waiting
    import torch

T = TypeVar("T")


def before_torch() -> None:
    """Ask OpenMP (GNU and Intel runtimes) to sleep rather than spin when out of work; must run before torch
    loads (the runtime reads it once). A user's own setting of these variables wins."""
    if os.environ.get("GMM_STUDIO_THREADS") == "torch-defaults":
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("KMP_BLOCKTIME", "0")


SMALL_WORK = 100_000  # points x components x restarts per iteration below which one thread is as fast
# An E-step of at most ONE_CHUNK_ROWS points is one chunk on the calling thread (gaussian._chunking), so its only
# parallelism is inside each operation, and with passive waiting every such parallel region pays a sleeping
# thread's wake-up (a few of them per iteration). Below ONE_CHUNK_WORK products one thread is faster; the limit
# lies below where one and two threads were measured even (docs/performance.md, 'Threads and busy machines').
# Larger data runs its chunks on the pool's threads (one wake-up per E-step), not affected.
ONE_CHUNK_ROWS = 1024  # gaussian.MIN_EVEN_ROWS: no chunk smaller, so this many points are one chunk
ONE_CHUNK_WORK = 600_000
_DEFAULT: int | None = None  # torch's own thread count, taken before the first change


def threads_for(work: int, n: int | None = None) -> int | None:
    """The thread count for a fit of `work` point-component-restart products on n points (None: leave torch's;
    n None: not known, the rule for many points)."""
    setting = os.environ.get("GMM_STUDIO_THREADS", "")
    if setting == "torch-defaults":
        return None
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    one_chunk = n is not None and n <= ONE_CHUNK_ROWS
    return 1 if work < (ONE_CHUNK_WORK if one_chunk else SMALL_WORK) else _default_threads()


def _default_threads() -> int:
    global _DEFAULT
    if _DEFAULT is None:
        import torch

        _DEFAULT = torch.get_num_threads()
    return _DEFAULT


def use_threads_for(work: int, n: int | None = None) -> None:
    """Set torch's intra-op thread count for a fit of this size (see threads_for; process-wide; only when it
    changes)."""
    import torch

    want = threads_for(work, n)
    _default_threads()
    if want is not None and torch.get_num_threads() != want:
        torch.set_num_threads(want)


# The E-step's chunks run on these threads, each with one torch thread: the ~10 small operations per chunk
# then open no OpenMP parallel regions (each costs a wake-up when threads wait passively, as they do here), and
# a chunk's intermediates stay in one core's cache, which made the E-step faster at every D measured
# (docs/performance.md, 'Threads and busy machines': chunk workers).
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_CHUNK_WORKERS: int | None = None  # None: as many as torch's thread count


def set_chunk_workers(n: int | None) -> None:
    """How many threads run the E-step's chunks (None: torch's thread count). The window sets 1: its GUI thread
    shares the GIL, and three Python threads passing it at every small operation made its longest stall longer
    than one did (measured: docs/performance.md, 'The window'); one thread's operations then run on torch's own
    threads, as they did before."""
    global _CHUNK_WORKERS
    _CHUNK_WORKERS = n


_HERE = threading.local()  # .workers: this thread's own count (chunk_workers_on_this_thread)


@contextmanager
def chunk_workers_on_this_thread(n: int) -> Iterator[None]:
    """The E-steps this thread runs meanwhile use n chunk workers; other threads are not affected (the window's fits
    run with one, beside a command line's or a test's fit on another thread)."""
    before = getattr(_HERE, "workers", None)
    _HERE.workers = n
    try:
        yield
    finally:
        _HERE.workers = before


def chunk_workers() -> int:
    """The E-step's worker threads for a fit on the CPU: this thread's count, else the process's, else torch's."""
    here = getattr(_HERE, "workers", None)
    if here is not None:
        return here
    if _CHUNK_WORKERS is not None:
        return _CHUNK_WORKERS
    import torch

    return torch.get_num_threads()


def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


def ordered_sum(fn: Callable[[T], torch.Tensor], items: Sequence[T], workers: int) -> torch.Tensor:
    """The sum of fn(item) over items, added in the items' order whatever `workers` is (the same bits on one
    thread or many). On up to `workers` pool threads (one torch thread each), each taking the next item as it
    finishes one and adding what is ready in order; the calling thread waits once, not per item (waking it per
    item, a third thread asking for the GIL, made the E-step 5-9% slower on this 2-core machine). At most
    2 * workers results wait to be added, so memory stays bounded. workers <= 1: here, in order."""
    if workers <= 1 or len(items) < 2:
        total = None
        for item in items:
            part = fn(item)
            total = part if total is None else total.add_(part)
        return total
    adder = _InOrderSum(fn, items, 2 * workers)
    futures = [_pool(workers).submit(adder.work) for _ in range(min(workers, len(items)))]
    for future in futures:
        future.result()  # raises a worker's error
    return adder.total


class _InOrderSum:
    """The shared state of ordered_sum's workers: which item is next to run, the results waiting for their turn,
    and the running total."""

    def __init__(self, fn: Callable[[T], torch.Tensor], items: Sequence[T], window: int) -> None:
        self.fn, self.items, self.window = fn, items, window
        self.total: torch.Tensor | None = None
        self._next_item = 0  # the next item a worker takes
        self._next_part = 0  # the next item whose result is added
        self._waiting: dict[int, torch.Tensor] = {}
        self._failed = False
        self._turn = threading.Condition()

    def work(self) -> None:
        """Run items until none is left (or a worker failed), adding each result, and those it unblocks, in order.

        The item next to be added is always running on some worker, never waiting: so a worker held back by a full
        window is always woken."""
        while True:
            with self._turn:
                while len(self._waiting) >= self.window and not self._failed:
                    self._turn.wait()
                if self._failed or self._next_item >= len(self.items):
                    return
                index = self._next_item
                self._next_item += 1
            try:
                part = self.fn(self.items[index])
            except BaseException:
                with self._turn:
                    self._failed = True
                    self._turn.notify_all()
                raise
            with self._turn:
                self._waiting[index] = part
                while self._next_part in self._waiting:
                    ready = self._waiting.pop(self._next_part)
                    self.total = ready if self.total is None else self.total.add_(ready)
                    self._next_part += 1
                self._turn.notify_all()


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < workers:
            _POOL = ThreadPoolExecutor(workers, thread_name_prefix="gmm-estep", initializer=_one_torch_thread)
        return _POOL


# NumPy's BLAS (OpenBLAS in its wheels, with its own pthreads) runs some of the E-step's products
# (gaussian.blas_matmul), called from every chunk worker. Its thread count is process-wide (OpenBLAS has no per-thread
# count: its "_local" setter changes the global one too), and threadpoolctl's limits are not thread-safe: changing
# the count while another thread is inside a BLAS call is undefined. So it is set once, to one thread, when the
# engine is imported (or by the environment before NumPy loads), and never changed around a call. One thread because
# several chunk workers calling it with its default count queue on its one pool (two workers ran slower than
# one), and with one worker (the window's) its threads spin after each call, which beside busy processes made a
# fit many times slower (docs/performance.md, 'Threads and busy machines'). It also keeps a fit's bits the
# same on any number of workers. GMM_STUDIO_THREADS=torch-defaults leaves it alone.
BLAS_ENV = "OPENBLAS_NUM_THREADS"  # NumPy's wheels' BLAS (torch's MKL keeps torch's own count)
_BLAS_SET = False


def blas_on_one_thread() -> None:
    """NumPy's BLAS on one thread for the rest of the process, set once (idempotent). Before NumPy loads: through the
    environment, which the library reads as it loads; after: through threadpoolctl, here, on the importing thread,
    before any fit runs. A user's own setting of those variables wins."""
    global _BLAS_SET
    if _BLAS_SET or os.environ.get("GMM_STUDIO_THREADS") == "torch-defaults":
        return
    _BLAS_SET = True
    if BLAS_ENV in os.environ:
        return  # the user's (or a parent process's) choice
    os.environ[BLAS_ENV] = "1"  # read when the library loads; also inherited by the processes we start
    import sys

    if "numpy" in sys.modules:  # already loaded: its BLAS read the environment before we set it
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")


def blas_thread_counts() -> list[int]:
    """The thread counts of the BLAS libraries loaded now (for the tests and the benchmarks)."""
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
