"""Data in: the mixture sampler (with the forum preset) and loaders for text tables, .npy and .npz.

Every malformed input raises DataError (or ParamsError) with the file, line, column, value and what to do.
"""

from __future__ import annotations

import io
import stat
from pathlib import Path

import numpy as np

from ..errors import DataError, ParamsError
from ..runtime.limits import available_memory, human
from .dataset import Dataset
from .formats import Format, format_of

# The forum recipe's data with its second covariance made symmetric (the recipe's [[3, -0.3], [-2, 9]] is
# not a covariance; NumPy only warns and samples anyway).
FORUM_PRESET = {
    "description": "The Pyro forum recipe's data: weights (2/8, 5/8, 1/8), means (1, 2), (5, 6), (3, 1); "
    "the second covariance is the symmetric [[3, -0.3], [-0.3, 9]] in place of the recipe's "
    "non-symmetric [[3, -0.3], [-2, 9]].",
    "weights": [2 / 8, 5 / 8, 1 / 8],
    "means": [[1.0, 2.0], [5.0, 6.0], [3.0, 1.0]],
    "covariances": [[[1.0, 0.2], [0.2, 1.5]], [[3.0, -0.3], [-0.3, 9.0]], [[1.2, 0.4], [0.4, 1.3]]],
}


# ---------------------------------------------------------------------------------------------- generator
def check_mixture(weights, means, covariances, where: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate mixture parameters; return them as float64 arrays (K,), (K, D), (K, D, D).

    Refuses a non-symmetric or non-positive-definite covariance, naming the component and entries.
    """
    prefix = f"{where}: " if where else ""
    for name, value in (("weights", weights), ("means", means), ("covariances", covariances)):
        bad = first_non_number(value)
        if bad is not None:
            raise ParamsError(f"{prefix}{name} must hold numbers only, found {bad!r}: fix the file")
    try:
        w = np.asarray(weights, dtype=np.float64)
        m = np.asarray(means, dtype=np.float64)
        c = np.asarray(covariances, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ParamsError(
            f"{prefix}weights, means and covariances must be numbers in nested lists of equal lengths ({exc})"
        ) from None
    if w.ndim != 1 or m.ndim != 2 or c.ndim != 3 or not (w.shape[0] == m.shape[0] == c.shape[0]):
        raise ParamsError(
            f"{prefix}expected weights (K,), means (K, D) and covariances (K, D, D) with the same K; got "
            f"shapes {w.shape}, {m.shape}, {c.shape}"
        )
    k, d = m.shape
    if c.shape[1:] != (d, d):
        raise ParamsError(f"{prefix}covariances must be {d}x{d} matrices for {d}-D means, got {c.shape[1:]}")
    for name, arr in (("weights", w), ("means", m), ("covariances", c)):
        if not np.all(np.isfinite(arr)):
            raise ParamsError(f"{prefix}{name} contain a value that is not a finite number: fix the file")
    if np.any(w < 0) or not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
        raise ParamsError(f"{prefix}weights must be >= 0 and sum to 1, got {w.tolist()} (sum {w.sum():.6g})")
    for j in range(k):
        _check_covariance(c[j], j, prefix)
    return w, m, c


def first_non_number(value) -> object | None:
    """The first leaf of nested lists (or an array) that is not a real number (a string, a bool, None), else None."""
    if isinstance(value, np.ndarray):
        return (
            None
            if value.dtype.kind in "iuf"
            else (value.dtype if value.dtype.kind != "O" else first_non_number(value.tolist()))
        )
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, bool) or not isinstance(item, (int, float, np.integer, np.floating)):
            return item
    return None


def _check_covariance(cov: np.ndarray, j: int, prefix: str) -> None:
    d = cov.shape[0]
    for a in range(d):
        for b in range(a + 1, d):
            if not np.isclose(cov[a, b], cov[b, a], rtol=1e-9, atol=1e-12):
                raise ParamsError(
                    f"{prefix}covariance of component {j} is not symmetric: entry [{a}][{b}] = {cov[a, b]:g} "
                    f"but [{b}][{a}] = {cov[b, a]:g}; a covariance matrix must equal its transpose"
                )
    eig = np.linalg.eigvalsh(cov)
    if eig[0] <= 0:
        raise ParamsError(
            f"{prefix}covariance of component {j} ({cov.tolist()}) is not positive definite (smallest "
            f"eigenvalue {eig[0]:.4g}): make the diagonal larger than the off-diagonal entries allow"
        )


def sample_mixture(weights, means, covariances, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw n points: each point's component from the weights, then the point from its Gaussian.

    Returns points (n, D) and their true components (n,).
    """
    if not isinstance(n, int) or n < 1:
        raise ParamsError(f"the number of points must be a whole number >= 1, got {n!r}")
    w, m, c = check_mixture(weights, means, covariances)
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(w), size=n, p=w / w.sum())
    chol = np.linalg.cholesky(c)
    z = rng.standard_normal((n, m.shape[1]))
    points = m[labels] + np.einsum("nij,nj->ni", chol[labels], z)
    return points, labels


