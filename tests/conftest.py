"""Shared fixtures. Qt tests run headless. The tests import the project and tests/ (helpers, references) by name.

Every test module must leave the process as it found it (`_module_leaves_the_world_as_it_found_it`): no thread,
Dask cluster, window or Background left running, no process-wide setting changed. A module that does fails, named.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
TESTS = Path(__file__).resolve().parent
for path in (TESTS.parent, TESTS):
    sys.path.insert(0, str(path))

from data_sets import OLD_FAITHFUL  # noqa: E402

import engine  # noqa: E402,F401  (its process-wide settings, made once, are the world every module starts from)

# Threads that live as long as the process by design, made on first use and idle between uses: the engine's E-step
# pool (engine/threads.py) and distributed's one offloading thread (made when distributed is imported).
PROCESS_THREADS = ("gmm-estep", "Dask-Offload")
SETTLE_S = 15.0  # a Dask client's loop thread and its processes' watchers end a moment after it is closed


def _threads() -> set[tuple[int, str]]:
    """The Python threads alive (a Qt pool thread that ran Python shows as a _DummyThread: the Backgrounds are checked
    for those)."""
    return {
        (t.ident, t.name)
        for t in threading.enumerate()
        if not isinstance(t, threading._DummyThread) and not t.name.startswith(PROCESS_THREADS)
    }


def _settings() -> dict[str, object]:
    """The process-wide settings a test could change and not put back."""
    from engine.runtime import threads

    return {
        "gc enabled": gc.isenabled(),
        "gc thresholds": gc.get_threshold(),
        "switch interval": sys.getswitchinterval(),
        "E-step workers": threads._CHUNK_WORKERS,
        "BLAS threads": sorted(set(threads.blas_thread_counts())),  # a library loaded since (SciPy's) comes with 1
    }


def _end_qt() -> list[str]:
    """Run the Qt deletions still pending (windows closed by their tests), undo the application's process-wide
    settings; what is left: windows not deleted, Backgrounds with work."""
    if "PySide6" not in sys.modules:
        return []
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return []
    from gui.app import end_app_settings
    from gui.background import Background
    from gui.main_window import MainWindow

    for _ in range(3):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()
    left = [f"a window: {w.windowTitle()!r}" for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
    left += [f"a Background with work: {b}" for b in list(Background.made) if _alive(b) and _working(b)]
    end_app_settings(app)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return left


def _alive(obj) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)


def _working(background) -> bool:
    return background.busy or background.pool.activeThreadCount() > 0


@pytest.fixture(scope="module", autouse=True)
def _module_leaves_the_world_as_it_found_it(request):
    """Fails the module that leaves threads, clusters, windows, Backgrounds or changed settings behind."""
    threads, settings = _threads(), _settings()
    yield
    left = _end_qt()
    deadline = time.monotonic() + SETTLE_S
    while _threads() - threads and time.monotonic() < deadline:
        time.sleep(0.05)
    gc.collect()
    left += [f"a thread: {name}" for _ident, name in sorted(_threads() - threads, key=lambda t: t[1])]
    now = _settings()
    left += [f"{key} changed: {settings[key]} -> {now[key]}" for key in settings if now[key] != settings[key]]
    if left:
        pytest.fail(f"{request.module.__name__} left behind: " + "; ".join(left), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def background_runs(request, tmp_path_factory):
    """The commands of every selected test marked `background` (its module's queued(test_id, folder)), started
    before the first test, to run beside the others (tests/background.py); stopped at the session's end."""
    from background import Background, server_env

    items = request.session.items
    marked = [item for item in items if item.get_closest_marker("background")]
    queued = {item.nodeid: item.module.queued(_test_id(item), tmp_path_factory.mktemp("queued")) for item in marked}
    servers = 2 if len(marked) == len(items) else 1  # alone, they have both cores
    runs = Background(queued, tmp_path_factory.mktemp("background"), servers, server_env())
    yield runs
    runs.close()


def _test_id(item: pytest.Item) -> str:
    """A parametrised test's parameters' id (a doc's or a bench's name), else the test's name."""
    callspec = getattr(item, "callspec", None)
    return callspec.id if callspec is not None else item.name


@pytest.fixture
def faithful() -> np.ndarray:
    from engine.io.data import load

    return load(OLD_FAITHFUL).points


@pytest.fixture(autouse=True)
def _collect_on_the_main_thread():
    """A window turns automatic garbage collection off and collects from a timer of the GUI thread (see
    gui/collector.py); between tests, where no event loop runs, collect what is due here instead."""
    yield
    if not gc.isenabled():
        from gui.collector import collect_due

        collect_due()
