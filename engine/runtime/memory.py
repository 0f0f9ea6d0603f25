"""Giving freed memory back to the operating system.

glibc keeps memory that NumPy and torch free in its heaps for reuse; after the initialisation's temporaries (k-means++'s
distances, the one-hot assignments: tens of MB each at N = 1e6) it held 50-300 MB that the fit never used again, and
the peak of a fit of 1e6 points in 30-D varied from 1.4 to 3.4 times the data from run to run (bench/bench_dims.py).
malloc_trim(0) returns it. Elsewhere (macOS, Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")  # glibc's soname (find_library would run ldconfig in a subprocess)
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_free_memory() -> None:
    """Hand the C heap's free memory back to the system (a few ms; call after large temporaries, not per step)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
