"""`python3 main.py screenshot OUT.png [--data FILE] [--columns 1-4] [-k 3] [--fit] [--view pairs] [--show 0,2]`: the
real window, saved.

Opens the window (headless when there is no display), waits for the engine, loads the data (the demo
data by default), runs the fit to its end when asked, and saves a screenshot of the whole window.
Settings are kept in a temporary folder so that a screenshot never changes the user's own. The pairs matrix is
grabbed once it is whole (every cell laid out, the fit drawn), and the window is taken apart before the command
returns (see app.dispose_window).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TIMEOUT_S = 600
PAIRS_WAIT_S = 120  # the longest the pairs matrix may take to lay itself out (a cell per event-loop turn)


MAX_SIDE = 8192  # pixels: a larger window's image (and Qt's backing store) takes gigabytes


def check_settings(args, width: int, height: int) -> str:
    """What is wrong with the settings, before any window opens ('' if nothing): each value must be one the
    window's own controls take (they would silently clamp it), and the picture must fit in memory."""
    import engine

    from .views.controls import K_RANGE, RESTARTS_RANGE, SEED_RANGE

    if not (200 <= width <= MAX_SIDE and 200 <= height <= MAX_SIDE):
        return f"--size {width}x{height}: each side must be from 200 to {MAX_SIDE} pixels"
    ranges = {
        "-k": (args.components, K_RANGE),
        "--restarts": (args.restarts, RESTARTS_RANGE),
        "--seed": (args.seed, SEED_RANGE),
        "--max-iter": (args.max_iter, (0, 10**9)),
    }
    for flag, (value, (lo, hi)) in ranges.items():
        if value is not None and not lo <= value <= hi:
            return f"{flag} must be from {lo} to {hi}, got {value}"
    if args.algorithm is not None and args.algorithm not in engine.ALGORITHMS:
        return f"--algorithm {args.algorithm!r}: choose one of {', '.join(engine.ALGORITHMS)}"
    if args.view == "separating" and not args.fit:
        return "--view separating takes its axes from a fit: add --fit"
    if args.show is not None and len(args.show.split(",")) != 2:
        return f"--show takes two columns (0,2 or a,c), got {args.show!r}"
    inits = [m for m in engine.INIT_METHODS if m != "params"]
    if args.init is not None and args.init not in inits:
        return f"--init {args.init!r}: choose one of {', '.join(inits)}"
    return ""


def run(args) -> int:
    """The screenshot command (cli.parser's screenshot options in args): 0 saved, 2 a user's mistake."""
    if "QT_QPA_PLATFORM" not in os.environ and not os.environ.get("WAYLAND_DISPLAY"):
        from .system_libraries import display_problem

        display = os.environ.get("DISPLAY")
        if not display or (sys.platform.startswith("linux") and display_problem(display)):  # none answers there
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        print(f"error: {out}: the screenshot is a PNG: name it .png", file=sys.stderr)
        return 2
    if not out.parent.is_dir():
        print(f"error: {out}: the folder {out.parent} does not exist", file=sys.stderr)
        return 2
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"error: --size takes WIDTHxHEIGHT, got {args.size!r}", file=sys.stderr)
        return 2
    problem = check_settings(args, width, height)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from PySide6.QtCore import QSettings, QTimer

    from .app import dispose_window, make_app
    from .main_window import MainWindow

    app = make_app()
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "screenshot.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings)
        window.resize(width, height)
        window.show()
        shot = _Shot(app, window, args, out)
        window.run_control.engine_loaded.connect(shot.engine_ready)
        QTimer.singleShot(TIMEOUT_S * 1000, window, lambda: shot.fail(f"timed out after {TIMEOUT_S} s"))
        app.exec()
        dispose_window(window)
        del window
    if shot.error:
        print(f"error: {shot.error}", file=sys.stderr)
        return 2
    print(f"saved {out}")
    return 0


def pairs_ready(window) -> bool:
    """The plot can be grabbed as far as the pairs view goes: not shown, or whole (every cell laid out and the
    latest frame drawn)."""
    return window.plot_stack.currentWidget() is not window.pairs or window.pairs.complete


