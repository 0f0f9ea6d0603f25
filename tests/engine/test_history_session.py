"""Bounded history (every kept iteration exact, memory bounded) and session files (round trip, replay)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_sets import blobs

from engine import FitConfig, UserError, fit, run_to_end
from engine.history import History
from engine.io.session import (
    config_from_dict,
    config_to_dict,
    file_ref,
    generated_ref,
    inline_ref,
    read_session,
    write_session,
)


def _snapshots(cfg: FitConfig, x=None) -> list:
    return list(fit(blobs(0, 300) if x is None else x, cfg))


def test_history_keeps_everything_until_full_then_thins_evenly() -> None:
    snaps = _snapshots(FitConfig(n_components=3, tol=0.0, max_iter=100, restarts=2))
    h = History(capacity=16)
    for s in snaps:
        h.append(s)
    kept = h.kept()
    iterations = [e.iteration for e in kept]
    assert len(h.entries) < 16 and iterations[0] == 0 and iterations[-1] == 100
    steps = np.diff(iterations[:-1])
    assert len(set(steps)) == 1  # evenly spread (the latest may fall between strides)
    for e in kept:  # each kept entry is exactly that iteration's snapshot
        s = snaps[e.iteration]
        np.testing.assert_array_equal(e.means, s.means)
        np.testing.assert_array_equal(e.covariances, s.covariances)
        assert e.mean_log_likelihood == s.mean_log_likelihood
        np.testing.assert_array_equal(e.restart_means, s.restarts.means)
        np.testing.assert_array_equal(e.restart_covariances, s.restarts.covariances)
    assert h.at(37).iteration <= 37 and h.at(37).iteration > 37 - h.stride
    np.testing.assert_array_equal(h.trajectory()[-1], snaps[-1].means)
    np.testing.assert_array_equal(h.trajectory(restart=1)[0], snaps[0].restarts.means[1])


def test_history_memory_is_bounded_by_its_budget() -> None:
    snaps = _snapshots(FitConfig(n_components=3, tol=0.0, max_iter=1000, restarts=4))
    budget = 100_000
    h = History(budget_bytes=budget)
    for s in snaps:
        h.append(s)
    assert h.nbytes <= budget + History.entry_bytes(3, 2, 4)
    t = snaps[0].restarts
    per_entry = (
        sum(
            a.nbytes
            for a in (
                snaps[0].weights,
                snaps[0].means,
                snaps[0].covariances,
                t.means,
                t.weights,
                t.covariances,
                t.mean_log_likelihood,
            )
        )
        + 64
    )
    assert per_entry == History.entry_bytes(3, 2, 4)
    unbounded = per_entry * len(snaps)
    assert unbounded > 3 * budget  # the bound did something


def test_config_round_trips_through_json() -> None:
    cfg = FitConfig(
        n_components=2,
        algorithm="gradient-em",
        init="forum",
        restarts=7,
        seed=3,
        tol=1e-7,
        max_iter=50,
        reg_covar=1e-4,
        dtype="float32",
        betas=(0.8, 0.99),
        lr=0.001,
    )
    assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg


@pytest.mark.parametrize("kind", ["file", "generated", "inline"])
def test_session_round_trip_and_replay(tmp_path, kind) -> None:
    from engine.io.data import FORUM_PRESET, sample_mixture

    points, _ = sample_mixture(FORUM_PRESET["weights"], FORUM_PRESET["means"], FORUM_PRESET["covariances"], 400, 5)
    if kind == "file":
        path = tmp_path / "d.csv"
        np.savetxt(path, points, delimiter=",", header="a,b", comments="", fmt="%.17g")
        from engine.io.data import load

        ds = load(path)
        ref = file_ref(ds)
        points = ds.points
    elif kind == "generated":
        ref = generated_ref(FORUM_PRESET, 400, 5, points)
    else:
        ref = inline_ref(points)
    cfg = FitConfig(n_components=3, restarts=4, seed=2)
    history = History()
    for snap in fit(points, cfg):
        history.append(snap)
    session_path = tmp_path / "s.gmmsession"
    write_session(session_path, ref, cfg, snap, history)
    session = read_session(session_path)
    assert session.config == cfg
    again = session.data.load()
    np.testing.assert_array_equal(again, points)
    snap2 = run_to_end(again, session.config)
    assert snap2.mean_log_likelihood == session.fit["mean_log_likelihood"]
    np.testing.assert_array_equal(snap2.means, np.array(session.fit["means"]))
    assert len(session.history["log_likelihood"]) == snap.iteration + 1


def test_session_detects_changed_data(tmp_path) -> None:
    path = tmp_path / "d.csv"
    x = blobs(1, 90)
    np.savetxt(path, x, delimiter=",", header="a,b", comments="")
    from engine.io.data import load

    ds = load(path)
    snap = _snapshots(FitConfig(n_components=2), ds.points)[-1]
    write_session(tmp_path / "s.gmmsession", file_ref(ds), FitConfig(n_components=2), snap)
    np.savetxt(path, x + 1, delimiter=",", header="a,b", comments="")
    with pytest.raises(UserError, match="has changed since the session was saved"):
        read_session(tmp_path / "s.gmmsession").data.load()


def test_bad_session_files(tmp_path) -> None:
    p = tmp_path / "x.gmmsession"
    p.write_text("{}")
    with pytest.raises(UserError, match="not a GMM Studio session file"):
        read_session(p)
    p.write_text("not json")
    with pytest.raises(UserError, match="line 1: not valid JSON"):
        read_session(p)
    with pytest.raises(UserError, match="name the session file"):
        write_session(tmp_path / "x.json", inline_ref(np.zeros((1, 2))), FitConfig(), None)


def test_a_session_saved_before_reg_covar_had_units_replays_in_data_units() -> None:
    """Sessions written before reg_covar_units existed meant scikit-learn's reg_covar (data units)."""
    from engine.io.session import config_from_dict, config_to_dict

    saved = config_to_dict(FitConfig(reg_covar=1e-4))
    assert saved["reg_covar_units"] == "relative"
    del saved["reg_covar_units"]
    assert config_from_dict(saved).reg_covar_units == "data"


