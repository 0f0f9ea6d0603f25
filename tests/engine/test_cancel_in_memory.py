"""Cancelling a fit of points in memory takes effect within a chunk of its long work, not at the end of it: the fused
chunked E-step and the starts of many restarts check the fit's CancelToken between their chunks (blocks) and raise
errors.Cancelled, as a pass over data read by chunks does. How soon is counted in chunks, a ratio to the work of one
E-step or one set of starts, never in seconds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import CancelToken, FitConfig, build_gallery, chunk_workers_on_this_thread, fit, run_to_end
from engine.errors import Cancelled
from engine.inference import init
from engine.inference.pipeline import prepare_points, starts
from engine.model.scaling import column_moments


class CancelAt(CancelToken):
    """A token that counts its checks and cancels itself at check number `at` (None: never)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.at: int | None = None

    def check(self) -> None:
        self.calls += 1
        if self.at is not None and self.calls >= self.at:
            self.cancel()
        super().check()


def blobs(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Three clusters of n // 3 points each in d dimensions (n // 3 * 3, d)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(4.0 * i, 1.0, size=(n // 3, d)) for i in range(3)])


@pytest.mark.parametrize(
    ("d", "k", "restarts", "path"),
    [(2, 3, 20, "features"), (12, 2, 3, "whitened distances")],
)
def test_a_cancel_during_an_iteration_stops_its_e_step_at_the_next_chunk(d, k, restarts, path) -> None:
    """Iteration 2's E-step (of 60,000 points: chunks of about 2^19 numbers, restarts x components x points) is
    cancelled at its third chunk: it raises Cancelled there, before the rest of its chunks (an iteration of 2,000
    restarts took 2.5 s; the fit used to finish it, and the starts, before it stopped)."""
    x = blobs(60_000, d)
    token = CancelAt()
    with chunk_workers_on_this_thread(1):  # the window's E-steps run on one chunk worker: the chunks in order
        snapshots = fit(x, FitConfig(n_components=k, restarts=restarts, max_iter=50, tol=0.0), token)
        assert next(snapshots).iteration == 0
        before = token.calls
        assert next(snapshots).iteration == 1
        per_e_step = token.calls - before  # one check a chunk
        assert per_e_step >= 5, path
        token.at = token.calls + 3
        with pytest.raises(Cancelled):
            next(snapshots)
    assert token.calls - before - per_e_step == 3  # 3 chunks of per_e_step begun: the rest never ran


def test_a_token_set_between_iterations_ends_the_fit_at_the_next_e_steps_first_chunk() -> None:
    """Set while the caller holds iteration 3's snapshot: the next E-step raises Cancelled before its first chunk, as
    a pass over data read by chunks does; no snapshot of a half-made iteration is yielded."""
    token = CancelToken()
    seen = []
    with pytest.raises(Cancelled):
        for snap in fit(blobs(3_000, 2), FitConfig(n_components=3, max_iter=500, tol=0.0), token):
            seen.append(snap)
            if snap.iteration == 3:
                token.cancel()
    assert [s.iteration for s in seen] == [0, 1, 2, 3] and seen[-1].status == "running"


def test_a_cancel_during_the_starts_stops_them_at_the_next_block(monkeypatch) -> None:
    """The starts of 100 restarts on 20,000 points check the token between blocks of points (and of restarts), here
    blocks of 2^18 numbers: cancelled at the second check they raise Cancelled there, out of the dozens of blocks a
    whole start takes (2,000 restarts on 50,000 points took 13-19 s on this machine, unchecked)."""
    monkeypatch.setattr(init, "DISTANCE_ELEMENTS", 2**18)
    x = blobs(20_000, 2)
    cfg = FitConfig(n_components=3, restarts=100).resolved()
    setup = prepare_points(x, column_moments(x), cfg, 1)
    whole = CancelAt()
    starts(setup, cfg, whole)
    assert whole.calls >= 40
    token = CancelAt()
    token.at = 2
    with pytest.raises(Cancelled):
        starts(setup, cfg, token)
    assert token.calls == 2
    stopped = CancelAt()
    stopped.at = 1
    with pytest.raises(Cancelled):  # through the fit: nothing yielded, not even iteration 0
        next(fit(x, cfg, stopped))


@pytest.mark.parametrize("init_name", ["kmeans++", "kmeans", "hc"])
def test_the_starts_in_blocks_are_the_starts_in_one_block(monkeypatch, init_name) -> None:
    """Blocks of a few points and restarts give every start bit for bit as one block does: each restart's
    distances, draws and assignment are its own (weighted, too)."""
    x = torch.as_tensor(blobs(1_200, 3, seed=4))
    w = torch.as_tensor(np.random.default_rng(5).integers(0, 4, size=len(x)).astype(np.float64))
    cfg = FitConfig(n_components=4, restarts=9, init=init_name, seed=2).resolved()
    reg = torch.full((3,), 1e-6, dtype=torch.float64)
    identity = init.Scaling.identity(3)
    for weights in (None, w):
        monkeypatch.setattr(init, "DISTANCE_ELEMENTS", 2**40)
        one = init.initial_parameters(x, cfg, identity, reg, None, weights)
        monkeypatch.setattr(init, "DISTANCE_ELEMENTS", 3 * 1_000)  # 2 restarts a block, 83-333 points a block
        blocks = init.initial_parameters(x, cfg, identity, reg, None, weights)
        assert all(torch.equal(a, b) for a, b in zip(one, blocks, strict=True))


def test_a_cancel_while_the_gallery_groups_the_restarts_stops_it_at_the_next_restart() -> None:
    """The gallery's grouping asks its check before each restart (2,000 restarts took 5 s, which the window's closing
    waited for): cancelled at the fifth it raises Cancelled there, out of one a restart."""
    snap = run_to_end(blobs(300, 2), FitConfig(n_components=3, restarts=40, max_iter=30))
    whole = CancelAt()
    build_gallery(snap, check=whole.check)
    assert whole.calls == 40
    token = CancelAt()
    token.at = 5
    with pytest.raises(Cancelled):
        build_gallery(snap, check=token.check)
    assert token.calls == 5


class _Passes:
    """An .npy source that counts its passes (calls of chunks)."""

    def __init__(self, source) -> None:
        self.source, self.passes = source, 0
        self.n_samples, self.n_features = source.n_samples, source.n_features
        self.path, self.columns = source.path, source.columns

    def chunks(self, rows: int):
        self.passes += 1
        yield from self.source.chunks(rows)


def test_a_fit_by_chunks_cancelled_in_its_starts_stops_there(tmp_path, monkeypatch) -> None:
    """A fit of data read by chunks draws its starts from the first pass's sample (up to 100,000 points): cancelled
    there it raises Cancelled before the start's evaluation pass begins."""
    from engine.inference.streaming import fit_stream
    from engine.io.npy import NpySource

    monkeypatch.setattr(init, "DISTANCE_ELEMENTS", 2**14)
    np.save(tmp_path / "x.npy", blobs(6_000, 2))
    source = _Passes(NpySource(tmp_path / "x.npy"))
    token = CancelAt()
    token.at = 2
    with pytest.raises(Cancelled):
        next(fit_stream(source, FitConfig(n_components=3, restarts=20), 1_000, token))
    assert source.passes == 1 and token.calls == 2  # the survey only: stopped at the starts' second block
