"""Exact EM over data read by chunks (engine/stream.py, engine/streaming.py) against the in-memory fit."""

from __future__ import annotations

import numpy as np
import pytest

from engine import FitConfig, fit
from engine.errors import DataError, UserError
from engine.inference.streaming import fit_stream
from engine.io.export import MixtureParams
from engine.io.npy import NpySource
from engine.io.stream import open_source, survey
from engine.runtime.limits import parse_size


def _data(n: int = 20_000, d: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 4.0, (4, d))
    return centres[rng.integers(0, 4, n)] + rng.normal(size=(n, d)) * rng.uniform(0.5, 1.5, d)


def _start(x: np.ndarray, k: int, seed: int = 1) -> MixtureParams:
    rng = np.random.default_rng(seed)
    d = x.shape[1]
    return MixtureParams(
        np.full(k, 1.0 / k), x[rng.choice(len(x), k, replace=False)], np.broadcast_to(np.cov(x.T) * 0.5, (k, d, d))
    )


@pytest.mark.parametrize(("d", "cov_type"), [(2, "full"), (3, "tied"), (5, "diag"), (16, "full"), (4, "spherical")])
def test_a_streamed_fit_is_the_in_memory_fit_iteration_by_iteration(tmp_path, d: int, cov_type: str) -> None:
    """The same start, read in chunks of 1,500 rows: every iteration's log-likelihood to 1e-10 relative (D = 16
    takes the whitened E-step), the final parameters to 1e-9."""
    x = _data(d=d, seed=d)
    path = tmp_path / "x.npy"
    np.save(path, x)
    cfg = FitConfig(n_components=4, covariance_type=cov_type, init_params=_start(x, 4).as_init(), max_iter=25, tol=0.0)
    memory = list(fit(x, cfg))
    streamed = list(fit_stream(NpySource(path), cfg, rows=1500))
    assert [s.iteration for s in streamed] == [s.iteration for s in memory]
    for a, b in zip(streamed, memory, strict=True):
        assert a.mean_log_likelihood == pytest.approx(b.mean_log_likelihood, rel=1e-10)
    np.testing.assert_allclose(streamed[-1].means, memory[-1].means, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(streamed[-1].covariances, memory[-1].covariances, rtol=1e-9, atol=1e-9)


def test_an_emptied_component_is_reseeded_at_the_same_point(tmp_path) -> None:
    """A start with a component far from every point: both fits re-seed it at the worst-explained point (the
    streamed one keeps the worst points during its pass)."""
    x = _data(n=6000, d=2, seed=3)
    start = _start(x, 3)
    means = start.means.copy()
    means[2] = [1e3, 1e3]
    cfg = FitConfig(
        n_components=3,
        init_params=MixtureParams(start.weights, means, start.covariances).as_init(),
        max_iter=8,
        tol=0.0,
    )
    path = tmp_path / "x.npy"
    np.save(path, x)
    memory = list(fit(x, cfg))
    streamed = list(fit_stream(NpySource(path), cfg, rows=1000))
    assert any(s.reseeded for s in memory)
    assert [s.reseeded for s in streamed] == [s.reseeded for s in memory]
    np.testing.assert_allclose(streamed[-1].means, memory[-1].means, rtol=1e-9)


def test_restarts_run_batched_and_the_best_is_the_in_memory_ones(tmp_path) -> None:
    x = _data(n=8000, d=3, seed=5)
    path = tmp_path / "x.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({f"c{j}": x[:, j] for j in range(3)}), path, row_group_size=3000)
    source = open_source(path)
    found = survey(source, 2000, sample_size=len(x), seed=0)  # a sample as big as the data: every row once
    np.testing.assert_array_equal(np.sort(found.sample_rows), np.arange(len(x)))
    np.testing.assert_allclose(found.mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(found.std, x.std(0), rtol=1e-12)
    cfg = FitConfig(n_components=4, restarts=3, max_iter=200)
    streamed = list(fit_stream(source, cfg, rows=2000, sample_size=len(x), every=False))[-1]
    memory = list(fit(x, cfg, every=False))[-1]  # k-means++ on all the rows = on a sample of all the rows
    assert streamed.mean_log_likelihood == pytest.approx(memory.mean_log_likelihood, rel=1e-9)
    assert streamed.restart == memory.restart


def test_the_sample_is_uniform_and_reproducible(tmp_path) -> None:
    """Rows 0..N-1 as data: over 400 seeds each tenth of the rows is sampled 10% of the time (within 1%)."""
    n, s = 10_000, 100
    path = tmp_path / "rows.npy"
    np.save(path, np.arange(n, dtype=np.float64)[:, None])
    source = NpySource(path)
    one = survey(source, 777, s, seed=3)
    np.testing.assert_array_equal(one.sample[:, 0], one.sample_rows)
    np.testing.assert_array_equal(survey(source, 333, s, seed=3).sample_rows, one.sample_rows)  # chunks do not matter
    counts = np.zeros(10)
    for seed in range(400):
        counts += np.bincount(survey(source, 2500, s, seed=seed).sample_rows // (n // 10), minlength=10)
    assert np.abs(counts / counts.sum() - 0.1).max() < 0.01


def test_bad_input_is_named(tmp_path) -> None:
    x = _data(n=3000)
    x[2500, 1] = np.nan
    path = tmp_path / "bad.npy"
    np.save(path, x)
    with pytest.raises(
        DataError,
        match=r"bad.npy: row 2500, column 1 \('x1'\): value nan is not a finite number: remove or fill that row",
    ):
        survey(NpySource(path), 1000, 10, 0)
    (tmp_path / "cut.npy").write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="the file ends before its 3000 rows: it is truncated"):
        survey(NpySource(tmp_path / "cut.npy"), 1000, 10, 0)
    np.save(tmp_path / "f.npy", np.asfortranarray(x))
    with pytest.raises(DataError, match="Fortran order"):
        NpySource(tmp_path / "f.npy")
    with pytest.raises(DataError, match="no file matches"):
        open_source(str(tmp_path / "nothing-*.npy"))
    with pytest.raises(UserError, match="exact EM"):
        list(fit_stream(NpySource(path), FitConfig(algorithm="gradient-em"), rows=100))
    assert parse_size("256M") == 256 << 20 and parse_size("1.5G") == int(1.5 * (1 << 30)) and parse_size("4096") == 4096
    for bad in ("lots", "inf", "-1G", "", "0"):
        with pytest.raises(UserError, match="256M, 2G"):
            parse_size(bad)


def test_the_command_line_streams_a_file_larger_than_the_memory_limit(tmp_path, capsys) -> None:
    """fit --memory-limit 64K on a .npy of 300 KB: read by chunks, and the parameters written are the in-memory
    fit's from the same start (to 1e-9)."""
    import json

    from cli import main as cli

    x = _data(n=12_000, d=3, seed=9)
    data, start = tmp_path / "x.npy", tmp_path / "start.json"
    np.save(data, x)
    from engine.io.export import write_params

    write_params(start, _start(x, 3))
    outs = []
    for limit in ("64K", "1G"):
        out = tmp_path / f"p{limit}.json"
        args = ["fit", str(data), "-k", "3", "--init", str(start), "--max-iter", "30", "--tol", "0"]
        assert cli.main(args + ["--memory-limit", limit, "-o", str(out)]) == 0
        outs.append(json.loads(out.read_text()))
    err = capsys.readouterr().err
    assert "more than --memory-limit: read 1,024 rows at a time, one pass per iteration" in err
    assert "pass 31: mean log-lik" in err and "points/s" in err
    np.testing.assert_allclose(outs[0]["means"], outs[1]["means"], rtol=1e-9)
    np.testing.assert_allclose(outs[0]["covariances"], outs[1]["covariances"], rtol=1e-9)
    # labels of streamed data: one more pass, written chunk by chunk; the same as those of the data in memory
    from engine.io.export import read_params, write_labels

    labels = tmp_path / "labels.csv"
    args = ["fit", str(data), "-k", "3", "--init", str(start), "--max-iter", "30", "--tol", "0", "--quiet"]
    assert cli.main(args + ["--memory-limit", "64K", "--labels", str(labels), "-o", str(tmp_path / "q.json")]) == 0
    whole = tmp_path / "whole.csv"
    write_labels(whole, x, read_params(tmp_path / "q.json"))
    streamed_rows = labels.read_text().splitlines()
    whole_rows = whole.read_text().splitlines()
    assert len(streamed_rows) == len(x) + 1 and streamed_rows[0] == whole_rows[0]
    a = np.loadtxt(labels, delimiter=",", skiprows=1)
    b = np.loadtxt(whole, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(a[:, :4], b[:, :4])  # the points and their labels
    np.testing.assert_allclose(a[:, 4:], b[:, 4:], rtol=1e-9, atol=1e-12)  # responsibilities, per-chunk units


def test_ctrl_c_stops_a_streamed_fit_at_the_end_of_a_pass_and_writes_nothing(tmp_path) -> None:
    """The first Ctrl-C (SIGINT) lets the pass in progress finish, then the command stops: exit 130, the message
    says so, and no output file exists."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    np.save(tmp_path / "x.npy", _data(n=200_000, d=2))
    out = tmp_path / "p.json"
    command = [sys.executable, str(root / "main.py"), "fit", str(tmp_path / "x.npy"), "-k", "3", "--memory-limit",
               "256K", "--tol", "0", "--max-iter", "100000", "-o", str(out)]  # fmt: skip
    env = dict(os.environ, GMM_STUDIO_NO_BOOTSTRAP="1")
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env, cwd=root)
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith("pass 3:"):
            process.send_signal(signal.SIGINT)
            break
    rest = process.stderr.read()
    assert process.wait(120) == 130
    assert "stopping after this chunk (Ctrl-C again to stop now)" in rest
    assert rest.rstrip().endswith("interrupted: nothing was written")
    assert not out.exists()


def test_a_selection_over_streamed_data_is_the_in_memory_one(tmp_path) -> None:
    """The grid of (K, covariance type) cells over data read by chunks (one pass per iteration for the whole
    grid), its sample holding every row: each cell's answer is the in-memory grid's (1e-9), in as many iterations."""
    import functools

    from engine.inference.grid import Streamed, fit_cells
    from engine.inference.streaming import local_pass

    x = _data(n=6000, d=2, seed=7)
    np.save(tmp_path / "x.npy", x)
    source = NpySource(tmp_path / "x.npy")
    streamed = Streamed(source, survey(source, 1000, len(x), 0), functools.partial(local_pass, source, 1000))
    cells = [
        FitConfig(n_components=k, covariance_type=ct, restarts=2, max_iter=300)
        for k in (1, 2, 3)
        for ct in ("full", "diag", "spherical")
    ]
    for a, b in zip(fit_cells(streamed, cells), fit_cells(x, cells), strict=True):
        assert a.snapshot.mean_log_likelihood == pytest.approx(b.snapshot.mean_log_likelihood, rel=1e-9)
        assert a.snapshot.iteration == b.snapshot.iteration and a.snapshot.restart == b.snapshot.restart
    with pytest.raises(UserError, match="exact EM from k-means"):
        list(fit_cells(streamed, [FitConfig(algorithm="gradient-em")]))


def test_a_csv_larger_than_the_limit_is_streamed_with_the_loaders_rules(tmp_path, capsys) -> None:
    """A CSV with a header, a row index and a class label, read by chunks: the loader's default columns, the
    in-memory fit's answer from the same start, and a bad value named by line and column as the loader names it."""
    import json

    from cli import main as cli
    from engine.io import data
    from engine.io.csv_source import CsvSource
    from engine.io.export import write_params

    x = _data(n=5000, d=2, seed=11)
    path = tmp_path / "x.csv"
    rows = "".join(f"{i},{float(a)!r},{float(b)!r},{i % 3}\n" for i, (a, b) in enumerate(x))
    path.write_text("index,a,b,label\n" + rows)
    source = CsvSource(path)
    assert source.columns == ("a", "b") and source.n_samples == 5000
    np.testing.assert_array_equal(np.concatenate(list(source.chunks(777))), data.load(path).points)
    start = tmp_path / "start.json"
    write_params(start, _start(x, 3))
    outs = []
    for limit in ("16K", "1G"):
        out = tmp_path / f"p{limit}.json"
        args = ["fit", str(path), "-k", "3", "--init", str(start), "--max-iter", "20", "--tol", "0", "--quiet"]
        assert cli.main(args + ["--memory-limit", limit, "-o", str(out)]) == 0
        outs.append(json.loads(out.read_text()))
    assert "more than --memory-limit" in capsys.readouterr().err
    np.testing.assert_allclose(outs[0]["means"], outs[1]["means"], rtol=1e-9)
    bad = tmp_path / "bad.csv"
    lines = ("index,a,b,label\n" + rows).splitlines(keepends=True)
    lines[4001] = "4000,1.5,oops,1\n"
    bad.write_text("".join(lines))
    with pytest.raises(DataError) as streamed:
        list(CsvSource(bad).chunks(1000))
    with pytest.raises(DataError) as whole:
        data.load(bad)
    assert str(streamed.value) == str(whole.value)
    assert "line 4002, column 2 ('b'): value 'oops' is not a number" in str(streamed.value)


@pytest.mark.parametrize(("m", "n", "k"), [(1, 10, 3), (2, 5000, 3), (3, 200_000, 5), (2, 2049, 2), (1, 4096, 4)])
def test_the_lowest_values_are_topks(m: int, n: int, k: int) -> None:
    """streaming.lowest (block minima first) gives torch.topk's k smallest values and places, smallest first; a
    partial last block and fewer blocks than k included."""
    import torch

    from engine.inference.streaming import lowest

    values = torch.randn(m, n, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    values[:, -1] = -10.0  # the smallest sits in the partial last block
    got, reference = lowest(values, k), torch.topk(values, k, dim=1, largest=False, sorted=True)
    assert torch.equal(got[0], reference[0]) and torch.equal(got[1], reference[1])


def test_the_gallery_of_a_streamed_fit_is_the_in_memory_one(tmp_path) -> None:
    """fit --restarts 4 --gallery of a file read by chunks: every restart's log-likelihood and solution as the
    in-memory fit's gallery (the sample is every row here, so k-means++ makes the same starts)."""
    import csv

    from cli import main as cli

    x = _data(n=12_000, d=2, seed=11)
    np.save(tmp_path / "x.npy", x)
    rows = {}
    for limit in ("64K", "1G"):
        gallery = tmp_path / f"g{limit}.csv"
        args = ["fit", str(tmp_path / "x.npy"), "-k", "4", "--restarts", "4", "--max-iter", "60", "--quiet"]
        assert cli.main(args + ["--memory-limit", limit, "--gallery", str(gallery)]) == 0
        rows[limit] = list(csv.DictReader(gallery.open()))
    assert [r["solution"] for r in rows["64K"]] == [r["solution"] for r in rows["1G"]]
    np.testing.assert_allclose(
        [float(r["log_likelihood"]) for r in rows["64K"]], [float(r["log_likelihood"]) for r in rows["1G"]], rtol=1e-10
    )


def test_a_session_of_data_read_by_chunks_replays_and_notices_a_changed_file(tmp_path, capsys) -> None:
    """fit --session of a file read by chunks records the file's SHA-256 (taken in a pass: the whole array's
    points_sha256) and replay re-runs it by chunks: reproduced; the same file changed in one value: refused."""
    import json

    from cli import main as cli
    from engine.io.dataset import points_sha256

    x = _data(n=12_000, d=3, seed=13).astype(np.float32)
    data, session = tmp_path / "x.npy", tmp_path / "fit.gmmsession"
    np.save(data, x)
    args = ["fit", str(data), "-k", "3", "--restarts", "2", "--max-iter", "40", "--quiet"]
    assert cli.main(args + ["--memory-limit", "64K", "--session", str(session), "--columns", "2,0"]) == 0
    ref = json.loads(session.read_text())["data"]
    assert ref["chunked"] is True and ref["columns"] == [2, 0] and ref["n_samples"] == 12_000
    assert ref["sha256"] == points_sha256(x[:, [2, 0]].astype(np.float64))
    capsys.readouterr()
    assert cli.main(["replay", str(session), "--quiet"]) == 0
    assert "reproduced: the same iterations, restart, log-likelihood and parameters" in capsys.readouterr().out
    x[5000, 2] += 1.0
    np.save(data, x)
    assert cli.main(["replay", str(session)]) == 2
    assert "has changed since the session was saved (SHA-256" in capsys.readouterr().err


class _CountedSource:
    """A source whose chunks are counted per pass; cancels `token` after `after` chunks of pass `in_pass`."""

    def __init__(self, source, token, in_pass: int, after: int) -> None:
        self.source, self.token, self.in_pass, self.after = source, token, in_pass, after
        self.n_samples, self.n_features = source.n_samples, source.n_features
        self.path, self.columns = source.path, source.columns
        self.read: list[int] = []  # chunks read in each pass

    def chunks(self, rows: int):
        self.read.append(0)
        for chunk in self.source.chunks(rows):
            self.read[-1] += 1
            if len(self.read) == self.in_pass and self.read[-1] == self.after:
                self.token.cancel()
            yield chunk


def test_a_cancelled_pass_stops_between_two_chunks(tmp_path) -> None:
    """A pass over a big file takes a while: cancelled in its middle, the fit stops after the chunk being read
    (errors.Cancelled: no iteration to report), not at the end of the pass; the window and the command line end it
    quietly (a closing window is gone within a chunk)."""
    from engine import CancelToken
    from engine.errors import Cancelled

    np.save(tmp_path / "x.npy", _data(n=20_000, d=2))
    token = CancelToken()
    source = _CountedSource(NpySource(tmp_path / "x.npy"), token, in_pass=3, after=2)
    cfg = FitConfig(n_components=3, tol=0.0, max_iter=50)
    seen = []
    with pytest.raises(Cancelled):
        for snap in fit_stream(source, cfg, 1000, token):
            seen.append(snap.iteration)
    assert source.read[:2] == [20, 20]  # two whole passes (the survey, then the start's evaluation)
    assert source.read[2] == 2 and len(source.read) == 3  # the third stopped after its second chunk of 20
    assert seen == [0]