class _Shot:
    """Engine ready -> data shown -> (fit ended) -> grab the window."""

    def __init__(self, app, window, args, out: Path) -> None:
        self.app, self.window, self.args, self.out = app, window, args, out
        self.error = ""
        self._waiting_since: float | None = None  # when wait_then_grab began to wait for the pairs matrix

    def engine_ready(self) -> None:
        c = self.window.controls
        if self.args.components is not None:
            c.k.setValue(self.args.components)
        if self.args.algorithm:
            c.algorithm.setCurrentText(self.args.algorithm)
        if self.args.restarts:
            c.restarts.setValue(self.args.restarts)
        if self.args.init:
            c.init.setCurrentText(self.args.init)
        if self.args.seed is not None:
            c.seed.setValue(self.args.seed)
        if self.args.max_iter is not None:
            c.max_iter.setText(str(self.args.max_iter))
        if self.args.memory_limit:
            c.memory_limit.setText(self.args.memory_limit)
        if self.args.dask:
            c.where_box.setCurrentIndex(1 if self.args.dask == "local" else 2)
            c.scheduler.setText("" if self.args.dask == "local" else self.args.dask)
        if self.args.data:
            columns = self.args.columns.split(",") if self.args.columns else None
            self.window.state.scene_changed.connect(self.data_shown)
            self.window.data.open_path(self.args.data, columns, ask_columns=False)
            self._watch_errors()
        else:
            self.data_shown()

    def apply_view(self) -> bool:
        """Choose --view and --show in the view bar (as a user would); False (and the command fails) if the
        columns named are not the data's."""
        if not self.args.view and not self.args.show:
            return True
        bar, names = self.window.view_bar, list(self.window.state.dataset.columns)
        kind = self.args.view or "columns"
        bar.kind.setCurrentIndex([bar.kind.itemData(i) for i in range(bar.kind.count())].index(kind))
        if self.args.show:
            places = []
            for item in self.args.show.split(","):
                item = item.strip()
                place = int(item) if item.isdigit() else names.index(item) if item in names else -1
                if not 0 <= place < len(names):
                    self.fail(f"--show {self.args.show}: {item!r} is not among the fitted columns {names}")
                    return False
                places.append(place)
            bar.x.setCurrentIndex(places[0])
            bar.y.setCurrentIndex(places[1])
        self.window.views.choose()
        return True

    def _watch_errors(self) -> None:
        """A data error shows a dialog in the window; here it ends the command with the message."""
        from PySide6.QtCore import QTimer

        def check() -> None:
            if self.window.messages.last_error:
                self.fail(self.window.messages.last_error)
            elif self.window.state.scene is None or self.window.tasks.busy:
                QTimer.singleShot(100, self.window, check)

        QTimer.singleShot(100, self.window, check)

    def data_shown(self) -> None:
        if self.args.select:
            self.window.selection.k_to.setValue(self.args.select)
            self.window.selection.done.connect(self.wait_then_grab)
            self.args.tab = self.args.tab or "selection"
            self.window.selection_control.run()
        elif self.args.compare:
            self.window.compare.finished.connect(self.compared)
            self.window.compare_control.run()
        elif self.args.fit:
            self.window.run_control.fit_ended.connect(self.fit_ended)
            if not self.window.run_control.start_fit():
                self.fail(self.window.messages.last_error or "the fit could not start")
        elif self.apply_view():
            self.wait_then_grab()

    def compared(self) -> None:
        self.args.tab = self.args.tab or "compare"
        self.wait_then_grab()

    def fit_ended(self, status: str) -> None:
        if status == "error" or self.window.state.frame is None:
            self.fail(self.window.messages.last_error or "the fit failed")
            return
        if self.args.restart is not None:
            self.window.restarts.show_restart(self.args.restart)
        if self.args.replay is not None:
            iterations = [e.iteration for e in self.window.state.latest.entries]
            index = int(np.searchsorted(iterations, self.args.replay, side="right")) - 1
            self.window.timeline.slider.setValue(max(index, 0))
        if self.apply_view():
            self.wait_then_grab()

    def wait_then_grab(self) -> None:
        """Grab once the background work (gallery pictures, a replayed frame) has reached the window and the
        pairs matrix, when shown, is whole (at most PAIRS_WAIT_S for the matrix)."""
        from PySide6.QtCore import QTimer

        if self.window.tasks.busy:
            QTimer.singleShot(100, self.window, self.wait_then_grab)
            return
        if not pairs_ready(self.window):
            now = time.monotonic()
            self._waiting_since = self._waiting_since or now
            if now - self._waiting_since > PAIRS_WAIT_S:
                self.fail(f"the pairs view was not laid out within {PAIRS_WAIT_S} s")
                return
            QTimer.singleShot(50, self.window, self.wait_then_grab)
            return
        self._waiting_since = None
        if self.args.tab:
            names = {
                "parameters": "Parameters",
                "restarts": "Restarts",
                "compare": "Compare algorithms",
                "selection": "Model selection",
            }
            tabs = self.window.tabs
            for i in range(tabs.count()):
                if tabs.tabText(i).startswith(names[self.args.tab]):  # "Restarts (3 solutions)"
                    tabs.setCurrentIndex(i)
            if self.args.tab != "parameters":  # as a user would drag the splitter to see that tab well
                total = sum(self.window.splitter.sizes())
                share = 0.62 if self.args.tab == "compare" else 0.5
                self.window.splitter.setSizes([int(total * (1 - share)), int(total * share)])
        self.grab()

    def grab(self) -> None:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(300, self.window, self.save)  # let the last frame and the status bar paint

    def save(self) -> None:
        if not pairs_ready(self.window):  # a frame came meanwhile (it is drawn REDRAW_MS apart): wait for it
            self.wait_then_grab()
            return
        if not self.window.grab().save(str(self.out), "PNG"):
            self.error = f"{self.out}: could not be written"
        self.app.quit()

    def fail(self, message: str) -> None:
        self.error = message
        self.app.quit()
