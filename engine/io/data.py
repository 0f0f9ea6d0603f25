"""Data in: the mixture sampler (with the forum preset) and loaders for text tables, .npy and .npz.

Every malformed input raises DataError (or ParamsError) with the file, line, column, value and what to do.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, ParamsError
from ..runtime.limits import available_memory, human

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


@dataclass(frozen=True)
class Dataset:
    """Points (N, D) float64 with the names and 0-based file columns they came from."""

    points: np.ndarray
    columns: tuple[str, ...]
    column_indices: tuple[int, ...]
    source: str
    notes: tuple[str, ...] = ()  # how the file was read, where a user should know (decimal commas)

    @property
    def sha256(self) -> str:
        return points_sha256(self.points)


def unnamed_columns(d: int) -> tuple[str, ...]:
    """The names of d columns that have none (a .npy, a text table without a header, generated or drawn data):
    x0, x1, ..., the same in memory, by chunks, in the window and at the command line; 0-based as --columns."""
    return tuple(f"x{j}" for j in range(d))


def points_sha256(points: np.ndarray) -> str:
    """SHA-256 of the points as little-endian float64, C order: identifies the data a fit was made on."""
    return hashlib.sha256(np.ascontiguousarray(points, dtype="<f8").tobytes()).hexdigest()


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
def load(path: str | Path, columns: list[str | int] | None = None, at_most: int | None = None) -> Dataset:
    """Load a data file (CSV/TSV/whitespace text, .npy, .npz, .parquet) and pick the chosen columns: 0-based indices,
    header names, ranges such as '1-4' (inclusive) or 'all' (see `resolve_columns`). By default every numeric
    column but a leading row-index column, the first `at_most` of them when given."""
    path = Path(path)
    raw = read_regular_file(path)
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        array, names = _load_numpy(path, raw, suffix)
        return _pick_array_columns(path, array, names, columns, at_most)
    if suffix == ".parquet":
        return _load_parquet(path, raw, columns, at_most)
    return _load_text(path, raw, columns, at_most)


# A text table takes ~20x its file size in memory while it is parsed (lines, fields, the float table).
TEXT_MEMORY_FACTOR = 20


def read_regular_file(path: Path) -> bytes:
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
    suffix = path.suffix.lower()
    need = st.st_size + _numpy_bytes(path, suffix) if suffix in (".npy", ".npz") else st.st_size * TEXT_MEMORY_FACTOR
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


def _numpy_bytes(path: Path, suffix: str) -> int:
    """Bytes the arrays of a .npy or .npz file take once loaded, from the .npy headers (and, in a .npz, each
    member's uncompressed size: a small archive may inflate to gigabytes), read before any array is; DataError for
    a header that claims more data than its file or member holds. A file that is no NumPy file: 0 (the loader
    says what it is)."""
    try:
        if suffix == ".npy":
            with open(path, "rb") as f:
                return _claimed_bytes(path, f, path.stat().st_size, "the file")
        with zipfile.ZipFile(path) as archive:
            total = 0
            for info in archive.infolist():
                if info.filename.endswith(".npy"):
                    with archive.open(info) as f:
                        total += _claimed_bytes(path, f, info.file_size, f"member {info.filename!r}")
            return total
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, RuntimeError, NotImplementedError):
        return 0  # not readable as NumPy: _load_numpy names the problem


def _claimed_bytes(path: Path, f, size: int, where: str) -> int:
    """The bytes of the array whose .npy header starts the open file f (of `size` bytes); DataError if the header
    claims more than the data there."""
    version = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(f, max_header_size=1 << 20)
    claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    data = size - f.tell()
    if dtype.kind != "O" and claimed > data:
        raise DataError(
            f"{path}: {where} has a header that says {' x '.join(map(str, shape)) or 'one'} values of {dtype} "
            f"({human(claimed)}) but holds {human(data)} of data: it is truncated or its header is damaged; save it "
            "again with numpy.save"
        )
    return claimed


def column_names(path: str | Path) -> list[str]:
    """The names of all the columns of a data file, as `load` names them (for a column picker)."""
    path = Path(path)
    raw = read_regular_file(path)
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        return _load_numpy(path, raw, suffix)[1]
    if suffix == ".parquet":
        return list(_parquet_table(path, raw).column_names)
    return _header(_text_rows(path, raw, limit=1)[0][1])[1]


def _header(first: list[str]) -> tuple[bool, list[str]]:
    """Whether a table's first row is a header (not all numbers), and the column names it gives (a blank or
    absent name is xj, as unnamed_columns names it)."""
    has_header = not all(_is_number(f) or _DECIMAL_COMMA.fullmatch(f) for f in first if f != "")  # '1,500' no name
    return has_header, [h if has_header and h else f"x{j}" for j, h in enumerate(first)]


NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK"


def _load_numpy(path: Path, raw: bytes, suffix: str) -> tuple[np.ndarray, list[str]]:
    if suffix == ".npy" and not raw.startswith(NPY_MAGIC):
        raise DataError(
            f"{path}: not a NumPy .npy file: bad magic (it starts with {raw[:6]!r}, not "
            f"{NPY_MAGIC!r}): save it with numpy.save, or give a text table a .csv name"
        )
    if suffix == ".npz" and not raw.startswith(ZIP_MAGIC):
        raise DataError(
            f"{path}: not a NumPy .npz file: bad magic (it starts with {raw[:4]!r}, not a zip "
            "archive): save it with numpy.savez"
        )
    try:
        loaded = np.load(io.BytesIO(raw), allow_pickle=False)
        if suffix == ".npz":  # members load lazily: read them here, where a pickled one is caught
            loaded = _npz_arrays(path, loaded)
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(
                f"{path}: holds pickled Python objects, which GMM Studio never loads (unsafe): "
                "save a plain numeric array with numpy.save"
            ) from None
        raise DataError(f"{path}: is not a valid {suffix} file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: is not a valid {suffix} file ({exc}): save it with numpy.save/savez") from None
    if suffix == ".npz":
        keys = list(loaded.keys())
        if not keys:
            raise DataError(f"{path}: the .npz archive holds no arrays")
        preferred = [k for k in ("data", "X", "x", "points") if k in keys]
        two_d = [k for k in keys if loaded[k].ndim == 2]
        key = preferred[0] if preferred else (two_d[0] if len(two_d) == 1 else None)
        if key is None:
            raise DataError(f"{path}: holds arrays {keys}; name the points array 'data' (N x 2) and save again")
        array = _as_table(loaded[key])
        return array, [f"{key}[:, {j}]" for j in range(array.shape[1] if array.ndim == 2 else 0)]
    array = _as_table(loaded)
    return array, list(unnamed_columns(array.shape[1] if array.ndim == 2 else 0))


def _npz_arrays(path: Path, npz) -> dict[str, np.ndarray]:
    """The .npy members of an open .npz archive by name; DataError naming the members when none is an array (a
    text file zipped as .npz: NumPy returns its bytes)."""
    arrays = {}
    others = []
    for key in npz.files:
        value = npz[key]
        if isinstance(value, np.ndarray):
            arrays[key] = value
        else:
            others.append(key)
    if not arrays and others:
        raise DataError(
            f"{path}: the archive holds no NumPy array: its members {', '.join(map(repr, others))} are not .npy "
            "files; save the points with numpy.savez"
        )
    return arrays


PARQUET_MAGIC = b"PAR1"


def _parquet_table(path: Path, raw: bytes):
    """The file's pyarrow Table, or a DataError that says what is wrong."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not (raw.startswith(PARQUET_MAGIC) and raw.endswith(PARQUET_MAGIC)):
        raise DataError(
            f"{path}: not a Parquet file: bad magic (it starts with {raw[:4]!r}, not {PARQUET_MAGIC!r}): save it "
            "with pandas' to_parquet or pyarrow, or give a text table a .csv name"
        )
    try:
        names = pq.ParquetFile(pa.BufferReader(raw)).schema_arrow.names
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{path}: is not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    check_unique_names(path, names)
    try:
        return pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{path}: is not a readable Parquet file ({str(exc).splitlines()[0]})") from None


