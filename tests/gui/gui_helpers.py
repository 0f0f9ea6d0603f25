"""Helpers for driving the window in tests."""

from __future__ import annotations

import numpy as np

FIT_TIMEOUT_MS = 120_000


def two_clusters(seed: int, n: int) -> np.ndarray:
    """Two well separated 2-D clusters (n, 2)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal([0, 0], 1.0, (n // 2, 2)), rng.normal([6, 3], 0.7, (n - n // 2, 2))])


def run_fit(qtbot, window, **settings) -> str:
    """Set controls (k=..., tol='...', max_iter='...', algorithm=...), run the fit to its end; its status."""
    set_controls(window, **settings)
    ended: list[str] = []
    window.run_control.fit_ended.connect(ended.append)
    assert window.run_control.start_fit(), window.messages.last_error
    qtbot.waitUntil(lambda: bool(ended), timeout=FIT_TIMEOUT_MS)
    window.run_control.fit_ended.disconnect(ended.append)
    return ended[0]


def set_controls(window, **settings) -> None:
    c = window.controls
    for name, value in settings.items():
        widget = getattr(c, name)
        if hasattr(widget, "setValue"):
            widget.setValue(value)
        elif hasattr(widget, "setCurrentText"):
            widget.setCurrentText(value)
        else:
            widget.setText(str(value))


def open_session(qtbot, window, path) -> str:
    """Open a session file in the window and wait for its replayed fit to end; the fit's status."""
    ended: list[str] = []
    window.run_control.fit_ended.connect(ended.append)
    window.sessions.open(str(path))
    qtbot.waitUntil(lambda: bool(ended), timeout=FIT_TIMEOUT_MS)
    window.run_control.fit_ended.disconnect(ended.append)
    return ended[0]


def opened_dialog(qtbot, window, path, name: str):
    """Open the file path in the window (None: a file being opened already, its next dialog) and wait for the data
    control's dialog `name` ("column_picker", "missing_question") to show; that dialog."""
    if path is not None:
        window.data.open_path(str(path))
    shown = lambda: getattr(window.data, name) is not None and getattr(window.data, name).isVisible()  # noqa: E731
    qtbot.waitUntil(shown, timeout=30_000)
    return getattr(window.data, name)


def choose_selection(window, k_from: int, k_to: int, types=None, restarts: int | None = None):
    """Set the Model selection tab's K range, covariance types (a collection of names; None: every type) and
    restarts (None: as they are); the tab's view."""
    view = window.selection
    view.k_from.setValue(k_from)
    view.k_to.setValue(k_to)
    if restarts is not None:
        view.restarts.setValue(restarts)
    for name, box in view.types.items():
        box.setChecked(types is None or name in types)
    return view
