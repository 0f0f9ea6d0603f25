"""Memory estimates of what a request asks for, checked against the machine's available memory before any
work starts: a request that cannot fit is refused with the estimate and the largest value that fits.

The fit's coefficients were measured (peak resident memory above the interpreter's, 5 iterations of exact EM
in float64): 29-42 bytes per restart x point x component at D = 2 and 5, plus the data and its quadratic
features (N x (D + P) float64, P = 1 + D + D(D+1)/2).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError

BYTES_PER_RNK = 48  # a little above the measured 29-42: an estimate must not let a request through that fails
BYTES_PER_GENERATED_VALUE = 48  # points, normals, the component draws and the CSV text of one value
# Seeds are summed with restart indices and offsets before they reach torch's 64-bit generator.
MAX_SEED = 2**62
# Dimensions a data set may have (issue 11 aims at D = 1 .. 64; more is refused, not silently slow).
MAX_FEATURES = 64
# Iterations and restarts a fit may ask for (a session file or a config could ask for 1e15: it ran for ever). A
# million iterations of EM on small data take hours; beyond is a mistake, not a setting.
MAX_ITER = 10**6
MAX_RESTARTS = 10**6


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (MemAvailable on Linux; 2**62, no limit, where the
    system does not say)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown (Windows without /proc): no refusal


def fit_bytes(n: int, d: int, k: int, restarts: int, factor: float = 1.0) -> int:
    """Estimated peak memory of a fit of n points in d dimensions with k components and `restarts`; factor: the
    algorithm's working arrays per point, component and restart against exact EM's (Algorithm.memory_factor)."""
    p = 1 + d + d * (d + 1) // 2
    per_rnk = int(BYTES_PER_RNK * factor)
    return per_rnk * restarts * n * k + 8 * n * (d + p) * 2 + 8 * restarts * k * (d * d + d + 1) * 4


def human(n_bytes: float) -> str:
    """'6.4 GB', in the units parse_size reads (1 KB = 1024 B: '--memory-limit 64M' is shown as 64 MB, not as
    67.1 MB)."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n_bytes) < 1024 or unit == "PB":
            return f"{n_bytes:.3g} {unit}" if unit != "B" else f"{int(n_bytes)} B"
        n_bytes /= 1024
    return f"{n_bytes:.3g} PB"


def _largest(fits, upper: int) -> int:
    """The largest value v in [0, upper] with fits(v) (fits is monotone: true up to some value)."""
    lo, hi = 0, upper
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def restarts_that_fit(n: int, d: int, k: int, restarts: int, limit: int, factor: float = 1.0) -> int:
    """The most restarts, at most `restarts`, whose fit of n points in d dimensions with k components stays within
    limit bytes by fit_bytes' estimate (0: not even one); factor: the algorithm's (fit_bytes)."""
    return _largest(lambda r: fit_bytes(n, d, k, r, factor) <= limit, restarts)


def check_fit_memory(n: int, d: int, k: int, restarts: int, available: int | None = None, factor: float = 1.0) -> None:
    """Refuse a fit whose estimate exceeds the available memory, naming the largest restarts (or K) that fit."""
    available = available_memory() if available is None else available
    need = fit_bytes(n, d, k, restarts, factor)
    if need <= available:
        return
    most_restarts = _largest(lambda r: fit_bytes(n, d, k, r, factor) <= available, restarts)
    if most_restarts >= 1:
        raise UserError(
            f"{restarts:,} restarts of K={k} on {n:,} points need about {human(need)} of memory but "
            f"{human(available)} is available: use at most {most_restarts:,} restarts"
        )
    most_k = _largest(lambda kk: fit_bytes(n, d, kk, 1, factor) <= available, k)
    if most_k >= 1:
        raise UserError(
            f"K={k:,} components on {n:,} points need about {human(need)} of memory but "
            f"{human(available)} is available: use at most {most_k:,} components"
        )
    raise UserError(
        f"a fit of {n:,} points needs about {human(need)} of memory but {human(available)} is available:"
        " use a sample of the data"
    )


def check_selection(n: int, d: int, k_max: int, restarts: int, data_name: str, k_setting: str) -> None:
    """Refuse a model-selection grid before any fit: more components than points (k_setting names the setting
    to change, as the user sees it), or more memory than there is for its largest fit."""
    if k_max > n:
        raise UserError(
            f"{k_setting} asks for up to {k_max:,} components but {data_name} has {n:,} points: "
            f"set {k_setting} at most {n:,}"
        )
    check_fit_memory(n, d, k_max, restarts)


def generate_bytes(n: int, d: int) -> int:
    return BYTES_PER_GENERATED_VALUE * n * (d + 1)


def check_generate_memory(n: int, d: int, available: int | None = None) -> None:
    """Refuse generating n points when the estimate exceeds the available memory."""
    available = available_memory() if available is None else available
    need = generate_bytes(n, d)
    if need > available:
        most = _largest(lambda m: generate_bytes(m, d) <= available, n)
        raise UserError(
            f"{n:,} points need about {human(need)} of memory but {human(available)} is available: "
            f"use at most --n {most:,}"
        )


def check_seed(seed, what: str = "seed") -> int:
    """A seed as an int in 0..MAX_SEED, else UserError."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UserError(f"{what} must be a whole number from 0 to {MAX_SEED} (2**62), got {seed!r}")
    return seed


MEMORY_SHARE = 0.25  # the default --memory-limit: this share of the machine's memory


def default_memory_limit() -> int:
    """Bytes of data a fit holds in memory by default: MEMORY_SHARE of the machine's RAM (4 GiB if unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * MEMORY_SHARE)
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def parse_size(text: str, what: str = "--memory-limit") -> int:
    """'256M', '2G', '1.5GB', '1000000' (bytes) -> bytes; UserError names the setting (what) and what it takes."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    number = t[:-1] if t[-1:] in "KMGT" else t
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise UserError(f"{what} takes a size such as 256M, 2G or 1000000 (bytes), got {text!r}")
    return int(value * factor)


def chunk_rows_for(limit: int, n_features: int, restarts: int = 1) -> int:
    """Rows per chunk so that what a chunk holds stays within limit bytes: the rows as read and in float64, their
    standardised copy, and each restart's log p(x) (8 bytes each)."""
    per_row = 8 * (3 * n_features + restarts)
    return max(1024, limit // per_row)