def check_unique_names(path: Path, names: list[str]) -> None:
    """DataError when two columns share a name (pyarrow's reader refuses them in many lines; a name must pick one
    column)."""
    seen: dict[str, int] = {}
    for j, name in enumerate(names):
        if name in seen:
            raise DataError(
                f"{path}: columns {seen[name]} and {j} are both named {name!r}: give the file's columns distinct "
                "names (pandas: df.columns = [...]; pyarrow: table.rename_columns([...]))"
            )
        seen[name] = j


def _load_parquet(path: Path, raw: bytes, columns, at_most: int | None) -> Dataset:
    """Parquet: columns by name or position; by default every numeric column but a leading row index (pandas'
    '__index_level_0__', or named like an index) and a class label (see _data_columns)."""
    import pyarrow.types as pt

    table = _parquet_table(path, raw)
    names = list(table.column_names)
    if table.num_rows == 0:
        raise DataError(f"{path}: the Parquet table has no rows")
    types = [f.type for f in table.schema]
    numeric = [j for j, t in enumerate(types) if pt.is_integer(t) or pt.is_floating(t)]
    if columns is None:
        numeric = _data_columns(
            names,
            numeric,
            lambda j: [str(v) for v in table.column(j).slice(0, 1000).to_pylist()],
            lambda j, kind: guess_holds(kind, [table.column(j).to_numpy(zero_copy_only=False)]),
        )
    idx = resolve_columns(path, columns, names, numeric, at_most)
    for j in idx:
        if not (pt.is_integer(types[j]) or pt.is_floating(types[j])):
            raise DataError(f"{path}: column {j} ({names[j]!r}) holds {types[j]}, not numbers: choose numeric columns")
    points = np.column_stack([table.column(j).to_numpy(zero_copy_only=False).astype(np.float64) for j in idx])
    _check_finite(path, points, idx, names, " (a missing value reads as nan)")
    return Dataset(points, tuple(names[j] for j in idx), tuple(idx), str(path))


