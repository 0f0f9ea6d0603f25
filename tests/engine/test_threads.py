"""threads.ordered_sum: the E-step's chunks run on pool threads and are added in their order."""

from __future__ import annotations

import threading
import time

import pytest
import torch

import engine  # noqa: F401  (sets OpenMP's waiting before torch's threads start)
from engine.threads import ordered_sum


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
