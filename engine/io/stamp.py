"""What a source read by chunks checks at every pass: the file's stamp (size, time, both ends' hash); and a
pass the caller no longer wants (Cancelled).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

STAMP_BLOCK = 1 << 16  # bytes at each end of a file whose hash is part of its stamp


@dataclass(frozen=True)
class FileStamp:
    """What identifies a file's content cheaply: size, modification time (ns) and the SHA-256 of its first and last
    STAMP_BLOCK bytes (a rewrite in place at the same size and time is seen where it changes either end)."""

    size: int
    mtime_ns: int
    ends: str

    @staticmethod
    def of(path: Path) -> FileStamp:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            sha = hashlib.sha256(f.read(STAMP_BLOCK))
            f.seek(max(st.st_size - STAMP_BLOCK, 0))
            sha.update(f.read(STAMP_BLOCK))
        return FileStamp(st.st_size, st.st_mtime_ns, sha.hexdigest())

    def check(self, path: Path) -> None:
        """DataError if the file at path is no longer the one stamped (rewritten, grown, replaced)."""
        try:
            now = FileStamp.of(path)
        except OSError as exc:
            raise DataError(
                f"{path}: can no longer be read ({exc.strerror}): it was removed or moved during the fit"
            ) from None
        if now == self:
            return
        if now.size != self.size:
            how = f"its size went from {self.size:,} to {now.size:,} bytes"
        elif now.mtime_ns != self.mtime_ns:
            how = "it was modified (same size, a later time)"
        else:
            how = "its content changed (same size and time)"
        raise DataError(
            f"{path}: the file changed while it was being read ({how}): a fit reads it once per iteration, so it "
            "must stay as it is; fit a copy, or wait until it is written"
        )


def stamped(path: Path, stamp: FileStamp, chunks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """The chunks of one pass over a file, its stamp checked before the first and after the last."""
    stamp.check(path)
    yield from chunks
    stamp.check(path)


def check_unchanged(source) -> None:
    """DataError where a source's file (or any of a folder's files) is no longer the one stamped when it was opened:
    what each pass checks, also a pass that reads a copy of the chunks (inference/spill.py), so that a fit stops
    on a changed file however its passes read."""
    for part in getattr(source, "sources", [source]):
        stamp = getattr(part, "stamp", None)
        if stamp is not None:
            stamp.check(part.path)


class Cancelled(Exception):  # noqa: N818 - not an error: the caller stopped a pass that was no longer wanted
    """A pass was stopped on its caller's request (its result is not wanted any more)."""


def check_cancelled(cancelled) -> None:
    """Raise Cancelled when cancelled() (a pass's optional question, asked before each chunk) says so."""
    if cancelled is not None and cancelled():
        raise Cancelled