def _check_finite(
    path: Path, points: np.ndarray, idx: list[int], names: list[str] | None = None, note: str = ""
) -> None:
    """DataError naming the first non-finite value of points (N, len(idx)): its row and file column."""
    bad = np.argwhere(~np.isfinite(points))
    if bad.size:
        row, j = bad[0]
        name = f" ({names[idx[j]]!r})" if names is not None else ""
        raise DataError(
            f"{path}: row {row}, column {idx[j]}{name}: value {points[row, j]} is not a finite number{note}: "
            "remove or fill that row"
        )


def _data_columns(names: list[str], numeric: list[int], values, whole=None) -> list[int]:
    """Of the numeric columns, those that hold data by default: not a leading row index, nor a class label
    (`generate` writes 'component'), while another column remains. values(j): column j's first values as text, which
    suggest a guess; whole(j, kind) (None: the values are the whole column) settles it on the whole column (see
    guess_holds): a column 0..999 and then measurements is data."""

    def holds(j: int, kind: str) -> bool:
        return whole is None or whole(j, kind)

    first = names[0].strip().lower() if names else ""
    if len(numeric) > 1 and numeric[0] == 0 and _is_index_column(names[0], values(0)):
        if first in INDEX_NAMES or holds(0, "index"):
            numeric = numeric[1:]
    if len(numeric) > 1:
        numeric = [j for j in numeric if not (_is_label_column(names[j], values(j)) and holds(j, "label"))] or numeric
    return numeric


def guess_holds(kind: str, pieces) -> bool:
    """Whether a whole column, given as arrays in order (its chunks), is a row index (kind 'index': 0..N-1 or 1..N
    in order) or a class label ('label': whole numbers 0..999)."""
    count, start = 0, None
    for piece in pieces:
        piece = np.asarray(piece, dtype=np.float64).ravel()
        if not len(piece):
            continue
        if kind == "index":
            start = piece[0] if start is None else start
            expected = np.arange(count, count + len(piece), dtype=np.float64) + start
            if start not in (0.0, 1.0) or not np.array_equal(piece, expected):
                return False
        elif not (np.all(np.floor(piece) == piece) and piece.min() >= 0 and piece.max() < LABEL_LIMIT):
            return False
        count += len(piece)
    return count > 2 if kind == "index" else count > 0


def _as_table(array: np.ndarray) -> np.ndarray:
    """A 1-D array is N points of one dimension: an (N, 1) table."""
    return array.reshape(-1, 1) if array.ndim == 1 else array


