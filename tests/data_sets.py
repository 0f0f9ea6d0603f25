"""Paths and data sets shared by the tests (imported by name: `from data_sets import blobs`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# what keeps main.py in a subprocess from creating a venv or installing anything
NO_BOOTSTRAP = {"GMM_STUDIO_NO_BOOTSTRAP": "1"}
OLD_FAITHFUL = ROOT / "tests" / "data" / "old_faithful.csv"  # with its source and reference numbers


def blobs(seed: int, n: int = 600) -> np.ndarray:
    """Three overlapping, differently shaped 2-D clusters (N, 2)."""
    rng = np.random.default_rng(seed)
    a = rng.multivariate_normal([0, 0], [[1.0, 0.6], [0.6, 1.5]], n // 3)
    b = rng.multivariate_normal([4, 3], [[0.5, -0.2], [-0.2, 0.3]], n // 3)
    c = rng.multivariate_normal([0, 5], [[2.0, 0.0], [0.0, 0.4]], n - 2 * (n // 3))
    return np.concatenate([a, b, c])


def missing_clusters(n: int, d: int = 3, share: float = 0.2, seed: int = 0) -> np.ndarray:
    """Three clusters (n, d) with about `share` of the cells missing (NaN) at random, every row keeping one value."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0] * d, [4.0] * d, [0.0, 5.0] + [-3.0] * (d - 2)])
    x = centres[rng.integers(0, 3, n)] + rng.normal(0.0, 1.0, (n, d)) @ np.triu(np.full((d, d), 0.4)) * 1.5
    hole = rng.random((n, d)) < share
    hole[hole.all(1), rng.integers(0, d)] = False
    return np.where(hole, np.nan, x)


def separated_with_holes(n: int, seed: int, share: float) -> np.ndarray:
    """Three well separated clusters (n, 2), about `share` of the cells missing completely at random (NaN), every
    row keeping one (the missing-values bootstrap's tests)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    x = centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 2)) @ np.array([[1.0, 0.3], [0.0, 0.8]])
    hole = rng.random((n, 2)) < share
    hole[hole.all(1), 0] = False
    return np.where(hole, np.nan, x)
