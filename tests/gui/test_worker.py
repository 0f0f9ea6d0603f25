"""The fit in the background without the window: frames at most ~30 a second, Step and Stop between iterations,
and the one error path."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from gui_helpers import two_clusters
from PySide6.QtCore import QTimer

import engine
import gui.scene.worker
from gui.background import Background
from gui.scene.frames import build_scene
from gui.scene.worker import FRAME_RATE, FitJob, RunGate, run_fit


def _job(job_id: int, config, paused: bool = False) -> FitJob:
    scene = build_scene(two_clusters(0, 400))
    return FitJob(job_id, scene, config, RunGate(engine.CancelToken(), paused=paused))


class Fits:
    """A Background of one thread running fits as the window does; what each job sent, kept per test.

    It also checks, as each frame leaves the worker, that no frame but the last waits for the GUI: every earlier
    frame has been received and drawn (the GUI's `drawn` event) before the next is emitted."""

    def __init__(self) -> None:
        self.background = Background(threads=1)
        self.frames: list = []  # (receipt time, frame)
        self.ended: list = []  # job ids, once each job has ended
        self.failed: list = []  # (message, internal)
        self.emitted = 0  # frames the worker emitted (counted on its thread)
        self.drawn = 0  # frames the GUI thread received and marked drawn
        self.queued: list = []  # (frames emitted, frames drawn) at each emit of a frame that is not the last

    def submit(self, job: FitJob, auto_draw: bool = True, draw_cost: float = 0.0, draw_ms: int = 0) -> None:
        """auto_draw: mark each frame drawn (job.drawn) once it has arrived, draw_ms later (real time: the fit
        runs on meanwhile), saying that it took draw_cost seconds (job.gui_cost), as gui/run_control.py does."""

        def drawn() -> None:
            self.drawn += 1
            job.gui_cost = draw_cost
            job.drawn.set()

        def on_frame(frame) -> None:
            self.frames.append((time.monotonic(), frame))
            if auto_draw and draw_ms:
                QTimer.singleShot(draw_ms, drawn)
            elif auto_draw:
                drawn()

        def on_error(message: str, internal: bool) -> None:
            self.failed.append((message, internal))
            self.ended.append(job.job_id)

        def work(to_gui) -> None:
            def emit(item) -> None:  # on the worker's thread
                if not isinstance(item, str):  # a frame (a str is the progress of a long pass)
                    if not item.snapshot.done:
                        self.queued.append((self.emitted, self.drawn))
                    self.emitted += 1
                to_gui(item)

            run_fit(job, emit)

        self.background.run(work, lambda _r: self.ended.append(job.job_id), on_error, on_item=on_frame)

    def shutdown(self, job: FitJob | None) -> None:
        if job is not None:
            job.gate.cancel()
        assert self.background.wait(60_000)


# A stand-in for the engine's fit, for the tests of the worker's throttling: thousands of iterations in about a
# second, on a clock of its own. It replays the snapshots of a tiny real fit of the same data and config (real
# engine Snapshots, so real frames are built from them), cycled, with increasing iteration numbers; each
# iteration takes DT seconds of the fit's clock, which is also the clock the worker decides by (gui.scene.worker's
# time). Frames are then counted and spaced on one clock, exactly, whatever the machine's load.
DT = 2.0**-10  # about 1 ms, exact in binary: the clock's times and gaps are exact multiples of it
N_ITER = 3000


class FitClock:
    """The worker's clock in these tests: it moves only when the replayed fit does."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    perf_counter = monotonic  # RunGate.wait's paused time: none passes on this clock while the worker waits


@pytest.fixture(scope="module")
def tiny_fit():
    """The config of the throttling tests (gradient-em, 3,000 iterations) and the snapshots of its first 5
    iterations, run for real on the tests' data."""
    cfg = engine.FitConfig(n_components=2, algorithm="gradient-em", max_iter=N_ITER)
    snapshots = list(engine.fit(_job(0, cfg).scene.points, replace(cfg, max_iter=5)))
    assert [s.iteration for s in snapshots] == list(range(6)) and snapshots[-1].status == "max_iter"
    return cfg, snapshots[:-1]


def replayed_fit(monkeypatch, snapshots, job: FitJob, gui_draws_at_once: bool) -> None:
    """Make run_fit's engine.fit replay `snapshots` as a fit of job.config: iterations 0..max_iter, DT apart on a
    FitClock, the last at status max_iter. gui_draws_at_once: the fit waits for the GUI to draw each frame
    before its next iteration (drawing takes no time on the fit's clock: only the worker's throttle spaces the
    frames); else it runs on, whatever the GUI does (pausing 0.1 ms of real time every 100 iterations, so that
    the GUI thread gets its turns meanwhile)."""
    clock = FitClock()
    resolved = job.config.resolved()
    n_iter = resolved.max_iter

    def fit(points, config, token):
        assert points is job.scene.points and config is job.config and token is job.gate.token
        for i in range(n_iter + 1):
            while gui_draws_at_once and not (job.drawn.wait(0.1) or token.cancelled):
                pass
            if not gui_draws_at_once and i % 100 == 0:
                time.sleep(1e-4)  # real time: the GUI thread gets its turns (a fit's torch calls give it the GIL)
            clock.now = i * DT
            status = "max_iter" if i == n_iter else "cancelled" if token.cancelled else "running"
            snap = snapshots[i % len(snapshots)]
            yield replace(snap, iteration=i, elapsed=clock.now, status=status, config=resolved)
            if status == "cancelled":
                return

    monkeypatch.setattr(engine, "fit", fit)
    monkeypatch.setattr(gui.scene.worker, "time", clock)


@pytest.mark.parametrize(
    ("draw_cost", "draw_ms"), [(0.0, 0), (0.05, 0), (0.0, 5)], ids=["fast-gui", "slow-gui", "lagging-gui"]
)
def test_frames_are_throttled_and_the_last_one_is_always_sent(qtbot, monkeypatch, tiny_fit, draw_cost, draw_ms) -> None:
    """3,000 iterations, about 1 ms each on the fit's clock (2.9 s). A GUI that draws each frame at once (so only
    the worker's throttle spaces them); one that takes 50 ms to draw (frames twice that apart); and one that marks
    each frame drawn 5 ms of real time after it arrived, while the fit runs on (about 200 iterations: frames then
    also wait for `drawn`)."""
    cfg, snapshots = tiny_fit
    job = _job(1, cfg)
    gui_draws_at_once = not draw_ms
    replayed_fit(monkeypatch, snapshots, job, gui_draws_at_once)
    fits = Fits()
    try:
        frames, ended = fits.frames, fits.ended
        fits.submit(job, draw_cost=draw_cost, draw_ms=draw_ms)
        qtbot.waitUntil(lambda: bool(ended) and fits.drawn == len(frames), timeout=60_000)
        assert not fits.failed
        assert frames[-1][1].snapshot.iteration == N_ITER and frames[-1][1].snapshot.status == "max_iter"
        # frames at least 1/FRAME_RATE apart, and at least twice the GUI's drawing time: measured on the clock the
        # worker decides by, which is the fit's (snapshot.elapsed), so exactly
        period = max(1.0 / FRAME_RATE, 2.0 * draw_cost)
        wall = N_ITER * DT
        # at most FRAME_RATE a second (fewer for a slow GUI), plus the first and the last
        assert len(frames) <= wall / period + 2
        gaps = np.diff([f.snapshot.elapsed for _, f in frames[:-1]])
        assert len(gaps) and gaps.min() >= period
        if gui_draws_at_once:  # and none withheld: each next frame came at the first iteration due
            assert gaps.max() < period + DT
        # no frame waited for the GUI behind another: each but the last left once the GUI had drawn every earlier one
        assert fits.queued and all(drawn == emitted for emitted, drawn in fits.queued)
        # the history in the last frame has every iteration, not only the emitted ones
        np.testing.assert_array_equal(frames[-1][1].history[:, 0], np.arange(N_ITER + 1))
    finally:
        fits.shutdown(job)


def test_no_frame_is_sent_until_the_gui_has_drawn_the_last(qtbot, monkeypatch, tiny_fit) -> None:
    cfg, snapshots = tiny_fit
    job = _job(2, replace(cfg, max_iter=2000))
    replayed_fit(monkeypatch, snapshots, job, gui_draws_at_once=False)  # 2 s on the fit's clock: 60 frames due
    fits = Fits()
    try:
        fits.submit(job, auto_draw=False)
        frames, ended = fits.frames, fits.ended
        qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
        assert not fits.failed
        assert len(frames) == 2  # the first frame, never acknowledged, then only the final one
        assert frames[0][1].snapshot.iteration == 0
        assert frames[-1][1].snapshot.done and frames[-1][1].snapshot.iteration == 2000
    finally:
        fits.shutdown(job)


def test_step_and_stop_act_between_iterations(qtbot) -> None:
    fits = Fits()
    try:
        job = _job(3, engine.FitConfig(n_components=2, tol=0.0, max_iter=10_000), paused=True)
        frames, ended = fits.frames, fits.ended
        fits.submit(job)
        qtbot.waitUntil(lambda: len(frames) == 1, timeout=60_000)
        assert frames[0][1].snapshot.iteration == 0
        for i in range(1, 4):
            job.gate.step()
            qtbot.waitUntil(lambda i=i: frames[-1][1].snapshot.iteration == i, timeout=60_000)
        qtbot.waitUntil(lambda: job.gate.blocked, timeout=60_000)  # the worker waits at the gate
        assert frames[-1][1].snapshot.iteration == 3  # paused: no more iterations
        job.gate.cancel()
        qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
        last = frames[-1][1].snapshot
        assert last.status == "cancelled" and last.iteration == 3  # where it was paused: no other iteration
    finally:
        fits.shutdown(None)


def test_a_user_error_is_reported_not_raised(qtbot) -> None:
    fits = Fits()
    try:
        failed, ended = fits.failed, fits.ended
        job = FitJob(4, build_scene(np.zeros((2, 2))), engine.FitConfig(n_components=3), RunGate(engine.CancelToken()))
        fits.submit(job)
        qtbot.waitUntil(lambda: bool(ended), timeout=60_000)
        assert failed == [("2 points cannot fit 3 components: use at most 2 components or more data", False)]
    finally:
        fits.shutdown(None)


def test_run_gate_wakes_a_paused_wait_on_cancel() -> None:
    gate = RunGate(engine.CancelToken(), paused=True)
    woke = threading.Event()
    t = threading.Thread(target=lambda: (gate.wait(), woke.set()))
    t.start()
    assert not woke.wait(0.1)
    gate.cancel()
    assert woke.wait(5.0)
    t.join()


def test_the_one_error_path_and_the_order_of_a_stream(qtbot) -> None:
    background = Background(threads=2)
    got: list = []

    def stream(emit):
        for i in range(50):
            emit(i)
        return "end"

    background.run(
        stream, lambda result: got.append(("done", result)), lambda m, i: got.append(("error", m)), on_item=got.append
    )

    def broken():
        raise ValueError("not a user's mistake")

    errors: list = []
    background.run(broken, errors.append, lambda message, internal: errors.append((message, internal)))
    qtbot.waitUntil(lambda: len(got) == 51 and bool(errors), timeout=30_000)
    assert got == [*range(50), ("done", "end")]
    ((message, internal),) = errors
    assert internal and message.startswith("Traceback (most recent call last):")
    assert message.strip().splitlines()[-1] == "ValueError: not a user's mistake"
    assert background.wait(10_000) and not background.busy