def _pick_array_columns(path: Path, array: np.ndarray, names: list[str], columns, at_most: int | None) -> Dataset:
    if array.dtype.kind not in "biuf":
        raise DataError(f"{path}: array has dtype {array.dtype}, not numbers: save a float array")
    if array.ndim != 2:
        raise DataError(f"{path}: array has shape {array.shape}; GMM Studio needs a table of points (N x D)")
    if array.shape[0] == 0:
        raise DataError(f"{path}: array has no rows")
    if array.shape[1] == 0:
        raise DataError(f"{path}: array has no columns")
    idx = resolve_columns(path, columns, names, list(range(array.shape[1])), at_most)
    points = array[:, idx].astype(np.float64)
    _check_finite(path, points, idx)
    return Dataset(points, tuple(names[i] for i in idx), tuple(idx), str(path))


_RANGE = re.compile(r"\s*(\d+)\s*-\s*(\d+)\s*")


def resolve_columns(path: Path, columns, names: list[str], numeric: list[int], at_most: int | None = None) -> list[int]:
    """0-based column indices for the choice, else the numeric ones (the first `at_most` when given).

    Each item of columns is an index (0-based), a header name, a range 'a-b' of indices (inclusive) or 'all'
    (every column); 'name:TEXT' is always a name, 'index:N' always an index (an item that is both is refused). The
    chosen columns must be different."""
    if columns is None:
        if not numeric:
            raise DataError(
                f"{path}: found no numeric column ({', '.join(names)}); GMM Studio needs at least one: choose "
                "columns with --columns"
            )
        return numeric[:at_most] if at_most is not None else numeric
    out: list[int] = []
    for c in columns:
        out += _one_column_spec(path, c, names)
    if not out:
        raise DataError(f"{path}: no columns chosen: name at least one (the columns are {', '.join(map(repr, names))})")
    seen: set[int] = set()
    for i in out:
        if i in seen:
            raise DataError(f"{path}: column {i} ({names[i]!r}) is chosen twice: choose each column once")
        seen.add(i)
    return out


def _one_column_spec(path: Path, c, names: list[str]) -> list[int]:
    """The indices one item of a column choice names: an index, a name, a range 'a-b', 'all', or explicitly
    'name:TEXT' or 'index:N' / 'index:a-b'. An item that is both a header name and an index (or range) of other
    columns ('0' with a header '1,0,z') is refused as ambiguous, saying how to write each."""
    if not isinstance(c, str):
        return _indices(path, str(c), names)
    text = c.strip()
    kind, _, rest = text.partition(":")
    if kind.strip().lower() == "name" and rest:
        if rest.strip() not in names:
            raise DataError(f"{path}: no column named {rest.strip()!r}; the columns are {', '.join(map(repr, names))}")
        return [names.index(rest.strip())]
    if kind.strip().lower() == "index" and rest:
        return _indices(path, rest.strip(), names)
    if text.lower() == "all" and text not in names:
        return list(range(len(names)))
    if text in names:
        j = names.index(text)
        as_index = _as_index(text, len(names))
        if as_index is not None and as_index != [j]:
            others = ", ".join(f"{i} ({names[i]!r})" for i in as_index)
            raise DataError(
                f"{path}: column {text!r} is ambiguous: column {j} is named {text!r}, and as an index it means column "
                f"{others}: write name:{text} for the column named so, or index:{text} for the place"
            )
        return [j]
    return _indices(path, text, names)


def _as_index(text: str, width: int) -> list[int] | None:
    """The columns an index ('2') or range ('1-4') names among width columns; None if text is neither or out of
    range."""
    m = _RANGE.fullmatch(text)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        return list(range(lo, hi + 1)) if lo <= hi < width else None
    if text.isascii() and text.isdigit():  # '²' is a digit to str, not to int
        return [int(text)] if int(text) < width else None
    return None


def _indices(path: Path, text: str, names: list[str]) -> list[int]:
    """The columns an index, a negative index or a range names, else DataError saying what the columns are."""
    listing = f"the file has columns 0..{len(names) - 1} ({', '.join(map(repr, names))})"
    m = _RANGE.fullmatch(text)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi or hi >= len(names):
            raise DataError(f"{path}: column range {text!r} is not within the columns: {listing}")
        return list(range(lo, hi + 1))
    if not (text.lstrip("-").isascii() and text.lstrip("-").isdigit()):
        raise DataError(f"{path}: no column named {text!r}; the columns are {', '.join(map(repr, names))}")
    if not 0 <= int(text) < len(names):
        raise DataError(f"{path}: column index {int(text)} is out of range: {listing}")
    return [int(text)]


