"""threads: ordered_sum (the E-step's chunks run on pool threads and are added in their order) and NumPy's BLAS on one
thread during an E-step."""

from __future__ import annotations

import os
import threading
import time

import pytest
import torch

import engine  # noqa: F401  (sets OpenMP's waiting before torch's threads start)
from engine.runtime.threads import ordered_sum


def _parts(n: int) -> list[torch.Tensor]:
    """Float64 numbers whose sum depends on the order they are added in (1e16 swallows a 1 unless the ones come
    first), three per item."""
    g = torch.Generator().manual_seed(0)
    scale = torch.tensor([1e16, 1.0, 1e-3], dtype=torch.float64)
    return [torch.randn(3, generator=g, dtype=torch.float64) * scale for _ in range(n)]


def _in_order(parts: list[torch.Tensor]) -> torch.Tensor:
    total = parts[0].clone()
    for p in parts[1:]:
        total += p
    return total


@pytest.mark.parametrize("workers", [1, 2, 3, 5])
def test_added_in_order_bit_for_bit_whatever_finishes_first(workers: int) -> None:
    parts = _parts(40)

    def fn(i: int) -> torch.Tensor:
        time.sleep(0.002 * ((i * 7) % 5))  # later items often finish before earlier ones
        return parts[i].clone()

    total = ordered_sum(fn, range(len(parts)), workers)
    assert torch.equal(total, _in_order(parts))
    # the order matters for these numbers: the reversed sum differs, so the equality above can fail
    assert not torch.equal(_in_order(parts[::-1]), _in_order(parts))


def test_a_worker_error_reaches_the_caller_and_the_pool_still_works() -> None:
    def fn(i: int) -> torch.Tensor:
        if i == 5:
            raise ValueError("chunk 5 failed")
        return torch.ones(2)

    with pytest.raises(ValueError, match="chunk 5 failed"):
        ordered_sum(fn, range(20), 2)
    assert torch.equal(ordered_sum(lambda i: torch.ones(2), range(20), 2), torch.full((2,), 20.0))


def test_at_most_twice_the_workers_results_wait() -> None:
    """While the first item is slow, the others' results pile up behind it; the workers stop taking items once
    2 * workers wait, so memory stays bounded."""
    workers, started, lock = 2, [], threading.Lock()
    release = threading.Event()

    def fn(i: int) -> torch.Tensor:
        with lock:
            started.append(i)
        if i == 0:
            release.wait(5.0)
        return torch.ones(1)

    caller = threading.Thread(target=lambda: ordered_sum(fn, range(50), workers))
    caller.start()
    time.sleep(0.5)  # the other worker runs every item it may meanwhile
    with lock:
        taken_while_blocked = len(started)
    release.set()
    caller.join(10.0)
    assert taken_while_blocked == 1 + 2 * workers  # item 0 and the 2 * workers results that wait behind it
    assert sorted(started) == list(range(50))


