"""Shared fixtures. Qt tests run headless. The tests import the project and tests/ (helpers, references) by name."""

from __future__ import annotations

import gc
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


@pytest.fixture(autouse=True)
def _collect_on_the_main_thread():
    """A window turns automatic garbage collection off and collects from a timer of the GUI thread (see
    gui/collector.py); between tests, where no event loop runs, collect what is due here instead."""
    yield
    if not gc.isenabled():
        from gui.collector import collect_due

        collect_due()
