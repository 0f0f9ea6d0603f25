"""patterned._segment_sums, the statistics of each pattern's run of rows: a float32 chunk's short runs go through
one NumPy array, cast to float64 with the long runs' entries still unwritten; those entries must not be whatever
the allocator left there (a signalling NaN there made every `--dtype float32 --missing em` fit by chunks print
'RuntimeWarning: invalid value encountered in cast')."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from engine.model import gaussian, patterned


class _ReusedMemory:
    """NumPy as patterned.py sees it, except that a new array holds signalling NaNs (as memory freed by an earlier
    chunk may)."""

    def __getattr__(self, name: str):
        return getattr(np, name)

    @staticmethod
    def empty(shape, dtype=np.float64):
        bits = {np.dtype(np.float32): (np.uint32, 0x7FA00000), np.dtype(np.float64): (np.uint64, 0x7FF4000000000000)}
        raw, snan = bits[np.dtype(dtype)]
        return np.full(shape, snan, dtype=raw).view(dtype)


def test_float32_short_and_long_runs_sum_without_a_warning(monkeypatch) -> None:
    """A short run (10 rows) and a long one (SEGMENT_ROWS + 5) of a float32 chunk: no warning, and each run's sums
    resp[:, a:b] @ block[:, a:b]^T are NumPy's in float64 to float32's precision."""
    rng = np.random.default_rng(0)
    c = 10 + gaussian.SEGMENT_ROWS + 5
    resp = torch.from_numpy(rng.uniform(0.0, 1.0, (2, c)).astype(np.float32))
    block = torch.from_numpy(rng.normal(0.0, 1.0, (3, c)).astype(np.float32))
    cuts = [(0, 10), (10, c)]
    monkeypatch.setattr(patterned, "np", _ReusedMemory())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sums = patterned._segment_sums(resp, block, cuts)
    r, f = resp.double().numpy(), block.double().numpy()
    for q, (a, b) in enumerate(cuts):
        np.testing.assert_allclose(sums[q].numpy(), r[:, a:b] @ f[:, a:b].T, rtol=2e-5, atol=1e-4)