@pytest.mark.parametrize("d", [7, 20])  # 7: the features' log-joint product; 20: the whitened E-step's products
@pytest.mark.parametrize("workers", [1, 2])
def test_numpys_blas_runs_on_one_thread_and_no_e_step_changes_it(d: int, workers: int, monkeypatch) -> None:
    """NumPy's BLAS runs the E-step's dense products on one thread, also with one chunk worker (the window's): its
    own threads spin after each call and, beside busy processes, made a fit 7-17x slower. The count is set once when
    the engine is imported and never changed around a call (threadpoolctl's limits are not thread-safe: another
    thread may be inside the library): no E-step calls threadpoolctl."""
    import threadpoolctl

    import engine.model.gaussian as gaussian
    from engine.runtime.threads import blas_thread_counts

    assert set(blas_thread_counts()) == {1}
    seen: list[list[int]] = []
    real = gaussian.blas_matmul

    def watched(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        seen.append(blas_thread_counts())
        return real(a, b, out)

    def no_limits(*_args, **_kwargs):
        raise AssertionError("an E-step changed the BLAS's thread count")

    monkeypatch.setattr(gaussian, "blas_matmul", watched)
    monkeypatch.setattr(threadpoolctl.ThreadpoolController, "limit", no_limits)
    monkeypatch.setattr(threadpoolctl, "threadpool_limits", no_limits)
    g = torch.Generator().manual_seed(d)
    x = torch.randn(5000, d, dtype=torch.float64, generator=g)
    means = torch.randn(1, 2, d, dtype=torch.float64, generator=g)
    chol = torch.linalg.cholesky(torch.eye(d, dtype=torch.float64).expand(1, 2, d, d) * 2.0)
    log_w = torch.full((1, 2), 0.5, dtype=torch.float64).log()
    if gaussian.use_whitened(d, 2):
        gaussian.whitened_statistics(x, log_w, means, chol, workers=workers)
    else:
        coef = gaussian.log_joint_coefficients(log_w, means, chol)
        gaussian.e_step_statistics(gaussian.features_of(x), coef, chunk=1000, workers=workers)
    assert seen and all(counts and set(counts) == {1} for counts in seen)


@pytest.mark.parametrize("numpy_first", [False, True])
def test_the_blas_count_is_set_once_when_the_engine_is_imported(numpy_first: bool) -> None:
    """In a fresh process NumPy's BLAS has its default count (2 here) until the engine is imported, one after it,
    whether NumPy loaded before the engine (threadpoolctl, once) or after (the environment)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    first = "import numpy; from threadpoolctl import threadpool_info as i; print(i()[0]['num_threads']); "
    code = (first if numpy_first else "") + (
        "import engine, numpy; from engine.runtime.threads import blas_thread_counts as c; print(c())"
    )
    read = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")  # what OpenBLAS reads as it loads
    env = {k: v for k, v in os.environ.items() if k not in read}
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    lines = out.stdout.split()
    if numpy_first and (os.cpu_count() or 1) > 1:
        assert int(lines[0]) > 1  # the library's default: the test shows the change, not a count set elsewhere
    assert lines[-1] == "[1]"


def test_a_threads_own_chunk_worker_count_is_its_own() -> None:
    """The window runs its fits with one E-step worker on its own threads (gui/background.py); another thread (the
    command line's, a test's) keeps the process's count, and the count is put back after."""
    from engine.runtime.threads import chunk_workers, chunk_workers_on_this_thread

    default = chunk_workers()
    seen: dict[str, int] = {}
    inside = threading.Event()
    release = threading.Event()

    def window_thread() -> None:
        seen["before"] = chunk_workers()  # torch's count is per thread (OpenMP's): this thread's own
        with chunk_workers_on_this_thread(1):
            seen["window"] = chunk_workers()
            inside.set()
            release.wait(5)
        seen["after"] = chunk_workers()

    t = threading.Thread(target=window_thread)
    t.start()
    assert inside.wait(5)
    seen["other"] = chunk_workers()
    release.set()
    t.join(5)
    assert seen["window"] == 1 and seen["other"] == default and seen["after"] == seen["before"]


def test_many_restarts_on_few_points_run_on_one_thread(monkeypatch) -> None:
    """Issue 22 item 14: 100 restarts of K=3 on 1,000 points (3e5 products per iteration) took 1.11-1.30 s against
    0.63-0.78 s before OpenMP waited passively: its E-step is one chunk, parallel only inside each small operation,
    and each such region woke a sleeping thread. It runs on one thread now, whatever torch's default count; larger
    data (its chunks on the pool's threads) keeps the default above SMALL_WORK."""
    from engine import FitConfig, fit
    from engine.io.data import forum_sample
    from engine.runtime import threads

    monkeypatch.delenv("GMM_STUDIO_THREADS", raising=False)
    monkeypatch.setattr(threads, "_DEFAULT", 4)  # a 4-core machine's default, here too
    before = torch.get_num_threads()
    try:
        run = fit(forum_sample(1000, 0), FitConfig(n_components=3, restarts=100, init="kmeans++", tol=1e-6))
        next(run)
        inside = torch.get_num_threads()
        run.close()
    finally:
        torch.set_num_threads(before)
    assert inside == 1
    assert threads.threads_for(1000 * 3 * 100, 1000) == 1
    assert threads.threads_for(threads.ONE_CHUNK_WORK, 1000) == 4  # big operations: two threads pay for a wake-up
    assert threads.threads_for(1100 * 3 * 100, 1100) == 4  # two chunks: the pool's threads, one wake-up an E-step
    assert threads.threads_for(threads.SMALL_WORK - 1) == 1


@pytest.mark.parametrize("columns", [3, 128, 600, 1024])
def test_a_chunks_intermediates_stay_a_few_mib_on_the_cpu(columns: int) -> None:
    """An E-step chunk's (R*K, chunk) float64 intermediates stay within 8 MiB a worker thread up to 1024
    restart-components, the bootstrap's 200 replicates of K = 3 (600) included: with at least 4096 points a chunk
    they were 20 MB there, out of cache, and its E-step took 0.68 s of CPU against 0.54 s in chunks of 1024 points
    (docs/performance.md, 'The bootstrap')."""
    from engine.model import gaussian

    rows = gaussian.chunk_rows(torch.device("cpu"), columns)
    assert rows * columns * 8 <= 8 * 2**20
    assert rows >= 1024  # a chunk's ~0.2 ms of calls stays small against its work
