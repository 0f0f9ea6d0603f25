"""How the engine's compute threads wait, set before torch loads.

torch's CPU kernels run on OpenMP threads that, by default, spin for a while after each parallel region
waiting for more work. On an idle machine that saves microseconds; on a machine whose cores other processes
keep busy, the spinning threads fight those processes and each other for the cores, and a fit that takes
0.7 s alone took 46 s. Passive waiting (threads sleep when out of work) keeps the alone-time and degrades
gracefully when the cores are shared (bench/bench_busy.py measures both).

GMM_STUDIO_THREADS=torch-defaults leaves torch's own settings (for that benchmark's comparison).
"""

from __future__ import annotations

import os


def before_torch() -> None:
    """Ask OpenMP (GNU and Intel runtimes) to sleep rather than spin when out of work; a user's own setting
    of these variables wins."""
    if os.environ.get("GMM_STUDIO_THREADS") == "torch-defaults":
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("KMP_BLOCKTIME", "0")