def _decode(path: Path, raw: bytes) -> str:
    if not raw.strip():
        raise DataError(f"{path}: the file is empty: it needs a table of numbers (one point per line)")
    encoding = _wide_text(raw[:4096])
    if encoding:
        raise DataError(f"{path}: is {encoding} text: save it as UTF-8 (a spreadsheet's 'CSV UTF-8') and open it again")
    if b"\x00" in raw[:4096]:
        raise DataError(f"{path}: looks like a binary file, not a text table: export it as CSV")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            return raw.decode("latin-1") if _mostly_printable(raw) else _raise_binary(path, exc)
        except UnicodeDecodeError:
            _raise_binary(path, exc)


def _wide_text(head: bytes) -> str:
    """'UTF-16' or 'UTF-32' when the file's first bytes are text in one of them (by its byte-order mark, or ASCII
    characters with their zero bytes), else ''."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "UTF-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    whole = head[: len(head) // 4 * 4]  # whole characters of either width
    if len(whole) >= 8:
        for width, name in ((4, "UTF-32"), (2, "UTF-16")):
            for lane in range(width):  # the byte of each character that holds it (little- or big-endian)
                zeros = (whole[other::width] for other in range(width) if other != lane)
                if all(not z.strip(b"\x00") for z in zeros) and _plain_ascii(whole[lane::width]):
                    return name
    return ""


PRINTABLE = frozenset([*range(32, 127), 9, 10, 13])  # ASCII a text table holds: printable, tab, line ends


def _plain_ascii(text: bytes) -> bool:
    return all(b in PRINTABLE for b in text)


def _mostly_printable(raw: bytes) -> bool:
    sample = raw[:4096]
    printable = sum(b in PRINTABLE for b in sample)
    return printable / max(len(sample), 1) > 0.95


def _raise_binary(path: Path, exc: Exception):
    raise DataError(f"{path}: looks like a binary file, not a text table ({exc}): export it as CSV") from None


def _delimiter(lines: list[str]) -> str | None:
    """The delimiter of the first line that most of the first five lines share (so that one short line is
    reported as a row with too few fields, not as a file of one column); None: whitespace."""
    sample = lines[: min(len(lines), 5)]
    if all(";" in line for line in sample) and any("," in line for line in sample):
        return ";"  # European CSV: ';' between fields, ',' the decimal mark
    for delim in ("\t", ",", ";"):
        if delim in sample[0] and 2 * sum(delim in line for line in sample) > len(sample):
            if delim == "," and _spaced_decimal_commas(sample):
                return None  # '1,5 2,25': spaces between the fields, ',' the decimal mark
            return delim
    return None  # whitespace


def _spaced_decimal_commas(sample: list[str]) -> bool:
    """Lines such as '1,5 2,25' (spaces between the fields, ',' inside the numbers): split at the spaces every field
    is a number or a decimal-comma number, as many to a line, while split at the commas some field is not a
    number ('5 2'). Read at the commas such a file once gave the integer and fraction parts as columns."""
    widths = set()
    for line in sample:
        fields = _SPACES.split(line.strip(" \t"))
        if not all(_is_number(f) or _DECIMAL_COMMA.fullmatch(f) for f in fields):
            return False
        widths.add(len(fields))
    by_commas = [f.strip() for line in sample for f in line.split(",")]
    return len(widths) == 1 and not all(_is_number(f) for f in by_commas)


_SPACES = re.compile(r"[ \t]+")  # whitespace between the fields of a text table: ASCII spaces and tabs only


def _split(path: Path, lines: list[tuple[int, str]], delim: str | None) -> list[tuple[int, list[str]]]:
    if delim is None:
        return [(no, [f.strip('"').strip("'") for f in _SPACES.split(line.strip(" \t"))]) for no, line in lines]
    rows = []
    for no, line in lines:  # one line at a time: an unbalanced quote must not swallow the lines after it
        try:
            fields = next(csv.reader([line], delimiter=delim, skipinitialspace=True, strict=True))
        except csv.Error as exc:
            raise DataError(_csv_problem(path, no, line, delim, exc)) from None
        rows.append((no, [f.strip() for f in fields]))
    return rows


def _csv_problem(path: Path, no: int, line: str, delim: str, exc: csv.Error) -> str:
    """What csv's error on a line means for a user: a field past csv's length limit (a 5 MB value, no quote in
    sight), or a quote left open."""
    if "field larger than field limit" in str(exc):
        lengths = [len(f) for f in line.split(delim)]
        j = max(range(len(lengths)), key=lengths.__getitem__)
        return (
            f"{path}: line {no}, column {j}: a field of {lengths[j]:,} characters (the most a field may hold is "
            f"{csv.field_size_limit():,}): a value of a numeric table is a number; check the file's separator and "
            "that this is the file you meant"
        )
    return (
        f'{path}: line {no}: a quote (") is opened but not closed: every quoted field needs its closing quote on '
        "the same line"
    )


# What a CSV reader takes as a number: ASCII digits with an optional sign, point and exponent. Python's float()
# also takes '1_000', full-width digits and surrounding spaces, which a data file should not silently mean.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.ASCII | re.IGNORECASE)
# A decimal comma: digits, one comma, digits (European CSV files, with ';' between the fields).
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?", re.ASCII)


def _is_number(text: str) -> bool:
    """A number as a CSV reader writes it (non-finite words included: they are reported as such later)."""
    return bool(_NUMBER.fullmatch(text) or _NON_FINITE.fullmatch(text))


def _text_rows(path: Path, raw: bytes, limit: int | None = None) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank, non-comment line (of the first `limit` such lines)."""
    lines = _data_lines(path, _decode(path, raw), limit)
    delim = _delimiter([line for _, line in lines])
    return _decimal_commas(_split(path, lines, delim), delim)[0]


