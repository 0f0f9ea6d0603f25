"""How many threads torch's CPU kernels use for a fit.

Measured on the 2-core machine (1e5..3e3 points, K=3, 4 restarts): two threads are never slower than one, and
one thread is as fast below ~1e5 point x component x restart products per iteration, where every parallel region
is too short to share. A small fit therefore runs on one thread (on a busy machine it then competes for one
core, not two). OpenMP's passive waiting (threads sleep between regions) was tried: it doubled the time of a
model-selection grid on Old Faithful (7.2 s against 3.8 s; thousands of tiny regions) and did not help a large
fit beside busy processes (bench/bench_busy.py), so torch's own wait policy stays.

GMM_STUDIO_THREADS=N fixes the count; GMM_STUDIO_THREADS=torch-defaults leaves torch's choice alone.
"""

from __future__ import annotations

import os

SMALL_WORK = 100_000  # points x components x restarts per iteration below which one thread is as fast
_DEFAULT: int | None = None  # torch's own thread count, taken before the first change


def threads_for(work: int) -> int | None:
    """The thread count for a fit of `work` point-component-restart products (None: leave torch's)."""
    setting = os.environ.get("GMM_STUDIO_THREADS", "")
    if setting == "torch-defaults":
        return None
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    return 1 if work < SMALL_WORK else _default_threads()


def _default_threads() -> int:
    global _DEFAULT
    if _DEFAULT is None:
        import torch

        _DEFAULT = torch.get_num_threads()
    return _DEFAULT


def use_threads_for(work: int) -> None:
    """Set torch's intra-op thread count for a fit of this size (process-wide; only when it changes)."""
    import torch

    want = threads_for(work)
    _default_threads()
    if want is not None and torch.get_num_threads() != want:
        torch.set_num_threads(want)
