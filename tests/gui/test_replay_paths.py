"""Paths and replay follow one restart (issue 22, item 1): in a batch of restarts the shown restart is the best at
each iteration and can change from one iteration to the next; the means' paths and a replayed iteration are the
fit's chosen restart's own (or a restart picked in the gallery), its components in stable colours, never each
iteration's best restart's parameters (which drew paths no mean travelled and swapped colours while replaying)."""

from __future__ import annotations

import numpy as np
from gui_helpers import run_fit, two_clusters
from PySide6.QtCore import Qt

import engine
from gui.scene.restart_paths import restart_permutation, snapshot_at, trajectory_of

# Two clusters from a fixed generator, K = 3, 50 restarts: the best restart changes at iterations 1, 2 and 9
# (and later) before restart 2 wins; its own means are up to 6 away from the per-iteration best's.
DATA_SEED, N, K, RESTARTS = 2, 200, 3, 50


def _reference(points: np.ndarray, config) -> list:
    """The engine's every snapshot of the same fit (deterministic): every restart's parameters per iteration."""
    return list(engine.fit(points, config, every=True))


def _switching(snaps: list) -> None:
    """The precondition the tests need: the shown restart changes between early iterations, and the chosen
    restart is not the shown one there (else a path of the shown restarts would be the chosen one's)."""
    shown = [s.restart for s in snaps]
    final = snaps[-1].restart
    assert len(set(shown[:5])) > 1, shown[:5]
    assert any(r != final for r in shown[:5]), (shown[:5], final)
    own = np.stack([s.restarts.means[final] for s in snaps])
    assert np.abs(np.stack([s.means for s in snaps]) - own).max() > 1.0


def test_paths_and_replayed_snapshots_follow_the_chosen_restart() -> None:
    """restart_paths.trajectory_of and snapshot_at over an engine History: one restart's own means and parameters."""
    engine.load_compute()
    points = two_clusters(DATA_SEED, N)
    snaps = _reference(points, engine.FitConfig(n_components=K, restarts=RESTARTS, seed=0))
    _switching(snaps)
    history = engine.History()
    for s in snaps:
        history.append(s)
    entries = tuple(history.kept())
    last = snaps[-1]
    r = last.restart
    by_iteration = {s.iteration: s for s in snaps}
    own = np.stack([by_iteration[e.iteration].restarts.means[r] for e in entries])
    np.testing.assert_array_equal(trajectory_of(entries, last.iteration), own)  # the worker's call
    np.testing.assert_array_equal(history.trajectory(), own)
    upto = entries[3].iteration
    np.testing.assert_array_equal(trajectory_of(entries, upto), own[:4])
    for e in entries[:6]:
        snap = snapshot_at(last, e)
        t = by_iteration[e.iteration].restarts
        assert snap.restart == r and snap.iteration == e.iteration
        np.testing.assert_array_equal(snap.means, t.means[r])
        np.testing.assert_array_equal(snap.weights, t.weights[r])
        np.testing.assert_array_equal(snap.covariances, t.covariances[r])
        assert snap.mean_log_likelihood == t.mean_log_likelihood[r]
        assert snap.status == ("running" if e.iteration < last.iteration else last.status)
    # another restart: its own, its components in the answer's order, at every iteration
    other = next(q for q in range(RESTARTS) if q != r and not np.allclose(last.restarts.means[q], last.means))
    perm = restart_permutation(last, last.restarts, other)
    path = trajectory_of(entries, last.iteration, other, perm)
    np.testing.assert_array_equal(
        path, np.stack([by_iteration[e.iteration].restarts.means[other] for e in entries])[:, perm]
    )
    np.testing.assert_array_equal(snapshot_at(last, entries[2], other, perm).means, path[2])


def _steps_are_continuous(path: np.ndarray) -> None:
    """Each component's mean moves less from one iteration to the next than to any other component's previous
    place: no colour swaps between two components along the path (T, K, D)."""
    for a, b in zip(path[:-1], path[1:], strict=True):
        d = np.linalg.norm(b[:, None, :] - a[None, :, :], axis=-1)  # (K new, K old)
        np.testing.assert_array_equal(d.argmin(axis=1), np.arange(len(a)))