def test_a_sessions_history_is_the_chosen_restarts_own_run(tmp_path) -> None:
    """Each stored entry and the stored trace were the shown restart's of that iteration, which in a batch is now
    one restart and now another (the saved path jumped between restarts)."""
    from engine.io.data import FORUM_PRESET, sample_mixture

    points, _ = sample_mixture(FORUM_PRESET["weights"], FORUM_PRESET["means"], FORUM_PRESET["covariances"], 600, 3)
    cfg = FitConfig(n_components=3, restarts=8, seed=0, init="random-data")
    history = History()
    for snap in fit(points, cfg):
        history.append(snap)
    shown = {e.restart for e in history.kept()}
    assert len(shown) > 1  # the case: the best restart changed during the fit
    path = tmp_path / "s.gmmsession"
    write_session(path, inline_ref(points), cfg, snap, history)
    saved = read_session(path).history
    r = snap.restart
    assert saved["restart"] == r
    for entry in saved["params"]:
        kept = history.at(entry["iteration"])
        np.testing.assert_array_equal(entry["means"], kept.restart_means[r])
        np.testing.assert_array_equal(entry["covariances"], kept.restart_covariances[r])
    trace = np.array(saved["log_likelihood"])
    np.testing.assert_array_equal(trace[:, 1], [e.restart_mean_log_likelihood[r] for e in history.kept()])


def test_replay_differences_name_an_edited_total_log_likelihood() -> None:
    """A saved total log-likelihood that is not the replayed fit's is a difference, as the mean's is: the replay
    prints the saved total, so 'reproduced' under another total was untrue (a session edited by hand)."""
    from engine.io.session import replay_differences, session_dict

    x, cfg = blobs(0, 300), FitConfig(n_components=2, seed=1)
    snap = run_to_end(x, cfg)
    saved = json.loads(json.dumps(session_dict(inline_ref(x), cfg, snap, None)["fit"]))
    assert replay_differences(saved, snap) == []
    saved["log_likelihood"] = -1000.0
    assert replay_differences(saved, snap) == [f"log-likelihood {snap.log_likelihood:.17g} (saved -1000)"]
