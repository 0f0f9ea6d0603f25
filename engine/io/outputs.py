"""Writing files safely: outputs are checked before any work starts, written atomically (a temporary file in
the target's folder, then a rename), with the permissions a plain `open` would give, and the outputs of one
run are committed together (all written or none).
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import UserError


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


def _write_temp(target: Path, data: bytes | Iterable[bytes], created: list[str]) -> str:
    """data (bytes, or pieces of it) in a new temporary file beside target, flushed to disk, with the final
    file's permissions. The temporary file's name is put in `created` as soon as it exists, so that whoever
    unwinds a failure or a signal (Ctrl-C, SIGTERM, SIGHUP) removes it; a write that fails (a full disk, a
    file-size limit) removes it here and raises UserError naming the file."""
    folder = target.parent
    if not folder.is_dir():
        raise UserError(f"{target}: the folder {folder} does not exist: create it or choose another path")
    try:
        mode = stat.S_IMODE(target.stat().st_mode)  # an existing file keeps its mode
    except FileNotFoundError:
        mode = new_file_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    created.append(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            for piece in [data] if isinstance(data, bytes) else data:
                fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"{target}: could not be written ({_why(exc)}): nothing was written there") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


# What to do about a write that failed, by errno.
_WRITE_ERRORS = {
    errno.ENOSPC: "no space left on the device: free some space or choose another place",
    errno.EDQUOT: "the disk quota is used up: free some space or choose another place",
    errno.EFBIG: "the file would exceed the file-size limit (ulimit -f) or the file system's largest file",
}


def _why(exc: OSError) -> str:
    return _WRITE_ERRORS.get(exc.errno, exc.strerror or str(exc))


def atomic_write(path: str | Path, data: bytes | Iterable[bytes]) -> None:
    """Write data (bytes, or its pieces in order) to path (a symbolic link: to the file it points to) via a
    temporary file and a rename: never a half-written file, never a temporary file left behind. Inside
    `staged_writes()` the rename waits until the whole run succeeded."""
    target = target_of(path)
    if target.is_dir():
        raise UserError(f"{path}: is a folder: give a file name")
    staged = _STAGED.get()
    created: list[str] = []
    if staged is not None:  # the run removes it on any failure, from the moment it exists
        staged.append((created, target))
        _write_temp(target, data, created)
        return
    try:
        _write_temp(target, data, created)
        _rename(created[0], target)
    except BaseException:
        for tmp in created:
            Path(tmp).unlink(missing_ok=True)
        raise


def _rename(tmp: str, target: Path) -> None:
    """Put the written temporary file in its place; UserError naming the file if the system refuses."""
    try:
        os.replace(tmp, target)
    except OSError as exc:
        raise UserError(f"{target}: could not be written ({_why(exc)}): nothing was written there") from None


@contextlib.contextmanager
def staged_writes() -> Iterator[None]:
    """Every atomic_write inside is written to its temporary file and renamed into place only when the block
    ends without an error: several outputs of one run are all written or none (the temporary files of a run
    that fails or is interrupted are removed). A caller says "wrote ..." after the block, when it is so."""
    staged: list[tuple[list[str], Path]] = []
    token = _STAGED.set(staged)
    try:
        yield
        for created, target in staged:
            _rename(created[0], target)
    finally:
        _STAGED.reset(token)
        for created, _ in staged:  # after a failure or a signal; a renamed file is no longer there
            for tmp in created:
                Path(tmp).unlink(missing_ok=True)