def _replay(qtbot, window, index: int, restart: int, right: bool = False):
    """Move the slider to a kept iteration (the Right key from the one before it, or set) and wait for its frame."""
    entry = window.state.latest.entries[index]
    if right:
        qtbot.keyClick(window.timeline.slider, Qt.Key.Key_Right)
    else:
        window.timeline.slider.setValue(index)
    assert window.timeline.slider.value() == index
    qtbot.waitUntil(lambda: window.state.frame.snapshot.iteration == entry.iteration, timeout=30_000)
    assert window.state.frame.snapshot.restart == restart  # the one restart's, not the best at that iteration
    assert window.timeline.label.text().startswith(f"replay: iteration {entry.iteration}")
    return window.state.frame


def test_replay_and_paths_in_the_window_are_one_restarts_own(qtbot, window) -> None:
    """Two clusters, K = 3, Restarts 50, Run; the slider to the start, then Right, Right, Right: every frame shows
    the chosen restart's own parameters and path, in the answer's component order (stable colours)."""
    points = two_clusters(DATA_SEED, N)
    window.data.set_dataset(engine.Dataset(points, ("x", "y"), (0, 1), "two clusters"))
    qtbot.waitUntil(lambda: window.state.scene is not None and len(window.state.scene.points) == N, timeout=10_000)
    assert run_fit(qtbot, window, k=K, restarts=RESTARTS, seed=0) in ("converged", "max_iter")
    latest = window.state.latest
    final = latest.snapshot
    r = final.restart
    snaps = _reference(window.state.scene.points, final.config)
    _switching(snaps)
    assert snaps[-1].restart == r and snaps[-1].iteration == final.iteration
    by_iteration = {s.iteration: s for s in snaps}
    entries = latest.entries
    own = np.stack([by_iteration[e.iteration].restarts.means[r] for e in entries])  # (T, K, 2)
    # (a) the live path (built by the worker) is the chosen restart's own, ending at the answer's means
    np.testing.assert_array_equal(latest.trajectory, own)
    np.testing.assert_array_equal(own[-1], final.means)
    _steps_are_continuous(own)

    window.timeline.slider.setValue(0)  # drag to the start, then step with the Right key
    frames = [_replay(qtbot, window, 0, r)]
    frames += [_replay(qtbot, window, i, r, right=True) for i in (1, 2, 3)]
    for i, frame in enumerate(frames):
        t = by_iteration[entries[i].iteration].restarts
        snap = frame.snapshot
        # (b) iteration i of restart r, not the best restart at iteration i
        np.testing.assert_array_equal(snap.means, t.means[r])
        np.testing.assert_array_equal(snap.weights, t.weights[r])
        np.testing.assert_array_equal(snap.covariances, t.covariances[r])
        assert snap.mean_log_likelihood == t.mean_log_likelihood[r]
        np.testing.assert_array_equal(frame.trajectory, own[: i + 1])  # (a) its path so far
        assert frame.replay
    # what the plot draws: mean j and path j (component_color(j)) are component j of restart r
    np.testing.assert_array_equal(np.column_stack(window.plot.means.getData()), own[3])
    for j in range(K):
        np.testing.assert_array_equal(np.column_stack(window.plot.trajectories[j].getData()), own[:4, j])
    # (c) component j stays component j from one replayed iteration to the next and is the answer's component j
    _steps_are_continuous(np.stack([f.snapshot.means for f in frames] + [final.means]))

    # a restart picked in the gallery: its own path and parameters, its components in the answer's order
    other = next(q for q in range(RESTARTS) if q != r and np.abs(final.restarts.means[q] - final.means).max() > 0.5)
    perm = restart_permutation(final, final.restarts, other)
    window.restarts.show_restart(other)
    qtbot.waitUntil(lambda: window.state.frame.snapshot.restart == other, timeout=30_000)
    frame = _replay(qtbot, window, 2, other)
    np.testing.assert_array_equal(frame.snapshot.means, by_iteration[entries[2].iteration].restarts.means[other][perm])
    theirs = np.stack([by_iteration[e.iteration].restarts.means[other] for e in entries[:3]])[:, perm]
    np.testing.assert_array_equal(frame.trajectory, theirs)
    window.replay.go_live()
    assert window.state.frame is window.state.latest
