"""Writing files safely: outputs are checked before any work starts, written atomically (a temporary file in
the target's folder, then a rename), with the permissions a plain `open` would give, and the outputs of one
run are committed together (all written or none).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import UserError


def _read_umask() -> int:
    """The process's umask, read without changing it where Linux allows (os.umask sets it to read it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode `open(path, "w")` gives a new file: 0o666 less the umask (0o644 under the usual 022)."""
    return 0o666 & ~_read_umask()


def target_of(path: str | Path) -> Path:
    """Where writing `path` lands: a symbolic link is followed (the user means the file it points to); UserError for
    a link that leads back to itself."""
    path = Path(path)
    if not path.is_symlink():
        return path
    try:
        return path.resolve(strict=False)
    except (RuntimeError, OSError) as exc:  # Python 3.11: RuntimeError "Symlink loop"; later: OSError ELOOP
        raise UserError(f"{path}: is a symbolic link that leads back to itself ({exc}): choose another path") from None


def check_output(path: str | Path, inputs: Iterable[str | Path] = (), what: str = "output") -> Path:
    """Refuse, before any work, an output that cannot be written or would destroy an input; return its target.

    Refused: a folder, a device, FIFO or socket, a path whose folder is missing or not writable, an existing
    file that is not writable, and any path that is (or links to) one of `inputs`.
    """
    target = target_of(path)
    shown = str(path)
    if target.exists():
        mode = target.stat().st_mode
        if stat.S_ISDIR(mode):
            raise UserError(f"{shown}: is a folder: give a file name for the {what}")
        if not stat.S_ISREG(mode):
            raise UserError(f"{shown}: is not a regular file (a device, FIFO or socket): write the {what} to a file")
        if not os.access(target, os.W_OK):
            raise UserError(f"{shown}: permission denied: the file is not writable; choose another path")
        for src in inputs:
            src_path = Path(src)
            if src_path.exists() and os.path.samefile(target, src_path):
                raise UserError(
                    f"{shown}: is an input of this run ({src}): writing the {what} there would destroy "
                    "it; choose another file name"
                )
    folder = target.parent
    if not folder.is_dir():
        raise UserError(f"{shown}: the folder {folder} does not exist: create it or choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{shown}: permission denied: cannot write in the folder {folder}; choose another path")
    return target


def check_outputs(paths: Iterable[str | Path | None], inputs: Iterable[str | Path] = ()) -> None:
    """check_output for every given path, and no two outputs of one run may be the same file."""
    inputs = [p for p in inputs if p]
    seen: dict[Path, str] = {}
    for p in paths:
        if p is None:
            continue
        if not str(p).strip():
            raise UserError("an output was given an empty file name (-o ''?): name the file to write, or leave it out")
        target = check_output(p, inputs).absolute()
        if target in seen:
            raise UserError(f"{p}: is also the output {seen[target]} of this run: give each output its own file")
        seen[target] = str(p)


# Staged writes of the current run (None: write at once). A context variable, so threads do not share it.
_STAGED: contextvars.ContextVar[list | None] = contextvars.ContextVar("staged_writes", default=None)


def _write_temp(target: Path, data: bytes | Iterable[bytes]) -> str:
    """data (bytes, or pieces of it) in a new temporary file beside target, flushed to disk, with the final
    file's permissions."""
    folder = target.parent
    if not folder.is_dir():
        raise UserError(f"{target}: the folder {folder} does not exist: create it or choose another path")
    try:
        mode = stat.S_IMODE(target.stat().st_mode)  # an existing file keeps its mode
    except FileNotFoundError:
        mode = new_file_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            for piece in [data] if isinstance(data, bytes) else data:
                fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def atomic_write(path: str | Path, data: bytes | Iterable[bytes]) -> None:
    """Write data (bytes, or its pieces in order) to path (a symbolic link: to the file it points to) via a
    temporary file and a rename: never a half-written file. Inside `staged_writes()` the rename waits until the
    whole run succeeded."""
    target = target_of(path)
    if target.is_dir():
        raise UserError(f"{path}: is a folder: give a file name")
    tmp = _write_temp(target, data)
    staged = _STAGED.get()
    if staged is not None:
        staged.append((tmp, target))
        return
    try:
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def staged_writes() -> Iterator[None]:
    """Every atomic_write inside is written to its temporary file and renamed into place only when the block
    ends without an error: several outputs of one run are all written or none (the temporary files of a run
    that fails or is interrupted are removed)."""
    staged: list[tuple[str, Path]] = []
    token = _STAGED.set(staged)
    try:
        yield
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        _STAGED.reset(token)
    try:
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
