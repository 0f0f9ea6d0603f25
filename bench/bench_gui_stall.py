"""Event-loop stalls and redraw time while the window runs a fit, at several data sizes.

    .venv/bin/python bench/bench_gui_stall.py [--sizes 10000,50000,100000,1000000] [--max-iter 200]
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python bench/bench_gui_stall.py   (a real X server)
    .venv/bin/python bench/bench_gui_stall.py --file BIG.npy --memory-limit 150M [--max-iter 5]

With --file, a file bigger than the memory limit is opened (read by chunks: its two passes) and fitted a pass
per iteration: the longest stalls while it opens and while it is fitted.

For each N: forum-preset data of N points is put in the real window (offscreen Qt), an EM fit (K=3, full,
the window's defaults) runs to convergence or --max-iter, and a 1 ms QTimer records the event loop's
ticks. The longest gap between ticks is the longest stall the user would feel; the redraw time is the
GUI-thread time to hand one frame to the items (setData on plot items, table, chart, status bar), from
the window's own record, and, replayed after the fit, that plus a synchronous paint of the whole window.
The scene (density image, sample) build is timed too: it runs in the background, not on the GUI thread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

if not os.environ.get("DISPLAY"):  # headless unless run under an X server (xvfb-run)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from common import forum_data, parse_args, table  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QSettings, QTimer  # noqa: E402

from gui.app import make_app  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.scene.frames import build_scene  # noqa: E402


class TickRecorder:
    """Records the event loop's ticks with a 1 ms timer; gaps are stalls."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(lambda: self.ticks.append(self.clock.nsecsElapsed() / 1e6))

    def start(self) -> None:
        self.ticks.clear()
        self.clock.start()
        self.timer.start()

    def stop(self) -> np.ndarray:
        self.timer.stop()
        return np.diff(self.ticks)


def open_window():
    """(app, a shown MainWindow with the engine loaded, its temporary settings folder): fresh settings, so
    nothing carries over from other runs."""
    app = make_app()
    settings_dir = tempfile.TemporaryDirectory()
    window = MainWindow(QSettings(str(Path(settings_dir.name) / "bench.ini"), QSettings.Format.IniFormat))
    window.show()
    wait_for(app, lambda: window.run_control.ready)
    return app, window, settings_dir


def wait_for(app, condition, timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        app.processEvents()
        time.sleep(0.001)
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")


def measure(app, window: MainWindow, n: int, max_iter: int) -> list:
    import engine

    points = forum_data(n, seed=1)
    t = time.perf_counter()
    build_scene(points)
    scene_ms = (time.perf_counter() - t) * 1e3
    window.data.set_dataset(engine.Dataset(points, ("x", "y"), (0, 1), f"bench N={n}"))
    wait_for(app, lambda: window.state.scene is not None and len(window.state.scene.points) == n)
    window.controls.max_iter.setText(str(max_iter))
    window.run_control.redraw_ms.clear()
    ended: list[str] = []
    window.run_control.fit_ended.connect(ended.append)
    frames: list = []
    collect = lambda: frames.append(window.state.latest)  # noqa: E731
    window.state.latest_changed.connect(collect)
    recorder = TickRecorder()
    recorder.start()
    t = time.perf_counter()
    window.run_control.start_fit()
    wait_for(app, lambda: bool(ended))
    fit_s = time.perf_counter() - t
    gaps = recorder.stop()
    window.run_control.fit_ended.disconnect(ended.append)
    window.state.latest_changed.disconnect(collect)
    snap = window.state.frame.snapshot
    redraw = list(window.run_control.redraw_ms)
    painted = replay(app, window, frames[:40])
    return [
        f"{n:,}",
        snap.iteration,
        f"{fit_s:.2f}",
        len(redraw),
        f"{statistics.median(redraw):.1f}",
        f"{max(redraw):.1f}",
        f"{statistics.median(painted):.1f}",
        f"{max(painted):.1f}",
        f"{np.percentile(gaps, 99):.1f}",
        f"{gaps.max():.1f}",
        f"{scene_ms:.0f}",
    ]


def replay(app, window: MainWindow, frames: list) -> list[float]:
    """GUI-thread ms to draw each frame: setData, then the event loop's pass that paints the window."""
    out = []
    for frame in frames:
        app.processEvents()
        t = time.perf_counter()
        window.state.set_frame(frame)
        app.processEvents()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def measure_file(app, window: MainWindow, path: str, limit: str, max_iter: int) -> None:
    """Open a file read by chunks and fit it: the event loop's longest stalls in each, printed."""
    window.controls.memory_limit.setText(limit)
    recorder = TickRecorder()
    recorder.start()
    t = time.perf_counter()
    window.data.open_path(path, ask_columns=False)
    wait_for(app, lambda: window.state.stream is not None and window.state.scene is not None)
    open_s, open_gaps = time.perf_counter() - t, recorder.stop()
    window.controls.max_iter.setText(str(max_iter))
    window.controls.tol.setText("0")
    ended: list[str] = []
    window.run_control.fit_ended.connect(ended.append)
    recorder.start()
    t = time.perf_counter()
    window.run_control.start_fit()
    wait_for(app, lambda: bool(ended))
    fit_s, fit_gaps = time.perf_counter() - t, recorder.stop()
    stream = window.state.stream
    print(f"{path}: N = {stream.n_samples:,}, D = {stream.n_features}, memory limit {limit}, Qt {app.platformName()}")
    rows = [
        [what, f"{s:.2f}", f"{np.percentile(gaps, 99):.1f}", f"{gaps.max():.1f}"]
        for what, s, gaps in (
            ("open (first pass, image)", open_s, open_gaps),
            (f"fit ({max_iter} passes + start)", fit_s, fit_gaps),
        )
    ]
    print(table(["", "s", "loop gap p99 ms", "longest stall ms"], rows))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="10000,50000,100000,1000000")
    p.add_argument("--max-iter", type=int, default=200)
    p.add_argument("--file", help="a file bigger than --memory-limit: open it and fit it read by chunks")
    p.add_argument("--memory-limit", default="150M")
    args = parse_args(p, sizes="2000", max_iter=3)
    app, window, settings_dir = open_window()
    if args.file:
        measure_file(app, window, args.file, args.memory_limit, args.max_iter)
        window.close()
        return
    rows = [measure(app, window, int(n), args.max_iter) for n in args.sizes.split(",")]
    window.close()
    print(f"Qt platform: {app.platformName()}")
    print(
        table(
            [
                "N",
                "iterations",
                "fit s",
                "frames",
                "setData median ms",
                "setData max ms",
                "redraw+paint median ms",
                "redraw+paint max ms",
                "loop gap p99 ms",
                "longest stall ms",
                "scene build ms (bg)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
