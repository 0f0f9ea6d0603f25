"""NumPy files: .npy and .npz read whole (their headers checked against the file and memory first), and .npy read
by chunks (plain reads from the data's offset, never memory-mapped).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..runtime.limits import human
from .columns import as_table, resolve_columns
from .dataset import unnamed_columns
from .parts import Part, resolved
from .stamp import FileStamp, stamped


def numpy_bytes(path: Path, suffix: str) -> int:
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
        return 0  # not readable as NumPy: load_numpy names the problem


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


NPY_MAGIC = b"\x93NUMPY"


ZIP_MAGIC = b"PK"


def load_numpy(path: Path, raw: bytes, suffix: str) -> tuple[np.ndarray, list[str]]:
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
        array = as_table(loaded[key])
        return array, [f"{key}[:, {j}]" for j in range(array.shape[1] if array.ndim == 2 else 0)]
    array = as_table(loaded)
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


class NpySource:
    """A 2-D (or 1-D) C-ordered `.npy` array of numbers, read rows at a time; all its columns, or the chosen ones
    (indices or ranges, as --columns takes them).

    Every source has: path, names (every column of the file), idx (the chosen columns' places among them),
    columns (their names), n_samples, n_features, and chunks(rows)."""

    def __init__(self, path: str | Path, columns: list | None = None, missing: bool = False) -> None:
        """missing: NaN is a missing value (the first pass's to check: the rows are read as they are)."""
        self.path = Path(path)
        self.stamp = FileStamp.of(self.path)
        with open(self.path, "rb") as f:
            try:
                version = np.lib.format.read_magic(f)
                read_header = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(f)
            except ValueError as exc:
                raise DataError(f"{self.path}: not a .npy file ({exc})") from None
            self.offset = f.tell()
        if fortran and len(shape) == 2 and shape[1] > 1:
            raise DataError(f"{self.path}: the array is in Fortran order: save it in C order (np.ascontiguousarray)")
        if len(shape) not in (1, 2) or dtype.kind not in "fiu":
            raise DataError(f"{self.path}: a data set is a 1-D or 2-D array of numbers, found {dtype} {shape}")
        self.dtype = dtype
        self.n_samples = int(shape[0])
        self.width = int(shape[1]) if len(shape) == 2 else 1  # the file's columns
        self.names = list(unnamed_columns(self.width))  # every column of the file, named as in memory
        self.idx = resolve_columns(self.path, columns, self.names, list(range(self.width)))  # the chosen ones
        self.n_features = len(self.idx)
        self.columns = tuple(self.names[j] for j in self.idx)

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """The rows in order, `rows` at a time (c, D) in the file's dtype; one buffer reused (valid until the next).
        The file must not change during the fit (its stamp is checked at each pass's start and end)."""
        return stamped(self.path, self.stamp, self._chunks(rows))

    def _chunks(self, rows: int) -> Iterator[np.ndarray]:
        buffer = np.empty((min(rows, max(self.n_samples, 1)), self.width), dtype=self.dtype)
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            for start in range(0, self.n_samples, rows):
                yield self._read(f, buffer[: min(rows, self.n_samples - start)])

    def parts(self, rows: int) -> list[Part]:
        """The file cut into parts of at most `rows` rows, for Dask workers (engine/io/parts.py)."""
        path, chosen = resolved(self.path), tuple(str(j) for j in self.idx)  # by place, as --columns takes them
        return [
            Part(path, lo, min(rows, self.n_samples - lo), read_npy_part, chosen, self.stamp)
            for lo in range(0, self.n_samples, rows)
        ]

    def read(self, start: int, count: int) -> np.ndarray:
        """Rows [start, start + count) (count, D) in the file's dtype (a Dask worker's part)."""
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * self.width * self.dtype.itemsize)
            return np.ascontiguousarray(self._read(f, np.empty((count, self.width), dtype=self.dtype)))

    def _read(self, f, out: np.ndarray) -> np.ndarray:
        """The next len(out) rows of the open file into out (c, width); the chosen columns of them."""
        if f.readinto(memoryview(out).cast("B")) != out.nbytes:
            raise DataError(f"{self.path}: the file ends before its {self.n_samples} rows: it is truncated")
        chosen = out if self.idx == list(range(self.width)) else out[:, self.idx]  # the caller converts it once
        if not self.dtype.isnative or self.dtype.itemsize > 8:  # big-endian, long double: torch takes neither
            return chosen.astype(np.float64)
        return chosen


def read_npy_part(part: Part) -> np.ndarray:
    """A part of NpySource.parts (count, D) in the file's dtype: its chosen columns (their places) in part.detail."""
    return NpySource(part.path, list(part.detail) or None).read(part.start, part.count)
