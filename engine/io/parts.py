"""A file's rows cut into parts that Dask workers read themselves (engine/scale/cluster.py). Each source read by
chunks says how it cuts its file (`parts(rows)`: NpySource, ParquetSource, CsvSource) and names the function that
reads one part: a module-level function, so that a part travels to a worker by name and the worker reads it with
the engine it imported. The cluster code knows no file format."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .stamp import FileStamp


@dataclass(frozen=True)
class Part:
    """Rows [start, start + count) of one file: what a task reads (the workers need the file's path)."""

    path: str
    start: int
    count: int
    reader: Callable[[Part], np.ndarray]  # the format's reader of one part (count, D)
    detail: tuple = ()  # what that reader needs besides: the chosen columns, row groups, a text part's bytes
    stamp: FileStamp | None = None  # the file's when it was cut: a changed file makes other parts (Dask keys)


def resolved(path: Path) -> str:
    """The path a worker in another folder opens."""
    return str(Path(path).resolve())


def read_part(part: Part) -> np.ndarray:
    """The part's rows (count, D) as stored (runs on a worker; the file must be where the path says: DataError
    when it is not, as on a worker of another machine without the folder)."""
    try:
        return part.reader(part)
    except FileNotFoundError:
        import socket

        raise DataError(
            f"{part.path}: the Dask worker on {socket.gethostname()} finds no such file: workers read the data "
            "themselves, so it must be at this path on every worker's machine (a shared folder)"
        ) from None
