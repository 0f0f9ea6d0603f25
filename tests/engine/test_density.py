"""The picture of data read by chunks (engine/density.py) against NumPy's histograms of all the points at once,
and the sources' column choice and extremes it relies on (engine/stream.py)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.io.data import DataError
from engine.io.npy import NpySource
from engine.io.parquet import ParquetSource
from engine.io.stamp import Cancelled
from engine.io.stream import survey
from engine.model.projection import columns_view, pca_view
from engine.scale.density import bin_counts, density_counts, histogram_counts, view_range


def _data(n: int = 9000, d: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * rng.uniform(0.3, 4.0, d) + rng.normal(0, 5, d)


def test_bin_counts_are_numpys_histogram2d_also_for_points_on_the_edges() -> None:
    """Random points, and every grid edge with its neighbouring floats: the same counts as np.histogram2d
    (upper edge in the last cell, points outside left out)."""
    rng = np.random.default_rng(1)
    xy = rng.normal(size=(50_000, 2)) * 3
    bounds = (-4.0, 5.5, -2.0, 2.5)  # cuts the data: many points fall outside
    reference, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=64, range=[bounds[:2], bounds[2:]])
    np.testing.assert_array_equal(bin_counts(xy, bounds, 64), reference.astype(np.int64))
    edges = np.linspace(-1.0, 1.0, 41)
    grid = np.column_stack([np.repeat(edges, 41), np.tile(edges, 41)])
    grid = np.vstack([grid, np.nextafter(grid, np.inf), np.nextafter(grid, -np.inf)])
    reference, _, _ = np.histogram2d(grid[:, 0], grid[:, 1], bins=40, range=[(-1, 1), (-1, 1)])
    np.testing.assert_array_equal(bin_counts(grid, (-1.0, 1.0, -1.0, 1.0), 40), reference.astype(np.int64))


@pytest.mark.parametrize("oblique", [False, True])
def test_a_pass_counts_every_point_in_the_view(tmp_path, oblique: bool) -> None:
    """Read 700 rows at a time: the view's range and counts equal those of all the points projected at once."""
    x = _data()
    path = tmp_path / "x.npy"
    np.save(path, x)
    view = pca_view(x[:500]) if oblique else columns_view(3, 2, 0)
    xy = view.points(x)
    lo, hi = view_range(NpySource(path), 700, view.points)
    np.testing.assert_allclose(lo, xy.min(axis=0), rtol=1e-12)
    np.testing.assert_allclose(hi, xy.max(axis=0), rtol=1e-12)
    bounds = (lo[0], hi[0], lo[1], hi[1])
    counts = density_counts(NpySource(path), 700, view.points, bounds, 50)
    reference, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=50, range=[bounds[:2], bounds[2:]])
    np.testing.assert_array_equal(counts, reference.astype(np.int64))
    assert counts.sum() == len(x)


def test_a_1d_pass_is_numpys_histogram(tmp_path) -> None:
    x = _data(d=1)
    np.save(tmp_path / "x.npy", x)
    counts = histogram_counts(NpySource(tmp_path / "x.npy"), 1000, -10.0, 20.0, 37)
    np.testing.assert_array_equal(counts, np.histogram(x[:, 0], bins=37, range=(-10.0, 20.0))[0])


def test_a_pass_stops_when_its_caller_no_longer_wants_it(tmp_path) -> None:
    np.save(tmp_path / "x.npy", _data())
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(Cancelled):
        density_counts(NpySource(tmp_path / "x.npy"), 1000, columns_view(3, 0, 1).points, (0, 1, 0, 1), 8, cancelled)
    assert len(asked) == 3  # asked before each chunk: stopped at the third


def test_the_first_pass_finds_each_columns_extremes(tmp_path) -> None:
    x = _data().astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    found = survey(NpySource(tmp_path / "x.npy"), 777, 100, seed=0)
    np.testing.assert_array_equal(found.low, x.min(axis=0).astype(np.float64))
    np.testing.assert_array_equal(found.high, x.max(axis=0).astype(np.float64))


def test_sources_read_the_chosen_columns(tmp_path) -> None:
    """A .npy file by indices and ranges, a Parquet file by names or indices: the chosen columns, in that order,
    in chunks of at most the rows asked for."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    x = _data(n=3000, d=5)
    np.save(tmp_path / "x.npy", x)
    source = NpySource(tmp_path / "x.npy", ["3", "0-1"])
    assert source.columns == ("x3", "x0", "x1") and source.idx == [3, 0, 1]
    np.testing.assert_array_equal(np.vstack(list(source.chunks(700))), x[:, [3, 0, 1]])
    table = pa.table({"id": np.arange(3000), "label": ["a"] * 3000, **{f"c{j}": x[:, j] for j in range(5)}})
    pq.write_table(table, tmp_path / "x.parquet", row_group_size=1000)
    source = ParquetSource(tmp_path / "x.parquet", ["c4", "3"])
    assert source.columns == ("c4", "c1")
    for rows in (700, 2500):  # row groups of 1000: each read in batches, or two whole ones to a chunk
        chunks = list(source.chunks(rows))
        assert max(len(c) for c in chunks) <= rows
        np.testing.assert_array_equal(np.vstack(chunks), x[:, [4, 1]])
    with pytest.raises(DataError, match="'label' does not hold numbers"):
        ParquetSource(tmp_path / "x.parquet", ["label"])
    with pytest.raises(DataError, match="x.npy"):
        NpySource(tmp_path / "x.npy", ["9"])