# Fields separated so: a ',' inside a number is its decimal mark (None: spaces).
COMMA_DELIMITERS = {";": "';'", "\t": "tabs", None: "spaces"}


def decimal_comma_note(delim: str | None) -> str:
    """How a file with decimal commas was read (the Dataset's note)."""
    return f"read ',' as the decimal mark (the fields are separated by {COMMA_DELIMITERS.get(delim, repr(delim))})"


def _decimal_commas(rows: list[tuple[int, list[str]]], delim: str | None) -> tuple[list[tuple[int, list[str]]], bool]:
    """With ';', tabs or spaces between fields, a field such as '1,5' is 1.5: the rows with such fields read with a
    decimal point, and whether any was found. With tabs or spaces only when that is unambiguous: no number with a
    decimal point beside them, and one comma at least not followed by exactly three digits (else '1,500' may be a
    thousand and a half: then nothing is changed, and a value that is not a number is named with the likely
    cause)."""
    if delim not in COMMA_DELIMITERS:
        return rows, False
    found = [f for _, fields in rows for f in fields if _DECIMAL_COMMA.fullmatch(f)]
    if not found or (delim != ";" and not _surely_decimal(found, rows)):
        return rows, False
    out = [(no, [f.replace(",", ".") if _DECIMAL_COMMA.fullmatch(f) else f for f in fields]) for no, fields in rows]
    return out, True


def _surely_decimal(commas: list[str], rows: list[tuple[int, list[str]]]) -> bool:
    """Fields with a comma are decimal numbers, not thousands: some comma is not followed by three digits, and no
    field holds a decimal point."""
    points = any("." in f and _NUMBER.fullmatch(f) for _, fields in rows for f in fields)
    return not points and any(len(f.split(",")[1].split("e")[0].split("E")[0]) != 3 for f in commas)


def _data_lines(path: Path, text: str, limit: int | None = None) -> list[tuple[int, str]]:
    """(line number, line) of every non-blank, non-comment line (of the first `limit` such lines). Lines end at
    \\n, \\r\\n or \\r only, as a CSV reader's do (str.splitlines also splits at U+0085 and U+2028, which a
    Latin-1 or Unicode header may hold inside a name)."""
    lines = []
    for no, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            lines.append((no, line))
            if limit is not None and len(lines) >= max(limit, 5):  # 5 lines decide the delimiter
                break
    if not lines:
        raise DataError(f"{path}: the file holds no data (only blank or comment lines)")
    return lines


