"""Shared fixtures. Qt tests run headless. The tests import the project and tests/ (helpers, references) by name."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
TESTS = Path(__file__).resolve().parent
for path in (TESTS.parent, TESTS):
    sys.path.insert(0, str(path))

from data_sets import OLD_FAITHFUL  # noqa: E402


@pytest.fixture
def faithful() -> np.ndarray:
    from engine.data import load

    return load(OLD_FAITHFUL).points
