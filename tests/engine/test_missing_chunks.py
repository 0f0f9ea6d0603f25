"""Missing values in data read by chunks (issue 25, `--missing em` streamed): the fit by passes against the in-memory
missing-data fit, whose own references (the textbook EM at K = 1, SciPy's observed-data log-likelihood) are in
test_missing.py; the first pass's moments against NumPy's over the observed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from data_sets import missing_clusters

from engine import FitConfig, InitParams
from engine.errors import DataError
from engine.inference.fitting import fit
from engine.inference.streaming import fit_stream
from engine.io import stream
from engine.io.npy import NpySource
from engine.io.weighted import open_weighted

# measured: the streamed and in-memory fits (3,000 such points in chunks of 700, 30 iterations, five covariance
# types) differ by at most 1.2e-15 relative in each iteration's log-likelihood, 6e-15 in the means and 5e-14 in the
# covariances (VEV's inner loop): the same sums, added in another order. 1e-10 leaves room.
TOL = 1e-10


def _data(n: int = 2000, d: int = 3, share: float = 0.2, seed: int = 0) -> np.ndarray:
    """missing_clusters (n, d), at this module's default size."""
    return missing_clusters(n, d, share, seed)


def _same_fits(memory: list, streamed: list) -> None:
    """Every iteration's log-likelihood and the final parameters, restart by restart, to TOL."""
    assert [s.iteration for s in streamed] == [s.iteration for s in memory]
    for a, b in zip(memory, streamed, strict=True):
        assert b.mean_log_likelihood == pytest.approx(a.mean_log_likelihood, rel=TOL, abs=0)
    a, b = memory[-1].restarts, streamed[-1].restarts
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=0, atol=TOL)


@pytest.mark.parametrize(("d", "cov_type"), [(3, "full"), (3, "diag"), (2, "VEV"), (4, "tied")])
def test_a_streamed_fit_with_missing_values_is_the_in_memory_one(tmp_path, d: int, cov_type: str) -> None:
    """k-means++ starts from the complete rows of the sample, two restarts, chunks of 700 rows: the in-memory fit."""
    x = _data(d=d, seed=d)
    np.save(tmp_path / "x.npy", x)
    cfg = FitConfig(n_components=3, covariance_type=cov_type, restarts=2, seed=4, max_iter=15, tol=0.0)
    memory = list(fit(x, cfg, missing="em"))
    streamed = list(fit_stream(NpySource(tmp_path / "x.npy"), cfg, rows=700, missing=True))
    _same_fits(memory, streamed)
    assert streamed[-1].n_samples == len(x)


def test_weights_and_missing_values_together_by_chunks(tmp_path) -> None:
    """Real weights, some 0 (a chunk's rows of weight 0 are left out of its E-step), beside missing values: the
    weighted in-memory fit, whose weights = repeated rows is tested in test_missing.py."""
    x = _data(n=1500, seed=7)
    w = np.random.default_rng(2).uniform(0.0, 3.0, len(x)) * (np.arange(len(x)) % 5 != 0)
    np.save(tmp_path / "xw.npy", np.column_stack([x, w]))
    cfg = FitConfig(n_components=3, covariance_type="VVI", seed=2, max_iter=25, tol=0.0)
    memory = list(fit(x, cfg, weights=w, missing="em"))
    streamed = list(fit_stream(open_weighted(str(tmp_path / "xw.npy"), None, "3"), cfg, rows=400, missing=True))
    _same_fits(memory, streamed)
    assert streamed[-1].n_counted == pytest.approx(w.sum(), rel=1e-15)


def test_an_emptied_component_is_reseeded_at_the_same_worst_point(tmp_path) -> None:
    """A start with a component far from every point: both fits re-seed it at the point of lowest log p(x_o) (the
    chunks' worst found again among their rows, with their patterns)."""
    x = _data(n=2000, d=3, seed=5)
    means = np.array([[0.0, 0.0, 0.0], [4.0, 4.0, 4.0], [1e3, 1e3, 1e3]])
    init = InitParams.from_arrays(np.full(3, 1 / 3), means, np.broadcast_to(np.eye(3) * 2.0, (3, 3, 3)))
    cfg = FitConfig(n_components=3, init="params", init_params=init, max_iter=8, tol=0.0)
    memory = list(fit(x, cfg, missing="em"))
    np.save(tmp_path / "x.npy", x)
    streamed = list(fit_stream(NpySource(tmp_path / "x.npy"), cfg, rows=450, missing=True))
    assert any(s.reseeded for s in memory)
    assert [s.reseeded for s in streamed] == [s.reseeded for s in memory]
    _same_fits(memory, streamed)