TABLE_FORMATS = (".csv", ".tsv", ".npy", ".npz", ".parquet")  # what table_bytes writes


def forum_sample(n: int = 1000, seed: int = 0) -> np.ndarray:
    """n points (n, 2) of the forum preset: the demo data, and what the benchmarks and tests fit."""
    p = FORUM_PRESET
    return sample_mixture(p["weights"], p["means"], p["covariances"], n, seed)[0]


def table_bytes(points: np.ndarray, labels: np.ndarray, suffix: str) -> bytes:
    """Generated points (N, D) and their components (N,) as the file format `suffix` names: .csv/.tsv (columns
    x0..x{D-1}, component; shortest round-trip decimals), .npy (the points, N x D float64), .npz (arrays
    'data' and 'component') or .parquet (float64 columns x0..x{D-1}, int64 component)."""
    d = points.shape[1]
    if suffix in (".csv", ".tsv"):
        sep = "," if suffix == ".csv" else "\t"
        lines = [sep.join([*(f"x{i}" for i in range(d)), "component"])]
        lines += [
            sep.join([*(repr(float(v)) for v in row), str(int(lab))]) for row, lab in zip(points, labels, strict=True)
        ]
        return ("\n".join(lines) + "\n").encode()
    buf = io.BytesIO()
    if suffix == ".npy":
        np.save(buf, np.ascontiguousarray(points, dtype=np.float64), allow_pickle=False)
    elif suffix == ".npz":
        np.savez(buf, data=np.ascontiguousarray(points, dtype=np.float64), component=labels.astype(np.int64))
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = {f"x{i}": np.ascontiguousarray(points[:, i], dtype=np.float64) for i in range(d)}
        pq.write_table(pa.table({**columns, "component": labels.astype(np.int64)}), buf)
    else:
        raise DataError(f"unknown data format {suffix!r}: use {', '.join(TABLE_FORMATS)}")
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ loaders
def load(
    path: str | Path, columns: list[str | int] | None = None, at_most: int | None = None, missing: bool = False
) -> Dataset:
    """Load a data file (CSV/TSV/whitespace text, .npy, .npz, .parquet) and pick the chosen columns: 0-based indices,
    header names, ranges such as '1-4' (inclusive) or 'all' (see `resolve_columns`). By default every numeric
    column but a leading row-index column, the first `at_most` of them when given. missing: a missing value (an
    empty or NA field, a Parquet null, a NaN) reads as NaN, and a row missing every chosen column is refused with its
    line (observed.check_observed_rows); else a missing value is refused with a line naming --missing em."""
    ds = load_cells(path, columns, at_most, missing)
    if missing:
        from .observed import check_observed_rows

        check_observed_rows(Path(path), ds.points, ds.columns)
    return ds


def load_cells(
    path: str | Path, columns: list[str | int] | None = None, at_most: int | None = None, missing: bool = False
) -> Dataset:
    """load without the check of rows with every value missing (a weights' column: weighted.py names its own)."""
    path = Path(path)
    fmt = format_of(path)
    return fmt.load(path, read_regular_file(path, fmt), columns, at_most, missing)


def read_regular_file(path: Path, fmt: Format) -> bytes:
    """The bytes of a regular file, refusing a folder, a device or FIFO (which could hang or never end) and a
    file whose parsing would not fit in the available memory."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file: check the path") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror}): check the path and its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: is a folder, not a data file")
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path}: is not a regular file (a device, FIFO or socket): save the data to a file first")
    need = fmt.memory(path, st.st_size)
    available = available_memory()
    if need > available:
        raise DataError(
            f"{path}: {human(st.st_size)} would need about {human(need)} of memory to load but "
            f"{human(available)} is available: use a sample of the file"
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror}): check its permissions") from None


def column_names(path: str | Path) -> list[str]:
    """The names of all the columns of a data file, as `load` names them (for a column picker)."""
    path = Path(path)
    fmt = format_of(path)
    return fmt.names(path, read_regular_file(path, fmt))
