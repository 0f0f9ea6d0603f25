"""100 restarts of the forum preset with the gallery on screen, against the engine alone, in the same run.

    python3 bench/bench_gallery.py [--restarts 100] [--repeat 3] [--tiny]

"window" is the time from Run to the gallery (grouped solutions, 100 pictures, the table) on screen in the
real window (offscreen Qt unless DISPLAY is set), the live drawing of the fit included; "engine" runs the
same fit with run_to_end and nothing else; "grouping" is engine.build_gallery alone. A 1 ms timer records
the event loop's longest stall while the window works.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_gui_stall import TickRecorder, open_window, wait_for  # noqa: E402
from common import forum_data, parse_args, table  # noqa: E402

import engine  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--restarts", type=int, default=100)
    p.add_argument("--repeat", type=int, default=3)
    args = parse_args(p, restarts=3, repeat=1)
    app, window, settings_dir = open_window()
    x = forum_data(1000, seed=0)
    window.data.set_dataset(engine.Dataset(x, ("x", "y"), (0, 1), "forum preset"))
    wait_for(app, lambda: window.state.scene is not None and len(window.state.scene.points) == 1000)
    window.controls.restarts.setValue(args.restarts)
    cfg = window.controls.config()
    engine_s, group_s, window_s, stalls = [], [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        snap = engine.run_to_end(x, cfg)
        engine_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        engine.build_gallery(snap)
        group_s.append(time.perf_counter() - t)
        recorder = TickRecorder()
        recorder.start()
        t = time.perf_counter()
        window.run_control.start_fit()
        wait_for(app, lambda: window.gallery_panel.gallery is not None and not window.state.job_active)
        app.processEvents()
        window_s.append(time.perf_counter() - t)
        stalls.append(float(recorder.stop().max()))
    window.close()
    print(f"forum preset, N=1000, K=3, {args.restarts} restarts, median of {args.repeat}; Qt {app.platformName()}")
    print(
        table(
            ["measure", "seconds"],
            [
                ["engine alone: fit (run_to_end)", f"{statistics.median(engine_s):.3f}"],
                ["engine alone: grouping into solutions", f"{statistics.median(group_s):.3f}"],
                ["window: Run -> gallery on screen", f"{statistics.median(window_s):.3f}"],
                ["window / engine", f"{statistics.median(window_s) / statistics.median(engine_s):.2f}"],
                ["longest event-loop stall (ms)", f"{max(stalls):.1f}"],
            ],
        )
    )


if __name__ == "__main__":
    main()