def test_the_start_is_drawn_from_the_complete_rows_of_the_seeds_sample(tmp_path, monkeypatch) -> None:
    """Above the sample's size both fits keep the complete rows of the same sample of every row (the rows a fit by
    chunks can gather in its first pass): the same start, the same fit."""
    monkeypatch.setattr(stream, "SAMPLE_SIZE", 500)
    x = _data(n=2400, seed=9)
    np.save(tmp_path / "x.npy", x)
    cfg = FitConfig(n_components=3, init="kmeans", seed=3, max_iter=5, tol=0.0)
    memory = list(fit(x, cfg, missing="em"))
    streamed = list(fit_stream(NpySource(tmp_path / "x.npy"), cfg, rows=600, missing=True))
    _same_fits(memory, streamed)
    np.testing.assert_allclose(streamed[0].means, memory[0].means, rtol=0, atol=TOL)


def test_complete_data_with_the_flag_is_the_usual_streamed_fit_bit_for_bit(tmp_path) -> None:
    x = np.nan_to_num(_data(n=1200, seed=3), nan=1.0)
    np.save(tmp_path / "x.npy", x)
    cfg = FitConfig(n_components=3, seed=1, max_iter=10, tol=0.0)
    plain = list(fit_stream(NpySource(tmp_path / "x.npy"), cfg, rows=500))
    flagged = list(fit_stream(NpySource(tmp_path / "x.npy"), cfg, rows=500, missing=True))
    assert [s.log_likelihood for s in flagged] == [s.log_likelihood for s in plain]
    assert np.array_equal(flagged[-1].covariances, plain[-1].covariances)


def test_the_first_pass_takes_each_columns_observed_values(tmp_path) -> None:
    """The survey's means and standard deviations are NumPy's over each column's observed values (nanmean,
    nanstd), chunk by chunk through Chan's combination; the missing cells counted; the sample keeps its NaN."""
    x = _data(n=1000, seed=4)
    np.save(tmp_path / "x.npy", x)
    found = stream.survey(NpySource(tmp_path / "x.npy"), 170, 300, 0, missing=True)
    np.testing.assert_allclose(found.mean, np.nanmean(x, 0), rtol=1e-14)
    np.testing.assert_allclose(found.std, np.nanstd(x, 0), rtol=1e-14)
    assert found.missing_cells == np.isnan(x).sum()
    np.testing.assert_array_equal(found.sample, x[found.sample_rows])
    np.testing.assert_array_equal(found.low, np.nanmin(x, 0))


@pytest.mark.parametrize(
    ("where", "value", "said"),
    [
        ((37, 1), np.inf, r"x\.npy: row 37, column 1 \('x1'\) is inf: remove or fill infinite values"),
        (
            (412, None),
            np.nan,
            r"x\.npy: row 412 \(counted from 0\) has no value in any fitted column \('x0', 'x1', 'x2'\): ",
        ),
        ((None, 2), np.nan, r"x\.npy: column 2 \('x2'\) has no observed value"),
    ],
)
def test_what_missing_values_cannot_fit_is_one_line_naming_the_row_or_column(tmp_path, where, value, said) -> None:
    x = _data(n=600, seed=6)
    row, col = where
    if row is None:  # the other columns complete: no row is left with nothing
        x[:, :2] = np.nan_to_num(x[:, :2])
    x[slice(None) if row is None else row, slice(None) if col is None else col] = value
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(DataError, match=said):
        list(fit_stream(NpySource(tmp_path / "x.npy"), FitConfig(n_components=2), rows=100, missing=True))


