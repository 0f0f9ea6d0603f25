"""A fit by chunks' passes from a copy of its chunks in a temporary file (issue 25), where reading the data again
costs more than reading the copy:
- data with missing values (`--missing em`): the first pass groups each chunk by pattern and standardises it, as
  every pass did (missing_chunks.grouped_chunk), and writes it so; later passes read the chunks back as the E-step
  takes them. Grouping and gathering a chunk every pass cost half again the complete data's pass at D = 5, K = 3;
  reading it back costs a copy (docs/performance.md, 'Missing values').
- a source that parses text (a CSV/TSV file, `parses`): the first pass writes each chunk as parsed; later passes read
  the numbers back instead of parsing the file again, which costs many times a pass's E-step (docs/big-data.md).

The file is the data's size (in the fit's dtype for grouped chunks, float64 for parsed ones, plus the weights), on
the disk of Python's temporary folder (TMPDIR, else the system's): data read by chunks is data that does not fit in
memory, so the file is never made where it would sit in memory (tmpfs, ramfs) or where the disk lacks room for it
and a margin; then, or when a write or read fails, every pass reads its chunks afresh, as before, with the same
sums. The file is unnamed (unlinked as made), so nothing is left behind even by a killed process; its owner (the fit
or the selection that made it) closes it when it ends. A pass read back still checks the data file's stamp, as a
pass over it does: a file changed during the fit stops it (issue 22), though the copy is unchanged.

A pass read back gives exactly the sums of reading afresh, bit for bit. A Dask cluster's passes
(engine/scale/cluster.py) run elsewhere and read afresh."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, NamedTuple

import numpy as np
import torch

from ..io.stamp import check_unchanged
from ..model.kept_patterns import kept_patterns
from ..runtime.limits import human
from ..snapshot import CancelToken
from .missing import Grouped, MissingPoints
from .missing_chunks import grouped_chunk, nothing, source_sums
from .sources import ChunkSource, PassPlan, PassSums, chunk_sums, local_pass, split_weights, summed

SPILL_MARGIN = 256 << 20  # bytes left free on the disk besides the file and as much again
MEMORY_FILE_SYSTEMS = ("tmpfs", "ramfs")
GROUPED, PARSED = "grouped", "parsed"  # what a file holds: chunks grouped by pattern, or chunks as parsed
_WHAT = {GROUPED: "missing values: the chunks, grouped by pattern,", PARSED: "the text file's chunks, as parsed,"}


def spills(source: ChunkSource, missing: bool) -> bool:
    """Whether passes over source keep a copy of its chunks (SpilledPasses): data with missing values, or a source
    that parses text."""
    return missing or bool(getattr(source, "parses", False))


class _Spilled(NamedTuple):
    """Where a chunk lies in the file: its byte offset and rows; for a grouped chunk whether its points are in the
    lifted layout (D, c) or as rows (c, D), its patterns' observed coordinates and runs' starts, whether weights
    follow (rows 0: no row of weight > 0); for a parsed one its columns (c, width) float64."""

    offset: int
    rows: int
    lifted: bool = False
    observed: np.ndarray | None = None
    starts: list[int] | None = None
    weighted: bool = False
    width: int = 0


class SpilledPasses:
    """The passes (a PassRunner: fit_stream's or a selection's run_pass) over a source read `rows` at a time: the
    first pass writes its chunks (grouped by pattern for data with missing values, as parsed for a source that
    parses text) and later ones read them back. Its owner closes it (close), which deletes the file."""

    def __init__(
        self, source: ChunkSource, rows: int, folder: str | None = None, say: Callable[[str], None] | None = None
    ) -> None:
        """folder: where the file goes (None: tempfile.gettempdir()); say(line): told where the file goes and how big
        it is, or why there is none (every pass is slower then, and the user should know why)."""
        self.source, self.rows, self.say = source, rows, say
        self.folder = tempfile.gettempdir() if folder is None else folder
        self._file: IO[bytes] | None = None
        self._chunks: list[_Spilled] | None = None  # each chunk's place, once a whole pass is written
        self._made_for: tuple | None = None  # what the file's chunks hold and depend on (_made_for)
        self._flat: np.ndarray | None = None  # the buffer chunks are read back into (_buffer)
        self.off = False  # given up (no room, memory-backed, a failed write or read): every pass reads afresh

    def __call__(self, plan: PassPlan, cancel: CancelToken | None = None) -> PassSums:
        """A pass's sums at the plan's parameters (sources.local_pass's)."""
        kind = self._kind(plan)
        if kind is None or self.off:
            return local_pass(self.source, self.rows, plan, cancel)
        if self._chunks is not None and self._made_for == _made_for(plan, kind):
            try:
                return summed(self._read_back(plan, cancel))
            except OSError as exc:  # the file is gone bad: this pass and every later one reads afresh
                self._give_up(kind, f"reading it back failed ({_why(exc)})")
                return local_pass(self.source, self.rows, plan, cancel)
        return summed(self._writing(plan, kind, cancel))

    def close(self) -> None:
        """Delete the file (closing it: it has no name) and read afresh from now on."""
        self.off, self._chunks, self._flat = True, None, None
        file, self._file = self._file, None
        if file is not None:
            # closing flushes what the buffer holds, which a full disk refuses (OSError); the descriptor is closed
            # (and the unnamed file gone) all the same
            with contextlib.suppress(OSError):
                file.close()

    def _give_up(self, kind: str, why: str) -> None:
        """Close the file and read afresh from now on, saying why (say)."""
        self.close()
        again = "reads and groups the chunks again" if kind == GROUPED else "parses the text again"
        self._tell(f"{_WHAT[kind]} are not kept, so every pass {again} (slower): {why}")

    def _tell(self, line: str) -> None:
        if self.say is not None:
            self.say(line)

    def _kind(self, plan: PassPlan) -> str | None:
        """What this pass's chunks are kept as: grouped (an E-step pass over data with missing values), parsed (any
        pass over a source that parses text, data without missing values), or None (ICL's pass over data with
        missing values, or a source read as fast as the file: read afresh)."""
        if plan.missing:
            return None if plan.classify else GROUPED
        return PARSED if getattr(self.source, "parses", False) else None

    def _writing(self, plan: PassPlan, kind: str, cancel: CancelToken | None) -> Iterator[PassSums]:
        """A pass that reads each chunk afresh, writing it into the file while there is room; the file is read back
        from the next pass on only once every chunk is in it."""
        self._chunks = None
        out = self._start_file(plan, kind)
        written: list[_Spilled] = []
        for chunk in self.source.chunks(self.rows):
            if cancel is not None:
                cancel.check()
            grouped = None if kind == PARSED else grouped_chunk(*split_weights(chunk, plan.weighted), plan)
            if out is not None:
                try:
                    written.append(_write_parsed(out, chunk) if kind == PARSED else _write_grouped(out, grouped))
                except OSError as exc:  # the disk filled up, say: this pass goes on, and later ones read afresh
                    self._give_up(kind, f"writing it failed ({_why(exc)})")
                    out = None
            if kind == PARSED:
                yield chunk_sums(chunk, plan)
            else:
                yield nothing(plan) if grouped is None else source_sums(grouped, plan)
        if out is not None:
            try:  # the last chunks' bytes may still be in the file's buffer: a full disk says so only now
                out.flush()
            except OSError as exc:
                self._give_up(kind, f"writing it failed ({_why(exc)})")
                return
            self._chunks, self._made_for = written, _made_for(plan, kind)

    def _start_file(self, plan: PassPlan, kind: str) -> IO[bytes] | None:
        """The file emptied for a pass to write, made at the first; None (and off) where it may not be made."""
        if self._file is None:
            itemsize = 8 if kind == PARSED else plan.dtype.itemsize
            size = self.source.n_samples * itemsize * (self.source.n_features + int(plan.weighted))
            why = refusal(self.folder, size)
            if why is None:
                try:
                    self._file = tempfile.TemporaryFile(dir=self.folder)
                except OSError as exc:
                    why = f"it could not be made in {self.folder} ({_why(exc)})"
            if why is not None:
                self._give_up(kind, why)
                return None
            self._tell(
                f"{_WHAT[kind]} are kept for the later passes in an unnamed file in {self.folder} ({human(size)}; set "
                "TMPDIR to put it elsewhere), gone when the fit ends, however it ends"
            )
        self._file.seek(0)
        self._file.truncate()
        return self._file

    def _read_back(self, plan: PassPlan, cancel: CancelToken | None) -> Iterator[PassSums]:
        """A pass over the chunks as the first pass wrote them."""
        log_scale = np.log(np.asarray(plan.scale, dtype=np.float64))
        d = self.source.n_features
        check_unchanged(self.source)  # as a pass over the file checks it (stamp.stamped): before and after
        for spilled in self._chunks or []:
            if cancel is not None:
                cancel.check()
            if spilled.width:
                yield chunk_sums(_read_parsed(self._file, spilled, self._buffer(spilled.rows * spilled.width)), plan)
            elif spilled.rows == 0:
                yield nothing(plan)
            else:
                numbers = -(-(2 + d) * spilled.rows * plan.dtype.itemsize // 8)  # float64s holding them, rounded up
                flat = torch.from_numpy(self._buffer(numbers)).view(plan.dtype)
                grouped = _read_grouped(self._file, spilled, d, flat)
                yield source_sums(MissingPoints.from_grouped(grouped, log_scale, kept=kept_patterns()), plan)
        check_unchanged(self.source)

    def _buffer(self, numbers: int) -> np.ndarray:
        """The buffer chunks are read back into, at least `numbers` float64, reused from chunk to chunk and pass to
        pass: a fresh one is paged in at every chunk, which took as long as the read itself (docs/performance.md,
        'Missing values'). A chunk's sums are done with it before the next chunk is read (they copy out what they keep:
        the worst-explained points)."""
        if self._flat is None or len(self._flat) < numbers:
            self._flat = np.empty(numbers, dtype=np.float64)
        return self._flat


def refusal(folder: str, size: int) -> str | None:
    """Why a file of size bytes may not go into folder, in words; None where it may: a disk (not memory) with twice
    size and SPILL_MARGIN free, so that the file takes at most half of what is free (other programs share it)."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return f"{folder} cannot be used ({_why(exc)})"
    kind = file_system(folder)
    if kind in MEMORY_FILE_SYSTEMS:
        return f"{folder} lies in memory ({kind}); set TMPDIR to a folder on a disk with {human(2 * size)} free"
    if free < 2 * size + SPILL_MARGIN:
        return (
            f"{folder} has {human(free)} free, and the file ({human(size)}) takes at most half of what is free, "
            f"leaving {human(SPILL_MARGIN)} besides; set TMPDIR to a folder on a disk with room"
        )
    return None


def _why(exc: OSError) -> str:
    """An OSError in words, without its errno: 'No space left on device'."""
    return exc.strerror or str(exc)


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


def _made_for(plan: PassPlan, kind: str) -> tuple:
    """What a file's chunks depend on besides the data: grouped ones the standardisation, the dtype and the weights'
    column; parsed ones nothing (the same for every pass, ICL's too)."""
    if kind == PARSED:
        return (kind,)
    return (kind, np.asarray(plan.center).tobytes(), np.asarray(plan.scale).tobytes(), plan.dtype, plan.weighted)


def _write_parsed(out: IO[bytes], chunk: np.ndarray) -> _Spilled:
    """Append a chunk as parsed (c, width) to the file; where it lies."""
    offset, rows = out.tell(), np.ascontiguousarray(chunk, dtype=np.float64)
    out.write(memoryview(rows).cast("B"))
    return _Spilled(offset, rows.shape[0], width=rows.shape[1])


def _read_parsed(file: IO[bytes] | None, spilled: _Spilled, flat: np.ndarray) -> np.ndarray:
    """A parsed chunk (c, width) float64 read back into the buffer flat, which it shares."""
    chunk = flat[: spilled.rows * spilled.width].reshape(spilled.rows, spilled.width)
    _fill(file, spilled.offset, chunk)
    return chunk


def _write_grouped(out: IO[bytes], source: MissingPoints | None) -> _Spilled:
    """Append a grouped chunk (None: no row left) to the file; where it lies."""
    offset = out.tell()
    if source is None:
        return _Spilled(offset, 0)
    points, observed, starts, weights = source.grouped()
    lifted = source.lifted is not None
    block = source.lifted[1:] if lifted else points  # (D, c) rows of the lifted layout, or the points (c, D)
    out.write(memoryview(block.contiguous().numpy()).cast("B"))
    if weights is not None:
        out.write(memoryview(weights.contiguous().numpy()).cast("B"))
    return _Spilled(offset, len(points), lifted, observed, starts, weights is not None)


def _read_grouped(file: IO[bytes] | None, spilled: _Spilled, d: int, flat: torch.Tensor) -> Grouped:
    """A grouped chunk read back into a buffer of at least (2 + D) numbers a row in the fit's dtype, which it
    shares."""
    n = spilled.rows
    if spilled.lifted:  # the lifted layout's [1; x^T] (1 + D, n), as features.lifted_points lays it out
        z = flat[: (1 + d) * n].view(1 + d, n)
        z[0] = 1.0
        _fill(file, spilled.offset, z[1:].numpy())
        points = z[1:].T
    else:
        points = flat[: n * d].view(n, d)
        _fill(file, spilled.offset, points.numpy())
    weights = None
    if spilled.weighted:
        weights = flat[(1 + d) * n : (2 + d) * n]
        _fill(file, None, weights.numpy())
    return Grouped(points, spilled.observed, spilled.starts, weights)


def _fill(file: IO[bytes] | None, offset: int | None, into: np.ndarray) -> None:
    """Read into a contiguous array's bytes from the file, at offset (None: where the last read ended); OSError
    where the file is closed or holds less than was written."""
    if file is None:
        raise OSError("the kept chunks' file is closed")
    if offset is not None:
        file.seek(offset)
    view = memoryview(into).cast("B")
    if file.readinto(view) != len(view):
        raise OSError("the kept chunks' file holds less than was written")