# Spaces a number must not hold, nor a field of numbers: Unicode spaces other than the ASCII space and tab (a
# non-breaking or thin space grouping thousands, '1\u00a0000'), line and paragraph separators, and the invisible
# zero-width ones. NumPy's reader and str.strip() would take most of them as plain spaces.
_ODD_SPACE = re.compile(r"[^\S \t\r\n]|[\u200b\u200c\u200d\u2060\ufeff]")


def check_spaces(path: Path, lines: list[tuple[int, str]], delim: str | None, idx: list[int]) -> None:
    """DataError naming the line, column and character of the first field of the chosen columns idx, in the data
    lines (line number, text), that holds a space other than the ASCII space or tab (_ODD_SPACE). A column not
    chosen (names, words) may hold any."""
    chosen = set(idx)
    for no, line in lines:
        if line.isascii():
            continue
        for m in _ODD_SPACE.finditer(line):
            column = _field_at(line, m.start(), delim)
            if column not in chosen:
                continue
            char = m.group()
            name = unicodedata.name(char, "space").lower()
            raise DataError(
                f"{path}: line {no}, column {column}: the value holds U+{ord(char):04X} ({name}), which is no part "
                "of a number: remove it (a data file does not group digits), or separate the fields with plain "
                "spaces, commas or tabs"
            )


def _field_at(line: str, position: int, delim: str | None) -> int:
    """The 0-based field of a line that character `position` lies in (quotes aside)."""
    before = line[:position]
    if delim is not None:
        return before.count(delim)
    return len(_SPACES.split(before.lstrip(" \t"))) - 1 if before.strip(" \t") else 0


# Rows read field by field to settle the structure (header, columns, index columns) before the fast parse.
STRUCTURE_ROWS = 1001


def _load_text(path: Path, raw: bytes, columns, at_most: int | None) -> Dataset:
    lines = _data_lines(path, _decode(path, raw))
    delim = _delimiter([line for _, line in lines])
    head, commas = _decimal_commas(_split(path, lines[:STRUCTURE_ROWS], delim), delim)
    body = lines[1:] if _header(head[0][1])[0] else lines
    if commas:  # ';' or tabs separate the fields, so every ',' left is a decimal mark (else the careful parser says)
        body = [(no, line.replace(",", ".")) for no, line in body]
    parsed: list[np.ndarray | None] = []

    def table() -> np.ndarray | None:  # the whole table, parsed once, when a column guess or the result needs it
        if not parsed:
            parsed.append(_parse_all_numeric(body, delim, len(head[0][1])))
        return parsed[0]

    def whole(j: int, kind: str) -> bool:  # not a plain numeric table: the careful parser guesses on every row
        return table() is None or guess_holds(kind, [table()[:, j]])

    has_header, names, idx = _structure(path, head, columns, at_most, whole)
    check_spaces(path, body, delim, idx)
    points = table()
    if points is None:  # not a plain numeric table: the careful parser finds and names what is wrong
        rows = _decimal_commas(_split(path, lines, delim), delim)[0]
        return _load_rows(path, rows, columns, at_most, decimal_comma_note(delim) if commas else "")
    notes = (decimal_comma_note(delim),) if commas else ()
    return Dataset(np.ascontiguousarray(points[:, idx]), tuple(names[j] for j in idx), tuple(idx), str(path), notes)


def _structure(
    path: Path, rows: list[tuple[int, list[str]]], columns, at_most: int | None = None, whole=None
) -> tuple[bool, list[str], list[int]]:
    """From the first rows: whether the first is a header, the column names, and the chosen columns (a default
    guess of an index or label column settled by whole(j, kind) on the whole column: see _data_columns)."""
    has_header, names = _header(rows[0][1])
    data_rows = rows[1:] if has_header else rows
    if not data_rows:
        raise DataError(f"{path}: has a header ({', '.join(rows[0][1])}) but no data rows")
    for no, fields in data_rows[:5]:  # prose, a log, a report: say so, rather than count its fields
        if 2 * sum(_is_number(f) for f in fields) < len(fields):  # most fields are words
            j, text = next(((j, f) for j, f in enumerate(fields) if f), (0, ""))
            if _DECIMAL_COMMA.fullmatch(text):
                raise DataError(f"{path}: line {no}, column {j}: value {text!r} is not a number{COMMA_CAUSE}")
            raise DataError(
                f"{path}: is not a numeric table: line {no}, column {j}: value {text!r} is not a "
                "number; a data file holds one point per line, numbers separated by commas, tabs, "
                "semicolons or spaces"
            )
    width = len(names)
    for no, fields in data_rows:
        if len(fields) != width:
            first = "the header" if has_header else f"line {rows[0][0]}"
            raise DataError(
                f"{path}: line {no} has {len(fields)} fields but {first} has {width}: every row "
                "needs the same number of columns"
            )
    numeric = [j for j in range(width) if _is_number(data_rows[0][1][j])]
    if columns is None:
        numeric = _data_columns(names, numeric, lambda j: [r[1][j] for r in data_rows], whole)
    return has_header, names, resolve_columns(path, columns, names, numeric, at_most)


