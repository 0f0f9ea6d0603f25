"""Shared fixtures: data sets and paths. Qt tests run headless."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SHARED = ROOT.parent / "shared"
OLD_FAITHFUL = SHARED / "data" / "old_faithful.csv"


def blobs(seed: int, n: int = 600) -> np.ndarray:
    """Three overlapping, differently shaped 2-D clusters (N, 2)."""
    rng = np.random.default_rng(seed)
    a = rng.multivariate_normal([0, 0], [[1.0, 0.6], [0.6, 1.5]], n // 3)
    b = rng.multivariate_normal([4, 3], [[0.5, -0.2], [-0.2, 0.3]], n // 3)
    c = rng.multivariate_normal([0, 5], [[2.0, 0.0], [0.0, 0.4]], n - 2 * (n // 3))
    return np.concatenate([a, b, c])


@pytest.fixture
def faithful() -> np.ndarray:
    from engine.data import load

    return load(OLD_FAITHFUL).points
