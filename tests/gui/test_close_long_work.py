"""Closing the window (or Stop) during a fit of many restarts ends its worker at the next chunk of the long work it is
in: a new user set Restarts 2000 on 50,000 points, ran, and closed the window a few seconds later; it showed
"stopping the background work before the window closes..." for 9 s and more (the starts and the first E-step of all
restarts ran to their end before the fit looked at its token)."""

from __future__ import annotations

import threading

from gui_helpers import set_controls, two_clusters

import engine
from gui.background import Background


def _watch_checks(monkeypatch) -> tuple[threading.Event, list[bool]]:
    """Record every CancelToken.check of the engine (True: the token was cancelled then); the event is set at the
    first, when the fit is inside its starts."""
    inside, calls = threading.Event(), []
    check = engine.CancelToken.check

    def watched(token) -> None:
        calls.append(token.cancelled)
        inside.set()
        check(token)

    monkeypatch.setattr(engine.CancelToken, "check", watched)
    return inside, calls


def _start_many_restarts(window) -> None:
    points = two_clusters(0, 40_000)
    window.data.set_dataset(engine.Dataset(points, ("a", "b"), (0, 1), "two clusters"))
    set_controls(window, k=3, restarts=400)
    assert window.run_control.start_fit(), window.messages.last_error


def test_closing_the_window_during_the_starts_of_many_restarts_ends_the_fit_there(qtbot, window, monkeypatch) -> None:
    """The fit is in its starts (its first check has come) when the window closes: the worker ends at the next check,
    the only one made after the cancel, before any iteration was shown."""
    inside, calls = _watch_checks(monkeypatch)
    _start_many_restarts(window)
    qtbot.waitUntil(inside.is_set, timeout=60_000)
    window.close()
    backgrounds = window.findChildren(Background)
    assert all(b.pool.activeThreadCount() == 0 and not b.busy for b in backgrounds)
    assert calls.count(True) == 1  # the check that raised Cancelled: no block of the starts ran after the cancel
    assert window.state.frame is None  # stopped in the starts: the first E-step of 400 restarts never ran


def test_stop_during_the_starts_ends_the_fit_there_and_the_window_says_so(qtbot, window, monkeypatch) -> None:
    """Stop (Esc) in the starts: the fit ends at the next check, the window idle again with no fit shown and Run
    enabled (as a fit of data read by chunks stopped in its first pass)."""
    inside, calls = _watch_checks(monkeypatch)
    ended: list[str] = []
    window.run_control.fit_ended.connect(ended.append)
    _start_many_restarts(window)
    qtbot.waitUntil(inside.is_set, timeout=60_000)
    window.run_control.stop()
    qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
    assert calls.count(True) == 1
    assert window.state.frame is None and not window.state.job_active
    assert window.controls.run_button.isEnabled()


def test_closing_the_window_while_the_gallery_paints_its_pictures_stops_them(qtbot, window, monkeypatch) -> None:
    """A fit of many restarts ends (or is stopped) and its gallery paints one picture a restart in the background
    (2,000 restarts: 11 s, which the window's closing waited for): closing stops them at the next picture."""
    import gui.views.gallery as gallery

    painting, painted, closed = threading.Event(), [], threading.Event()
    render = gallery.render_thumbnail

    def counted(*args, **kwargs):
        painted.append(closed.is_set())
        painting.set()
        closed.wait(30)  # the first picture waits for the window to close: the others would come after it
        return render(*args, **kwargs)

    close = Background.close

    def closing(background) -> None:  # once the window has asked its Backgrounds' tasks to stop
        close(background)
        closed.set()

    monkeypatch.setattr(gallery, "render_thumbnail", counted)
    monkeypatch.setattr(Background, "close", closing)
    window.data.set_dataset(engine.Dataset(two_clusters(0, 300), ("a", "b"), (0, 1), "two clusters"))
    set_controls(window, k=2, restarts=60, max_iter="3")
    assert window.run_control.start_fit(), window.messages.last_error
    qtbot.waitUntil(painting.is_set, timeout=60_000)
    window.close()
    backgrounds = window.findChildren(Background)
    assert all(b.pool.activeThreadCount() == 0 and not b.busy for b in backgrounds)
    assert painted == [False]  # the picture painting when the window closed, and no other of the 60
