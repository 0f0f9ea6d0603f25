"""The fit's background side: importing the engine, and pulling a fit's snapshot generator (run through a
gui.background.Background).

It never touches a widget. It keeps only the latest snapshot and emits a Frame (computed here, off the GUI
thread) at most FRAME_RATE times a second, only once the GUI has drawn the previous one (so frames never
queue up behind a slow redraw), and at least twice the GUI's drawing time apart. Pause, Step and Stop act
between iterations through a RunGate, which uses plain threading primitives shared with the GUI thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np

from .frames import MIN_POINTS, ComponentState, DataScene, build_frame
from .restart_paths import trajectory_of

FRAME_RATE = 30.0


class RunGate:
    """Between iterations the worker asks `wait()`; the GUI pauses, steps, resumes or cancels."""

    def __init__(self, cancel_token, paused: bool = False) -> None:
        self.token = cancel_token
        self._cond = threading.Condition()
        self._paused = paused
        self._steps = 0
        self.waited = 0.0  # seconds wait() has blocked: paused time, which a speed must not count
        self._blocked = False

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def step(self) -> None:
        """Allow one more iteration, then stay paused."""
        with self._cond:
            self._paused = True
            self._steps += 1
            self._cond.notify_all()

    def cancel(self) -> None:
        self.token.cancel()
        with self._cond:
            self._cond.notify_all()

    @property
    def blocked(self) -> bool:
        """True while the worker sits in `wait()`: paused, between two iterations, computing nothing."""
        with self._cond:
            return self._blocked

    def will_wait(self) -> bool:
        """True when the next `wait()` will block (paused with no step allowed)."""
        with self._cond:
            return self._paused and self._steps == 0 and not self.token.cancelled

    def wait(self) -> None:
        """Block while paused with no step allowed; a step allowed is used up; cancel wakes it."""
        with self._cond:
            start = time.perf_counter()
            while self._paused and self._steps == 0 and not self.token.cancelled:
                self._blocked = True
                self._cond.wait(0.5)
            self._blocked = False
            self.waited += time.perf_counter() - start
            if self._steps:
                self._steps -= 1


@dataclass
class FitJob:
    """One fit the worker runs: data scene, engine config, gate; `drawn` is set by the GUI after each frame.
    scene may be replaced by the same data in another view while the fit runs (the next frame uses it)."""

    job_id: int
    scene: DataScene
    config: object
    gate: RunGate
    light: bool = False  # frames without point labels and contours (the small side-by-side plots)
    stream: object | None = None  # data read by chunks (gui.scene.big_data.ChunkedFile): a pass per iteration
    where: str = ""  # where such data is fitted (big_data.MACHINE, 'local' or a scheduler's address)
    cluster: object | None = None  # the window's big_data.ClusterLink
    drawn: threading.Event = field(default_factory=threading.Event)
    gui_cost: float = 0.0  # seconds the GUI thread spent on the last frame (set there, read here)

    def __post_init__(self) -> None:
        self.drawn.set()


def load_engine() -> dict:
    """Import torch, pyro and the engine's fit (seconds, while the window is already on screen); the versions
    and the devices there are."""
    import engine

    engine.load_compute()
    import torch

    info = dict(engine.versions())
    info["devices"] = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    return info


def run_fit(job: FitJob, emit) -> None:
    """Pull the fit generator to its end (or until cancelled), emit(frame) for the frames the GUI draws, and
    emit(text) for the progress of a long pass (data read by chunks). A fit cancelled inside a pass (between two
    chunks) ends here quietly: its last frame stays."""
    import engine

    try:
        _pull(job, emit)
    except engine.Cancelled:
        return


def _pull(job: FitJob, emit) -> None:
    import engine

    history: list[tuple[int, float]] = []
    kept = engine.History()
    last_emit = -1.0
    if job.gate.token.cancelled:
        return
    if job.stream is None:
        weighed = {} if job.scene.weights is None else {"weights": job.scene.weights}  # unweighted: the call as before
        if job.scene.ticks is not None:  # data with missing values (NaN): exact EM on each point's observed ones
            weighed["missing"] = "em"
        snapshots = engine.fit(job.scene.points, job.config, job.gate.token, **weighed)
    else:
        from .big_data import fit_snapshots

        snapshots = fit_snapshots(job.stream, job.config, job.gate.token, job.where, job.cluster, emit)
    for snap in snapshots:
        history.append((snap.iteration, snap.mean_log_likelihood))
        kept.append(snap)
        now = time.monotonic()
        # at most FRAME_RATE frames a second, and the GUI busy drawing at most half the time: it shares the GIL
        # (and a 2-core machine) with the fit
        gap = max(1.0 / FRAME_RATE, 2.0 * job.gui_cost)
        due = now - last_emit >= gap and job.drawn.is_set()
        if snap.done or due or job.gate.will_wait():
            emit(_frame(job, snap, history, kept))
            last_emit = now
        if snap.done:
            return
        waited = job.gate.waited
        job.gate.wait()
        if job.gate.token.cancelled:  # Stop (also while paused): the fit ends where it is, no other iteration
            snapshots.close()
            elapsed = snap.elapsed + job.gate.waited - waited  # the wall time, as the engine's own would be
            emit(_frame(job, replace(snap, status="cancelled", elapsed=elapsed), history, kept))
            return


def _frame(job: FitJob, snap, history: list[tuple[int, float]], kept):
    job.drawn.clear()
    entries = tuple(kept.kept())  # immutable entries: the GUI never sees the history being appended to
    scene = job.scene  # read once: the GUI may switch it to another view meanwhile
    frame = build_frame(
        scene,
        snap,
        np.asarray(history, dtype=np.float64),
        entries,
        trajectory_of(entries, snap.iteration),
        light=job.light,
    )
    if snap.iteration == 0:
        frame = replace(frame, states=start_states(scene, snap, frame.states))
    return replace(frame, running_seconds=max(snap.elapsed - job.gate.waited, 0.0))


def start_states(scene: DataScene, snap, states: tuple[ComponentState, ...]) -> tuple[ComponentState, ...]:
    """The components' health at a start: the points each one owns there (the sum of its responsibilities over
    the shown points, scaled to all N; with weights, each point's times its weight), not weight x N. A start's
    weights need not come from the data (a mean dragged away from every point keeps the old fit's weight); after
    an EM iteration they are its share of them. The verdict follows the count ("few points" or "ok"; collapsing,
    empty and re-seeded stay)."""
    import engine

    points = scene.shown_data
    if len(points) == 0 or len(states) != len(snap.weights):
        return states
    resp = np.nan_to_num(engine.responsibilities(points, snap.weights, snap.means, snap.covariances))
    if scene.weights is None:
        owned = resp.sum(axis=0) * (scene.n_samples / len(points))
    else:  # the points each one owns, each counted its weight times
        counts = scene.weights[scene.shown]
        owned = counts @ resp * (float(scene.weights.sum()) / max(float(counts.sum()), 1e-300))
    out = []
    for state, n in zip(states, owned, strict=True):
        verdict = state.state
        if verdict in ("ok", "few points"):
            verdict = "few points" if n < MIN_POINTS else "ok"
        out.append(replace(state, n_effective=float(n), state=verdict))
    return tuple(out)
