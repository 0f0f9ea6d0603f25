"""The replicates' accelerator (engine/selection/replicate_anderson.py): Anderson acceleration to each replicate's
end, SQUAREM for a replicate near a saddle, where Anderson's secant model points back at the saddle and every jump
loses. Checked against plain EM of the replicate's weights from the fit, run alone to tol 1e-14."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from replicate_checks import total_ll

from engine import FitConfig, InitParams, run_to_end
from engine.io.data import forum_sample
from engine.selection import replicate_anderson
from engine.selection.bootstrap import REPLICATE_TOL, bootstrap, replicate_weights

PLATEAU = 138  # replicate 138 of 200 (seed 0) on 2,000 forum points: Anderson alone ended it 0.81 short


@pytest.fixture(scope="module")
def forum() -> tuple[np.ndarray, FitConfig, tuple[np.ndarray, ...]]:
    x = forum_sample(2000, 0)
    cfg = FitConfig(n_components=3, covariance_type="full", seed=0, restarts=10)
    snap = run_to_end(x, cfg)
    return x, cfg, (snap.weights, snap.means, snap.covariances)


def test_a_replicate_near_a_saddle_goes_on_by_squarem_to_plain_ems_end(forum, monkeypatch) -> None:
    """Replicate 138 creeps past a saddle (plain EM gains 4e-5 an iteration there, slowly more): every Anderson jump
    lost, so it is handed to SQUAREM, and ends within REPLICATE_TOL of plain EM's total log-likelihood (SciPy's).
    Measured: 1.5e-5 short (plain EM took 1,288 iterations); with the hand-off taken out (HAND_OFF 10**9) it
    ended 0.81 short, at its first EM step that gained less than 1e-6, on the saddle's plateau."""
    x, cfg, fitted = forum
    handed: list[int] = []
    squarem_cycles = replicate_anderson.cycles

    def recording(state, *args, **kwargs):
        handed.extend(state.active.tolist())
        return squarem_cycles(state, *args, **kwargs)

    monkeypatch.setattr(replicate_anderson, "cycles", recording)
    boot = bootstrap(x, fitted, cfg, 200, "nonparametric", seed=0)
    assert boot.failed == 0 and PLATEAU in handed
    weights = replicate_weights("nonparametric", len(x), 200, np.random.default_rng(0))[PLATEAU]  # the seed's draw
    plain = replace(cfg, init="params", init_params=InitParams.from_arrays(*fitted), tol=1e-14, max_iter=20000)
    alone = run_to_end(x, plain, weights=weights)
    ours = (boot.weights[PLATEAU], boot.means[PLATEAU], boot.covariances[PLATEAU])
    lacks = total_ll(x, weights, (alone.weights, alone.means, alone.covariances)) - total_ll(x, weights, ours)
    assert abs(lacks) < REPLICATE_TOL, lacks


def test_the_memory_check_counts_the_accelerators_arrays(monkeypatch) -> None:
    """fit --bootstrap's memory check (cli/bootstrapping.py) counts state_bytes(K, D) a replicate for the
    accelerator: at least what its rows' arrays hold (measured: 1,753 of 2,304 bytes at K = 3, D = 2; at D = 40,
    K = 3 state_bytes is 330 KB a replicate, more than the E-step's arrays of a few hundred points)."""
    x = forum_sample(300, 1)
    cfg = FitConfig(n_components=3, covariance_type="full", seed=0)
    snap = run_to_end(x, cfg)
    made = []
    real = replicate_anderson._Rows

    def keep(*args):
        made.append(real(*args))
        return made[-1]

    monkeypatch.setattr(replicate_anderson, "_Rows", keep)
    bootstrap(x, (snap.weights, snap.means, snap.covariances), cfg, 20, "nonparametric", seed=0)
    held = sum(t.nbytes for t in vars(made[0]).values()) / 20
    assert 0 < held <= replicate_anderson.state_bytes(3, 2), held


def test_the_rows_handed_to_squarem_reach_the_e_step_sorted(monkeypatch) -> None:
    """A source's use_rows takes its rows sorted, and all B rows in another order as all rows in order: the rows
    Anderson hands to SQUAREM at different steps went in the order they were handed, so where every replicate was
    handed (2e4 forum points fitted at the defaults, on a plateau: each replicate went on with another's weights,
    31 of 50 stopped at max-iter, 130 to 180 short of plain EM's ends) they were wrong. Old Faithful, full, K = 3,
    seed 0 (a local optimum: 98 of 200 replicates handed, at different steps): every E-step's rows increase."""
    from engine.inference.sources import PointsInMemory

    x = np.loadtxt(Path(__file__).resolve().parents[1] / "data" / "mclust" / "faithful.csv", delimiter=",", skiprows=1)
    cfg = FitConfig(n_components=3, covariance_type="full", seed=0)
    snap = run_to_end(x, cfg)
    seen: list[np.ndarray] = []
    use_rows = PointsInMemory.use_rows

    def recording(self, rows):
        seen.append(rows.numpy().copy())
        return use_rows(self, rows)

    monkeypatch.setattr(PointsInMemory, "use_rows", recording)
    bootstrap(x, (snap.weights, snap.means, snap.covariances), cfg, 200, "nonparametric", seed=0)
    assert len(seen) > 100 and all(np.all(np.diff(rows) > 0) for rows in seen)
