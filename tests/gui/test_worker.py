"""The fit in the background without the window: frames at most ~30 a second, Step and Stop between iterations,
and the one error path."""

from __future__ import annotations

import threading
import time

import numpy as np
from gui_helpers import two_clusters

import engine
from gui.background import Background
from gui.frames import build_scene
from gui.worker import FRAME_RATE, FitJob, RunGate, run_fit


def _job(job_id: int, config, paused: bool = False) -> FitJob:
    scene = build_scene(two_clusters(0, 400))
    return FitJob(job_id, scene, config, RunGate(engine.CancelToken(), paused=paused))


class Fits:
    """A Background of one thread running fits as the window does; what each job sent, kept per test."""

    def __init__(self) -> None:
        self.background = Background(threads=1)
        self.frames: list = []  # (receipt time, frame)
        self.ended: list = []  # job ids, once each job has ended
        self.failed: list = []  # (message, internal)

    def submit(self, job: FitJob, auto_draw: bool = True) -> None:
        def on_frame(frame) -> None:
            self.frames.append((time.monotonic(), frame))
            if auto_draw:
                job.drawn.set()

        def on_error(message: str, internal: bool) -> None:
            self.failed.append((message, internal))
            self.ended.append(job.job_id)

        self.background.run(
            lambda emit: run_fit(job, emit), lambda _r: self.ended.append(job.job_id), on_error, on_item=on_frame
        )

    def shutdown(self, job: FitJob | None) -> None:
        if job is not None:
            job.gate.cancel()
        assert self.background.wait(60_000)


def test_frames_are_throttled_and_the_last_one_is_always_sent(qtbot) -> None:
    fits = Fits()
    try:
        cfg = engine.FitConfig(n_components=2, algorithm="gradient-em", max_iter=3000)
        job = _job(1, cfg)
        frames, ended = fits.frames, fits.ended
        start = time.monotonic()
        fits.submit(job)
        qtbot.waitUntil(lambda: bool(ended), timeout=120_000)
        wall = time.monotonic() - start
        assert frames[-1][1].snapshot.iteration == 3000 and frames[-1][1].snapshot.status == "max_iter"
        # at most FRAME_RATE a second, plus the first and the last
        assert len(frames) <= FRAME_RATE * wall + 2
        # the worker spaces frames 1/30 s apart: measured where it decides, by the fit's own clock at each emitted
        # snapshot (receipt times on the GUI thread also carry the event loop's latency, which a busy machine
        # stretches for one frame and shortens for the next); allow half a period
        gaps = np.diff([f.snapshot.elapsed for _, f in frames[:-1]])
        assert gaps.min() >= 0.5 / FRAME_RATE
        # the history in the last frame has every iteration, not only the emitted ones
        np.testing.assert_array_equal(frames[-1][1].history[:, 0], np.arange(3001))
    finally:
        fits.shutdown(None)


def test_no_frame_is_sent_until_the_gui_has_drawn_the_last(qtbot) -> None:
    fits = Fits()
    try:
        cfg = engine.FitConfig(n_components=2, algorithm="gradient-em", max_iter=2000)
        job = _job(2, cfg)
        fits.submit(job, auto_draw=False)
        frames, ended = fits.frames, fits.ended
        qtbot.waitUntil(lambda: bool(ended), timeout=120_000)
        assert len(frames) == 2  # the first frame, never acknowledged, then only the final one
        assert frames[-1][1].snapshot.done
    finally:
        fits.shutdown(None)


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
        assert last.status == "cancelled" and last.iteration <= 4  # within one iteration
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
