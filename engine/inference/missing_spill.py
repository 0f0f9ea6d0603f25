"""A fit by chunks of data with missing values, its chunks grouped once (issue 25, `--missing em` with
`--memory-limit`): the first pass groups each chunk by pattern and standardises it, as every pass did
(missing_chunks.grouped_chunk), and writes it so into an unnamed temporary file; later passes read the chunks back
as the E-step takes them. Grouping and gathering a chunk cost about 23 ns a row every pass, half again the complete
data's pass at D = 5, K = 3 (docs/performance.md, 'Missing values'); reading it back costs a copy.

The file is the data's size in the fit's dtype (plus the weights), on the disk of Python's temporary folder (TMPDIR,
else the system's): data read by chunks is data that does not fit in memory, so the file is never made where it
would sit in memory (tmpfs, ramfs) or where the disk lacks room for it and a margin; then, or when a write or read
fails, every pass groups its chunks afresh, as before, with the same sums. The file is unnamed (unlinked as made),
so nothing is left behind even by a killed process; its owner (fit_stream) closes it when the fit ends.

A pass reads exactly what the first pass grouped: the sums of every pass are bit for bit those of grouping afresh.
A Dask cluster's passes (engine/scale/cluster.py) run elsewhere and group afresh."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, NamedTuple

import numpy as np
import torch

from ..model.kept_patterns import kept_patterns
from ..snapshot import CancelToken
from .missing import Grouped, MissingPoints
from .missing_chunks import grouped_chunk, nothing, source_sums
from .sources import ChunkSource, PassPlan, PassSums, local_pass, split_weights, summed

SPILL_MARGIN = 256 << 20  # bytes left free on the disk besides the file (and a twentieth of the file)
MEMORY_FILE_SYSTEMS = ("tmpfs", "ramfs")


class _Spilled(NamedTuple):
    """Where a chunk's grouped points lie in the file: its byte offset, rows, whether the points are in the lifted
    layout (D, c) or as rows (c, D), its patterns' observed coordinates and runs' starts, whether weights follow;
    or an empty chunk (rows 0: no row of weight > 0)."""

    offset: int
    rows: int
    lifted: bool
    observed: np.ndarray
    starts: list[int]
    weighted: bool


class SpilledPasses:
    """The passes (fit_stream's run_pass) over a source read `rows` at a time with missing values, its chunks grouped
    by the first pass and read back grouped by the later ones. Its owner closes it (close), which deletes the file."""

    def __init__(self, source: ChunkSource, rows: int, folder: str | None = None) -> None:
        """folder: where the file goes (None: tempfile.gettempdir())."""
        self.source, self.rows = source, rows
        self.folder = tempfile.gettempdir() if folder is None else folder
        self._file: IO[bytes] | None = None
        self._chunks: list[_Spilled] | None = None  # each chunk's place, once a whole pass is written
        self._made_for: tuple | None = None  # the plan's standardisation, dtype and weights the file holds
        self._flat: torch.Tensor | None = None  # the buffer chunks are read back into (_buffer)
        self.off = False  # given up (no room, memory-backed, a failed write or read): every pass groups afresh

    def __call__(self, plan: PassPlan, cancel: CancelToken | None = None) -> PassSums:
        """A pass's sums at the plan's parameters (sources.local_pass's)."""
        if plan.classify or not plan.missing or self.off:  # ICL's pass, or data without a missing value
            return local_pass(self.source, self.rows, plan, cancel)
        if self._chunks is not None and self._made_for == _made_for(plan):
            try:
                return summed(self._read_back(plan, cancel))
            except OSError:  # the file is gone bad: this pass and every later one groups afresh
                self.close()
                return local_pass(self.source, self.rows, plan, cancel)
        return summed(self._writing(plan, cancel))

    def close(self) -> None:
        """Delete the file (closing it: it has no name) and group afresh from now on."""
        self.off, self._chunks, self._flat = True, None, None
        if self._file is not None:
            self._file.close()
            self._file = None

    def _writing(self, plan: PassPlan, cancel: CancelToken | None) -> Iterator[PassSums]:
        """A pass that groups each chunk afresh, writing it into the file while there is room; the file is read
        back from the next pass on only once every chunk is in it."""
        self._chunks = None
        out = self._start_file(plan)
        written: list[_Spilled] = []
        for chunk in self.source.chunks(self.rows):
            if cancel is not None:
                cancel.check()
            raw, w64 = split_weights(chunk, plan.weighted)
            source = grouped_chunk(raw, w64, plan)
            if out is not None:
                try:
                    written.append(_write(out, source))
                except OSError:  # the disk filled up, say: this pass goes on, and later ones group afresh
                    self.close()
                    out = None
            yield nothing(plan) if source is None else source_sums(source, plan)
        if out is not None:
            out.flush()
            self._chunks, self._made_for = written, _made_for(plan)

    def _start_file(self, plan: PassPlan) -> IO[bytes] | None:
        """The file emptied for a pass to write, made at the first; None (and off) where it may not be made."""
        if self._file is None:
            itemsize = torch.empty(0, dtype=plan.dtype).element_size()
            size = self.source.n_samples * itemsize * (self.source.n_features + int(plan.weighted))
            if not room_for(self.folder, size):
                self.off = True
                return None
            try:
                self._file = tempfile.TemporaryFile(dir=self.folder)
            except OSError:
                self.off = True
                return None
        self._file.seek(0)
        self._file.truncate()
        return self._file

    def _read_back(self, plan: PassPlan, cancel: CancelToken | None) -> Iterator[PassSums]:
        """A pass over the chunks as the first pass wrote them."""
        log_scale = np.log(np.asarray(plan.scale, dtype=np.float64))
        for spilled in self._chunks or []:
            if cancel is not None:
                cancel.check()
            if spilled.rows == 0:
                yield nothing(plan)
                continue
            grouped = _read(self._file, spilled, self.source.n_features, self._buffer(spilled.rows, plan.dtype))
            yield source_sums(MissingPoints.from_grouped(grouped, log_scale, kept=kept_patterns()), plan)

    def _buffer(self, rows: int, dtype: torch.dtype) -> torch.Tensor:
        """The buffer chunks are read back into, (2 + D) numbers a row (the lifted points and the weights), reused
        from chunk to chunk and pass to pass: a fresh one is paged in at every chunk, which took as long as the
        read itself (12 ns a row at 524288 x 5). A chunk's source is done with it before the next chunk is read
        (source_sums copies out what it keeps)."""
        size = (2 + self.source.n_features) * rows
        if self._flat is None or self._flat.dtype != dtype or len(self._flat) < size:
            self._flat = torch.empty(size, dtype=dtype)
        return self._flat


def room_for(folder: str, size: int) -> bool:
    """Whether a file of size bytes may go into folder: a disk (not memory), with size, a twentieth more and
    SPILL_MARGIN free."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return False
    return free >= size * 1.05 + SPILL_MARGIN and file_system(folder) not in MEMORY_FILE_SYSTEMS


def file_system(folder: str, mounts: str = "/proc/mounts") -> str:
    """The type of the file system folder lies on, as Linux's mount table names it ('' where there is none)."""
    try:
        with open(mounts, encoding="utf-8", errors="replace") as f:
            table = [line.split() for line in f]
    except OSError:
        return ""
    path, best, kind = os.path.realpath(folder), -1, ""
    for fields in table:
        if len(fields) < 3:
            continue
        mount = fields[1].replace("\\040", " ")
        inside = path == mount or path.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) > best:
            best, kind = len(mount), fields[2]
    return kind


def _made_for(plan: PassPlan) -> tuple:
    """What a file's chunks depend on besides the data: the standardisation, the dtype and the weights' column."""
    return (np.asarray(plan.center).tobytes(), np.asarray(plan.scale).tobytes(), plan.dtype, plan.weighted)


def _write(out: IO[bytes], source: MissingPoints | None) -> _Spilled:
    """Append a grouped chunk (None: no row left) to the file; where it lies."""
    offset = out.tell()
    if source is None:
        return _Spilled(offset, 0, False, np.zeros((0, 0), dtype=bool), [0], False)
    points, observed, starts, weights = source.grouped()
    lifted = source.lifted is not None
    block = source.lifted[1:] if lifted else points  # (D, c) rows of the lifted layout, or the points (c, D)
    out.write(memoryview(block.contiguous().numpy()).cast("B"))
    if weights is not None:
        out.write(memoryview(weights.contiguous().numpy()).cast("B"))
    return _Spilled(offset, len(points), lifted, observed, starts, weights is not None)


def _read(file: IO[bytes] | None, spilled: _Spilled, d: int, flat: torch.Tensor) -> Grouped:
    """A chunk's grouped points read back into a buffer (at least (1 + D) rows of the chunk's numbers, in the fit's
    dtype), which they share (OSError where the file holds less than was written)."""
    if file is None:
        raise OSError("the grouped chunks' file is closed")
    n = spilled.rows
    file.seek(spilled.offset)
    if spilled.lifted:  # the lifted layout's [1; x^T] (1 + D, n), as features.lifted_points lays it out
        z = flat[: (1 + d) * n].view(1 + d, n)
        z[0] = 1.0
        _fill(file, z[1:])
        points = z[1:].T
    else:
        points = flat[: n * d].view(n, d)
        _fill(file, points)
    weights = None
    if spilled.weighted:
        weights = flat[(1 + d) * n : (2 + d) * n]
        _fill(file, weights)
    return Grouped(points, spilled.observed, spilled.starts, weights)


def _fill(file: IO[bytes], into: torch.Tensor) -> None:
    """Read into a contiguous tensor's bytes from the file's place."""
    view = memoryview(into.numpy()).cast("B")
    if file.readinto(view) != len(view):
        raise OSError("the grouped chunks' file holds less than was written")
