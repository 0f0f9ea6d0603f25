"""A data set as the engine holds it: points (N, D) float64, their column names and file columns; the
names of unnamed columns; the points' hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


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