def test_a_missing_value_without_the_flag_names_it(tmp_path) -> None:
    x = _data(n=300, seed=8)
    np.save(tmp_path / "x.npy", x)
    first = np.argwhere(np.isnan(x))[0]
    with pytest.raises(
        DataError, match=rf"row {first[0]}, column {first[1]} .*: value nan is not a finite number: .*--missing em"
    ):
        list(fit_stream(NpySource(tmp_path / "x.npy"), FitConfig(n_components=2), rows=100))


@pytest.mark.parametrize("d", [2, 4])
def test_a_chunks_worst_points_are_its_lowest_observed_densities(d: int) -> None:
    """MissingPoints.lowest (each chunk's candidates for a re-seeded component): the K points of lowest log p(x_o)
    under each restart row, as SciPy gives each point's observed-data density, with their missing coordinates at 0
    (D = 2 gathers rows, D = 4 lays them out lifted)."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    from engine.inference.missing import MissingPoints

    x = _data(n=400, d=d, share=0.4, seed=3)
    rng = np.random.default_rng(4)
    weights = np.array([[0.3, 0.7], [0.5, 0.5]])
    means = rng.normal(size=(2, 2, d))
    cov = np.stack([np.eye(d) * 0.8 + 0.1, np.eye(d) * 1.5 - 0.2]) + np.zeros((2, 1, 1, 1))
    source = MissingPoints(torch.as_tensor(x))
    chol = torch.linalg.cholesky(torch.as_tensor(cov))
    source.e_step(torch.log(torch.as_tensor(weights)), torch.as_tensor(means), chol)
    values, points = source.lowest(3)
    holes = np.isnan(x)
    for r in range(2):
        log_p = np.empty(len(x))
        for mask in np.unique(holes, axis=0):  # SciPy's densities, all of a pattern's points at once
            rows, o = np.flatnonzero((holes == mask).all(1)), ~mask
            terms = [
                np.log(weights[r, k])
                + multivariate_normal(means[r, k][o], cov[r, k][np.ix_(o, o)]).logpdf(x[np.ix_(rows, o)]).reshape(-1)
                for k in range(2)
            ]
            log_p[rows] = logsumexp(terms, axis=0)
        worst = np.argsort(log_p)[:3]
        # measured: 2.7e-16 relative at most (the fused E-step's products against SciPy's densities)
        np.testing.assert_allclose(values[r].numpy(), log_p[worst], rtol=1e-12, atol=0)
        np.testing.assert_array_equal(points[r].numpy(), np.nan_to_num(x[worst], nan=0.0))


def test_a_csv_chunk_with_missing_cells_is_parsed_by_numpys_reader(tmp_path, monkeypatch) -> None:
    """A chunk of a CSV with missing values' tokens (empty, NA, n/a, NaN, null, any case, blanks around) is read by
    NumPy's reader as the careful parser reads it: each token NaN, the numbers the same bits. The careful parser,
    field by field, made such a fit 5.5x slower (2e5 rows, 10% of the cells missing, --memory-limit 1M, five
    iterations: 11.3 s against 2.06 s, medians of three interleaved runs)."""
    from engine.io import csv_source
    from engine.io.csv_source import CsvSource

    path = tmp_path / "holes.csv"
    path.write_text("a,b,c\n1.5,,3.25\n NA ,2.25, n/a\nNaN,null,7.5\n4.5,5.5,6.5\n,1e-3,NULL\n")
    nan = np.nan
    expected = [[1.5, nan, 3.25], [nan, 2.25, nan], [nan, nan, 7.5], [4.5, 5.5, 6.5], [nan, 1e-3, nan]]

    def field_by_field(*args):
        raise AssertionError(f"the careful parser read {args[1:]}")

    monkeypatch.setattr(csv_source, "parse_value", field_by_field)
    np.testing.assert_array_equal(np.concatenate(list(CsvSource(path, missing=True).chunks(2))), expected)


@pytest.mark.parametrize("value", ["inf", "-nan"])
def test_a_csv_value_that_is_no_token_is_still_named_by_the_careful_parser(tmp_path, value) -> None:
    from engine.io.csv_source import CsvSource

    path = tmp_path / "holes.csv"
    path.write_text(f"a,b\n1.5,\n2.5,{value}\n3.5,4.5\n")
    with pytest.raises(DataError, match=r"holes\.csv: line 3, column 1 \('b'\)"):
        list(CsvSource(path, missing=True).chunks(10))