def _parse_all_numeric(lines: list[tuple[int, str]], delim: str | None, width: int) -> np.ndarray | None:
    """Every field of a table that is all finite numbers, `width` to a row, parsed by NumPy's C reader
    (much faster than field by field: bench/bench_load.py); None for anything else.

    NumPy and Python's float() both round decimal text correctly, so the values are the same bits.
    """
    try:
        table = np.loadtxt(
            [line for _, line in lines], delimiter=delim, comments=None, dtype=np.float64, ndmin=2, quotechar='"'
        )
    except ValueError:
        return None
    if table.shape != (len(lines), width) or not np.isfinite(table).all():
        return None
    return table


def _load_rows(
    path: Path, rows: list[tuple[int, list[str]]], columns, at_most: int | None = None, note: str = ""
) -> Dataset:
    """The careful parser: every row's fields checked, every value parsed alone, errors name line and column."""
    has_header, names, idx = _structure(path, rows, columns, at_most)
    data_rows = rows[1:] if has_header else rows
    points = np.empty((len(data_rows), len(idx)), dtype=np.float64)
    for i, (no, fields) in enumerate(data_rows):
        for out_j, j in enumerate(idx):
            points[i, out_j] = _parse_value(path, no, j, names[j], fields[j])
    return Dataset(points, tuple(names[j] for j in idx), tuple(idx), str(path), (note,) if note else ())


# What a value such as '1,500' that was not read as a number likely is, and what to do.
COMMA_CAUSE = (
    " (a decimal comma? here ',' could also group thousands: save the file with '.' as the decimal mark, or "
    "with ';' between the fields)"
)


def _parse_value(path: Path, line: int, col: int, name: str, text: str) -> float:
    try:
        if not _is_number(text):
            raise ValueError(text)
        value = float(text)
    except ValueError:
        cause = COMMA_CAUSE if _DECIMAL_COMMA.fullmatch(text) else ""
        raise DataError(
            f"{path}: line {line}, column {col} ({name!r}): value {text!r} is not a number{cause}: fix or "
            "remove that row, or choose other columns"
        ) from None
    if not np.isfinite(value):
        raise DataError(
            f"{path}: line {line}, column {col} ({name!r}): value {text!r} is not a finite number: "
            "remove or fill that row"
        )
    return value


LABEL_NAMES = ("component", "label", "labels", "class", "cluster", "target", "species", "group", "category", "y_true")


LABEL_LIMIT = 1000  # a class label is a whole number below this


def _is_label_column(name: str, values: list[str]) -> bool:
    """A class-label column: named like one and holding small whole numbers 0, 1, 2, ..."""
    if name.strip().lower() not in LABEL_NAMES:
        return False
    try:
        ints = {int(v) for v in values}
    except ValueError:
        return False
    return min(ints) >= 0 and max(ints) < LABEL_LIMIT


INDEX_NAMES = ("index", "idx", "id", "row", "unnamed: 0", "__index_level_0__", "")  # pandas' own among them


def _is_index_column(name: str, values: list[str]) -> bool:
    """A row-number column: named like an index, or holding 0..N-1 or 1..N in order."""
    if name.strip().lower() in INDEX_NAMES:
        return True
    try:
        ints = [int(v) for v in values]
    except ValueError:
        return False
    start = ints[0]
    return start in (0, 1) and ints == list(range(start, start + len(ints))) and len(ints) > 2
