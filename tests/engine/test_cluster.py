"""Fits on a Dask cluster (engine/cluster.py): a LocalCluster of processes, a scheduler and a worker started as
separate processes, a worker killed mid-fit, a scheduler that does not answer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine import FitConfig, fit
from engine.errors import DataError, UserError
from engine.inference.streaming import fit_stream
from engine.io.export import MixtureParams, read_params
from engine.io.npy import NpySource

cluster = pytest.importorskip("engine.scale.cluster")
ROOT = Path(__file__).resolve().parents[2]


def _data(path: Path, n: int = 30_000) -> np.ndarray:
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(c, 1.0, (n // 3, 3)) for c in ([0, 0, 0], [5, 3, 1], [0, 6, 2])])
    np.save(path, x)
    return x


def _config(x: np.ndarray) -> FitConfig:
    start = MixtureParams(np.full(3, 1 / 3), x[[0, 1, 2]] + 1.0, np.broadcast_to(np.eye(3) * 4, (3, 3, 3)))
    return FitConfig(n_components=3, init_params=start.as_init(), max_iter=12, tol=0.0)


@pytest.fixture(scope="module")
def local_client():
    client = cluster.connect("local:2")
    yield client
    cluster.close(client)


def test_a_local_cluster_gives_the_fit_of_this_machine(tmp_path, local_client) -> None:
    """Two worker processes, the data in their memory: the same sums as a pass here over the same parts (bit
    for bit: added in the parts' order), and the in-memory fit's answer to 1e-10 per iteration."""
    x = _data(tmp_path / "x.npy")
    cfg, source = _config(x), NpySource(tmp_path / "x.npy")
    passes = cluster.ClusterPasses(local_client, source, 4000)
    assert len(passes.parts) == 8
    on_cluster, here = _cluster_here_and_memory(x, source, cfg, passes, 4000)
    np.testing.assert_array_equal(on_cluster[-1].means, here[-1].means)


def _cluster_here_and_memory(x: np.ndarray, source, cfg: FitConfig, passes, rows: int) -> tuple[list, list]:
    """The fit on the cluster and by a pass here (its snapshots, both returned), checked against each other bit for
    bit and against the in-memory fit to 1e-10, iteration by iteration."""
    on_cluster = list(fit_stream(source, cfg, rows, run_pass=passes))
    here = list(fit_stream(source, cfg, rows))
    for a, b, c in zip(on_cluster, here, list(fit(x, cfg)), strict=True):
        assert a.mean_log_likelihood == b.mean_log_likelihood
        assert a.mean_log_likelihood == pytest.approx(c.mean_log_likelihood, rel=1e-10)
    return on_cluster, here


def test_an_iterative_covariance_model_on_the_cluster_gives_the_fit_of_this_machine(tmp_path, local_client) -> None:
    """mclust's VVE (its M-step an inner loop started from the previous covariances) on two workers: the pass here's
    answer bit for bit, the in-memory fit's to 1e-10 per iteration."""
    x = _data(tmp_path / "x.npy", n=9000)
    cfg, source = replace(_config(x), covariance_type="VVE"), NpySource(tmp_path / "x.npy")
    passes = cluster.ClusterPasses(local_client, source, 2000)
    on_cluster, here = _cluster_here_and_memory(x, source, cfg, passes, 2000)
    np.testing.assert_array_equal(on_cluster[-1].covariances, here[-1].covariances)


def test_a_local_cluster_imports_this_engine_not_an_upload_in_the_shared_scratch(tmp_path) -> None:
    """`dask worker` started as docs/big-data.md says uploads the engine into Dask's shared scratch folder, which
    distributed puts first on its workers' path: a later --dask local, after the engine changed, imported that stale
    copy (its workers could not read the new engine's tasks, and the fit waited for ever). A LocalCluster of ours
    has its own scratch folder, removed when it closes."""
    import dask

    stale = tmp_path / "dask-scratch-space" / "engine"
    stale.mkdir(parents=True)
    (stale / "__init__.py").write_text("STALE = True  # an engine uploaded by an earlier `dask worker`\n")
    with dask.config.set({"temporary-directory": str(tmp_path)}):
        client = cluster.connect("local:1")
        try:
            found = client.run(lambda: __import__("engine").__file__)
            scratch = client.run(lambda: __import__("sys").path[0])
        finally:
            cluster.close(client)
    assert [Path(f).parent for f in found.values()] == [ROOT / "engine"]
    assert not any(Path(s).exists() for s in scratch.values())  # removed with the cluster


def test_a_worker_killed_mid_fit_changes_nothing(tmp_path, local_client) -> None:
    """After three iterations one worker process is killed (SIGKILL): Dask recomputes its partitions from the
    file on the other (or a restarted) worker, the fit goes on, and every iteration is what it was."""
    x = _data(tmp_path / "x.npy")
    cfg, source = _config(x), NpySource(tmp_path / "x.npy")
    undisturbed = [s.mean_log_likelihood for s in fit_stream(source, cfg, 4000)]
    passes = cluster.ClusterPasses(local_client, source, 4000)
    seen, killed = [], None
    for snap in fit_stream(source, cfg, 4000, run_pass=passes):
        seen.append(snap.mean_log_likelihood)
        if snap.iteration == 3:
            killed = next(iter(local_client.run(os.getpid).values()))
            os.kill(killed, signal.SIGKILL)
    assert seen == undisturbed
    local_client.wait_for_workers(2, timeout=60)  # the nanny started a new worker in its place
    assert killed not in local_client.run(os.getpid).values()


def _start_scheduler(tmp_path, env: dict, cwd) -> tuple[subprocess.Popen, str]:
    """`dask scheduler` on 127.0.0.1 (any free port) as its own process; it and its address."""
    address_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
         "--dashboard-address", ":0", "--scheduler-file", str(address_file)],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(300):
        if address_file.exists() and address_file.stat().st_size:
            break
        time.sleep(0.1)
    return scheduler, json.loads(address_file.read_text())["address"]


def test_a_scheduler_and_a_worker_started_apart(tmp_path) -> None:
    """`dask scheduler` and `dask worker` as their own processes on 127.0.0.1, started as the README says: in the
    project's environment, but in another folder and with nothing on their path that finds GMM Studio (issue 22,
    item 10: "No module named 'engine'"); fit --dask tcp://... through the command line ships the engine to the
    worker and gives the parameters of the fit on this machine."""
    x = _data(tmp_path / "x.npy")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["DASK_TEMPORARY_DIRECTORY"] = str(tmp_path / "scratch")  # the engine is uploaded there, not to /tmp's
    apart = tmp_path / "elsewhere"
    apart.mkdir()
    scheduler, address = _start_scheduler(tmp_path, env, apart)
    worker = None
    try:
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads", "1",
             "--no-dashboard"],
            env=env, cwd=apart, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        probe = [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('engine') is None)"]
        assert subprocess.run(probe, env=env, cwd=apart, capture_output=True, text=True).stdout.strip() == "True"
        from cli import main as cli
        from engine.io.export import write_params

        start = tmp_path / "start.json"
        write_params(
            start, MixtureParams(np.full(3, 1 / 3), x[[0, 1, 2]] + 1.0, np.broadcast_to(np.eye(3) * 4, (3, 3, 3)))
        )
        common = ["fit", str(tmp_path / "x.npy"), "-k", "3", "--init", str(start), "--max-iter", "12", "--tol", "0"]
        assert cli.main(common + ["--dask", address, "-o", str(tmp_path / "remote.json"), "--quiet"]) == 0
        assert cli.main(common + ["-o", str(tmp_path / "here.json")]) == 0
        remote, here = (json.loads((tmp_path / f).read_text()) for f in ("remote.json", "here.json"))
        np.testing.assert_allclose(remote["means"], here["means"], rtol=1e-10)
        assert remote["log_likelihood"] == pytest.approx(here["log_likelihood"], rel=1e-10)
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(30)


def test_a_scheduler_that_does_not_answer_is_one_line(monkeypatch) -> None:
    """One line, and nothing left running: distributed's client whose start failed left its event-loop thread
    ("IO loop") for the rest of the process, one more for every wrong address a user tried."""
    import threading

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2)
    before = {t.ident for t in threading.enumerate()}
    with pytest.raises(UserError) as caught:
        cluster.connect("tcp://127.0.0.1:9")
    assert [t.name for t in threading.enumerate() if t.ident not in before] == []
    assert str(caught.value).startswith("--dask tcp://127.0.0.1:9: no Dask scheduler answers there")
    assert "\n" not in str(caught.value)
    with pytest.raises(UserError, match="local:WORKERS takes a whole number"):
        cluster.connect("local:two")


def test_more_local_workers_than_the_machine_can_use_are_refused_before_any_starts() -> None:
    """local:1000 started workers until memory ran out (issue 22 item 16)."""
    import threading

    before = threading.active_count()
    most = cluster.most_local_workers()
    with pytest.raises(UserError, match=f"use at most local:{most}$"):
        cluster.connect(f"local:{most + 1}")
    assert threading.active_count() == before


def test_a_scheduler_without_workers_is_one_line_after_a_said_wait(tmp_path, monkeypatch) -> None:
    """A fit on a scheduler with no workers waited for ever in silence (issue 22 item 16)."""
    monkeypatch.setattr(cluster, "WORKERS_WAIT_S", 2)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    scheduler, address = _start_scheduler(tmp_path, env, tmp_path)
    said: list[str] = []
    try:
        with pytest.raises(UserError) as caught:
            cluster.connect(address, said.append)
    finally:
        scheduler.terminate()
        scheduler.wait(30)
    assert said == [f"no Dask worker is connected to {address} yet: waiting up to 2 s for one to join ..."]
    assert str(caught.value) == (
        f"--dask {address}: no Dask worker joined the scheduler in 2 s: start workers with `dask worker {address}` "
        "(in an environment with GMM Studio's requirements)"
    )


def test_select_runs_its_grid_on_the_cluster(tmp_path, local_client, capsys) -> None:
    """The grid's passes mapped over the workers give this machine's passes over the same parts (from the same
    first pass), to the last bits: the log-likelihoods equal, the means within 1e-15 (MKL's products may round
    differently in another process); and the command line's select --dask runs end to end."""
    import functools

    from cli import main as cli
    from engine.inference.grid import Streamed, fit_cells
    from engine.inference.streaming import local_pass

    _data(tmp_path / "x.npy", n=9000)
    source = NpySource(tmp_path / "x.npy")
    passes = cluster.ClusterPasses(local_client, source, 1500)
    found = passes.survey(100_000, seed=0)
    cells = [FitConfig(n_components=k, covariance_type=ct, restarts=2) for k in (1, 2, 3) for ct in ("full", "diag")]
    remote = list(fit_cells(Streamed(source, found, passes), cells))
    here = list(fit_cells(Streamed(source, found, functools.partial(local_pass, source, 1500)), cells))
    for a, b in zip(remote, here, strict=True):
        assert a.snapshot.mean_log_likelihood == pytest.approx(b.snapshot.mean_log_likelihood, rel=1e-13)
        np.testing.assert_allclose(a.snapshot.means, b.snapshot.means, rtol=1e-12, atol=1e-13)
    # ICL's classifying pass mapped over the workers: this machine's sums, and the in-memory ones
    from engine.selection.icl import map_log_responsibilities

    snaps = [r.snapshot for r in here]
    on_workers = map_log_responsibilities(Streamed(source, found, passes), snaps)
    for got, want in zip(on_workers, map_log_responsibilities(np.load(tmp_path / "x.npy"), snaps), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11)
    assert (on_workers[0][:2] == 0).all() and (on_workers[0][2:] < 0).all()  # K = 1 classifies nothing
    out = tmp_path / "s.json"
    # the fixture's cluster, by its address: one LocalCluster per module (a second one here would run beside it)
    address = local_client.scheduler.address
    args = ["select", str(tmp_path / "x.npy"), "-k", "1-3", "--restarts", "2", "--dask", address, "-o", str(out)]
    assert cli.main(args) == 0
    doc = json.loads(out.read_text())
    assert doc["best"]["k"] == 3 and all(f["icl"] >= f["bic"] for f in doc["fits"])
    assert "best by BIC: k=3" in capsys.readouterr().out


def test_a_cluster_fit_reads_its_settings_and_its_init_file_once(tmp_path, local_client, monkeypatch) -> None:
    """fit --dask resolved its settings twice and read its --init file twice (once to size the parts, once to fit):
    a file changed in between gave the two steps different starts. Now the command reads it once."""
    from cli import inputs
    from cli import main as cli
    from engine.io.export import write_params

    x = _data(tmp_path / "x.npy", n=3000)
    start = tmp_path / "start.json"
    write_params(start, MixtureParams(np.full(3, 1 / 3), x[[0, 1, 2]] + 1.0, np.broadcast_to(np.eye(3) * 4, (3, 3, 3))))
    reads = []
    monkeypatch.setattr(inputs, "read_params", lambda path: reads.append(path) or read_params(path))
    address = local_client.scheduler.address  # the module's cluster (a second LocalCluster would run beside it)
    args = ["fit", str(tmp_path / "x.npy"), "-k", "3", "--init", str(start), "--max-iter", "3", "--dask", address]
    assert cli.main(args + ["-o", str(tmp_path / "p.json"), "--quiet"]) == 0
    assert reads == [str(start)]


def test_the_first_pass_runs_on_the_workers(tmp_path, local_client) -> None:
    """Moments as this machine's pass computes them (1e-12), a sample without repeats of rows that exist, in row
    order, the same for the same seed, another for another; a sample as big as the data is all of it, in order
    (this machine's sample then, so k-means++ makes the same start); a non-finite value named by file and row."""
    from engine.errors import DataError
    from engine.io.stream import survey

    x = _data(tmp_path / "x.npy", n=30_000)
    source = NpySource(tmp_path / "x.npy")
    passes = cluster.ClusterPasses(local_client, source, 4000)
    found = passes.survey(1000, seed=5)
    here = survey(source, 4000, 1000, seed=5)
    np.testing.assert_allclose(found.mean, here.mean, rtol=1e-12)
    np.testing.assert_allclose(found.std, here.std, rtol=1e-12)
    assert found.n_samples == 30_000 and len(np.unique(found.sample_rows)) == 1000
    np.testing.assert_array_equal(found.sample, x[found.sample_rows])
    assert np.all(np.diff(found.sample_rows) > 0)
    np.testing.assert_array_equal(found.low, here.low)
    np.testing.assert_array_equal(found.high, here.high)
    np.testing.assert_array_equal(passes.survey(40_000, seed=5).sample, x)
    np.testing.assert_array_equal(passes.survey(1000, seed=5).sample_rows, found.sample_rows)
    assert not np.array_equal(passes.survey(1000, seed=6).sample_rows, found.sample_rows)
    x[12_345, 2] = np.inf
    np.save(tmp_path / "bad.npy", x)
    with pytest.raises(DataError, match=r"bad.npy: row 12345, column 2 is inf"):
        cluster.ClusterPasses(local_client, NpySource(tmp_path / "bad.npy"), 4000).survey(100, 0)


def test_parquet_parts_are_whole_row_groups(tmp_path) -> None:
    """A Parquet file cut into parts of whole row groups, each read alone, gives back every row in order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine.io.stream import open_source

    x = np.random.default_rng(0).normal(size=(10_000, 3))
    pq.write_table(pa.table({f"c{j}": x[:, j] for j in range(3)}), tmp_path / "x.parquet", row_group_size=1500)
    parts = cluster.partitions(open_source(tmp_path / "x.parquet"), 4000)
    assert [p.detail[1] for p in parts] == [(0, 1), (2, 3), (4, 5, 6)]  # its row groups: at most 4000 rows each
    np.testing.assert_array_equal(np.concatenate([cluster.read_part(p) for p in parts]), x)


def test_npy_parts_hold_the_chosen_columns(tmp_path) -> None:
    """Columns 2 and 0 of a .npy file: each part read alone holds those columns, in that order."""
    from engine.io.stream import open_source

    x = np.random.default_rng(1).normal(size=(5000, 4))
    np.save(tmp_path / "x.npy", x)
    parts = cluster.partitions(open_source(tmp_path / "x.npy", ["2", "0"]), 1800)
    np.testing.assert_array_equal(np.concatenate([cluster.read_part(p) for p in parts]), x[:, [2, 0]])
    # the parts name their file's version: a file written again gives other Dask keys, never the old data
    info = os.stat(tmp_path / "x.npy")
    os.utime(tmp_path / "x.npy", ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    again = cluster.partitions(open_source(tmp_path / "x.npy", ["2", "0"]), 1800)
    assert [p.stamp.mtime_ns for p in again] == [info.st_mtime_ns + 10**9] * len(parts) and again[0] != parts[0]


def _csv(path: Path, x: np.ndarray) -> None:
    """x as a CSV with a BOM, a header, CRLF line ends, comment and blank lines scattered through it."""
    lines = ["\ufeffa,b,c"]
    for i, row in enumerate(x):
        if i % 997 == 3:
            lines += ["# a comment", ""]
        lines.append(",".join(repr(float(v)) for v in row))
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")


def test_csv_parts_are_read_alone_with_the_files_rules(tmp_path) -> None:
    """A CSV cut at line ends into parts of at most 1,800 rows: each part read alone (as a worker does) gives back
    its rows, all of them in order; a bad value is named by its line, as on this machine."""
    from engine.io.csv_source import CsvSource
    from engine.io.stream import open_source

    x = np.random.default_rng(2).normal(size=(5000, 3))
    _csv(tmp_path / "x.csv", x)
    parts = cluster.partitions(open_source(tmp_path / "x.csv", ["c", "a"]), 1800)
    assert [p.count for p in parts] == [1800, 1800, 1400] and [p.start for p in parts] == [0, 1800, 3600]
    np.testing.assert_array_equal(np.concatenate([cluster.read_part(p) for p in parts]), x[:, [2, 0]])
    text = (tmp_path / "x.csv").read_text(encoding="utf-8").replace(repr(float(x[4000, 1])), "1.5.2", 1)
    (tmp_path / "x.csv").write_text(text, encoding="utf-8")
    parts = cluster.partitions(open_source(tmp_path / "x.csv"), 1800)
    with pytest.raises(DataError) as here:
        list(CsvSource(tmp_path / "x.csv").chunks(1800))
    with pytest.raises(DataError) as there:
        cluster.read_part(parts[2])
    assert str(there.value) == str(here.value) and "line " in str(there.value)


def test_a_csv_on_the_cluster_gives_the_fit_of_this_machine(tmp_path, local_client) -> None:
    """The workers parse their own parts of a CSV: the same fit as a pass here, to 1e-10 per iteration."""
    from engine.io.stream import open_source

    x = np.random.default_rng(3).normal(size=(6000, 3)) + np.repeat([[0, 0, 0], [5, 3, 1], [0, 6, 2]], 2000, axis=0)
    _csv(tmp_path / "x.csv", x)
    cfg, source = _config(x), open_source(tmp_path / "x.csv")
    on_cluster = list(fit_stream(source, cfg, 1500, run_pass=cluster.ClusterPasses(local_client, source, 1500)))
    here = list(fit_stream(source, cfg, 1500))
    for a, b in zip(on_cluster, here, strict=True):
        assert a.mean_log_likelihood == pytest.approx(b.mean_log_likelihood, rel=1e-10)


def test_rows_with_nothing_observed_on_the_cluster_are_counted_and_listed_as_by_chunks(tmp_path, local_client) -> None:
    """Rows with no observed value in three parts of a file (.npy: rows; CSV: lines, comments and blank lines
    counted) are refused once every part is read, in the line a pass here gives: the first row's place, how many
    more, the next four and '...' (the cluster named the first only)."""
    from engine.io.stream import open_source, survey

    x = _data(tmp_path / "x.npy", n=600)
    empty = [3, 40, 300, 411, 450, 590]  # parts of 200 rows: two in the first, one in the second, three in the last
    x[empty] = np.nan
    np.save(tmp_path / "x.npy", x)
    lines = ["a,b,c"]
    for i, row in enumerate(x):
        lines += ["# a comment", ""] if i in (30, 350) else []
        lines.append(",".join("" if np.isnan(v) else repr(float(v)) for v in row))
    (tmp_path / "x.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    npy_listed = (
        "row 3 (counted from 0) has no value in any fitted column ('x0', 'x1', 'x2') (and 5 more such rows: rows "
    )
    at = [i + 1 for i, line in enumerate(lines) if line == ",,"]  # the empty rows' lines, as an editor counts them
    assert len(at) == len(empty)
    csv_listed = f"line {at[0]} has no value in any fitted column ('a', 'b', 'c') (and 5 more such rows: lines "
    for name, said in [
        ("x.npy", f"{npy_listed}40, 300, 411, 450, ... (counted from 0)): such a row tells nothing"),
        ("x.csv", f"{csv_listed}{', '.join(map(str, at[1:5]))}, ...): such a row tells nothing"),
    ]:
        source = open_source(tmp_path / name, missing=True)
        with pytest.raises(DataError) as there:
            cluster.ClusterPasses(local_client, source, 200, missing=True).survey(100_000, 0)
        with pytest.raises(DataError) as here:
            survey(source, 200, 100_000, 0, missing=True)
        assert str(there.value) == str(here.value) and f"{tmp_path / name}: {said}" in str(there.value)


def test_a_cancelled_pass_on_the_cluster_stops_and_the_cluster_stays_usable(tmp_path, local_client) -> None:
    """Cancelled while the parts run (a closing window, a Stop), the pass cancels its tasks and raises
    errors.Cancelled at once; the client and the data on the workers serve the next pass as before."""
    from engine import CancelToken
    from engine.errors import Cancelled

    x = _data(tmp_path / "x.npy", n=9000)
    cfg, source = _config(x), NpySource(tmp_path / "x.npy")
    passes = cluster.ClusterPasses(local_client, source, 1500)
    token = CancelToken()
    token.cancel()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        list(fit_stream(source, cfg, 1500, token, run_pass=passes))
    assert time.monotonic() - t0 < 30  # the survey here, then the first pass on the cluster: cancelled at once
    whole = [s.mean_log_likelihood for s in fit_stream(source, cfg, 1500, run_pass=passes)]
    assert whole == [s.mean_log_likelihood for s in fit_stream(source, cfg, 1500)]


def test_a_cluster_without_what_the_engine_needs_is_named_before_any_work(local_client, monkeypatch) -> None:
    """The engine travels to the cluster; torch, NumPy and Pyro cannot: a scheduler or worker that cannot import them
    is named in one line with what to install (stood in for by a module nobody has)."""
    monkeypatch.setattr(cluster, "NEEDED_ON_WORKERS", ("numpy", "no_such_module_of_gmm_studio"))
    assert cluster.NEEDED_ON_WORKERS[1] == "no_such_module_of_gmm_studio"
    with pytest.raises(UserError) as caught:
        cluster.ship_engine(local_client, "local:2")
    text = str(caught.value)
    assert "cannot import no_such_module_of_gmm_studio" in text and "pip install -r requirements.lock" in text
    assert text.startswith("--dask local:2: the ") and "\n" not in text


def test_a_bad_value_on_a_local_cluster_is_one_line_without_the_workers_tracebacks(tmp_path) -> None:
    """A CSV whose bad value a worker finds: the command's one error line naming it, and none of the workers' logged
    tracebacks before it (issue 22, item 20)."""
    rng = np.random.default_rng(0)
    lines = ["x,y", *(f"{a},{b}" for a, b in rng.normal(size=(6000, 2)))]
    lines[5000] = "1,oops"
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, GMM_STUDIO_NO_BOOTSTRAP="1")
    command = [sys.executable, str(ROOT / "main.py"), "fit", str(path), "--dask", "local:1", "--quiet"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Compute Failed" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {path}: line 5001, column 1 ('y'): value 'oops' is not a number")


def test_a_worker_with_another_engine_on_its_path_gets_this_one(tmp_path) -> None:
    """An engine of another version on a worker's path (or an old upload left in Dask's scratch space) would run
    stale code: on connecting it is replaced by this one (the digest of its files differs) and the worker restarted."""
    import shutil

    stale = tmp_path / "stale"
    shutil.copytree(ROOT / "engine", stale / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    with open(stale / "engine" / "inference" / "streaming.py", "a") as f:
        f.write("\nSTALE = True  # another version\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["DASK_TEMPORARY_DIRECTORY"] = str(tmp_path / "scratch")  # their own scratch space: no copy left by others
    env["PYTHONPATH"] = str(stale)  # the scheduler's and the worker's
    processes = []
    try:
        scheduler, address = _start_scheduler(tmp_path, env, tmp_path)
        processes.append(scheduler)
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads", "1",
             "--no-dashboard"],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        client = cluster.connect(address)
        try:
            client.wait_for_workers(1, timeout=60)

            def has_stale() -> bool:
                import engine.inference.streaming

                return hasattr(engine.inference.streaming, "STALE")

            assert not any(client.run(has_stale).values())
        finally:
            client.close()
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(30)


@pytest.mark.parametrize("init", ["random-data", "kmeans++", "hc"])
def test_a_seed_starts_the_same_way_on_the_cluster_by_chunks_and_in_memory(
    tmp_path, local_client, monkeypatch, capsys, init: str
) -> None:
    """N = 3,000 above the sample's 400 rows (stream.SAMPLE_SIZE made small): the workers' first pass over parts of
    700 or 1,000 rows gathers the rows a pass here gathers (bit for bit); the fit on the cluster, by chunks here
    and in memory start the same (1.8e-14 measured; 1e-12 asked) and agree at every iteration (1e-15 relative
    measured; 1e-12 asked); `fit --dask` and `fit` in memory write the same parameters (3.3e-14 measured; 1e-12
    asked). Before, each part drew its own sample: other rows than a pass here or the in-memory fit."""
    from cli import main as cli
    from engine.io import stream
    from engine.io.stream import survey

    monkeypatch.setattr(stream, "SAMPLE_SIZE", 400)
    x = _data(tmp_path / "x.npy", n=3000)
    source = NpySource(tmp_path / "x.npy")
    cfg = FitConfig(n_components=3, init=init, seed=4, restarts=2, max_iter=20, tol=0.0)
    memory = list(fit(x, cfg))
    here = list(fit_stream(source, cfg, 250, sample_size=400))
    for rows in (700, 1000):
        passes = cluster.ClusterPasses(local_client, source, rows)
        found = passes.survey(400, seed=4)
        np.testing.assert_array_equal(found.sample_rows, survey(source, 250, 400, seed=4).sample_rows)
        np.testing.assert_array_equal(found.sample, x[found.sample_rows])
        on_cluster = list(fit_stream(source, cfg, rows, run_pass=passes, run_survey=passes.survey, sample_size=400))
        for name in ("weights", "means", "covariances"):
            for other in (here, memory):
                a, b = getattr(on_cluster[0].restarts, name), getattr(other[0].restarts, name)
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
        for a, b, c in zip(on_cluster, here, memory, strict=True):
            assert a.mean_log_likelihood == pytest.approx(b.mean_log_likelihood, rel=1e-12)
            assert a.mean_log_likelihood == pytest.approx(c.mean_log_likelihood, rel=1e-12)
    written = {}
    for where in ("memory", local_client.scheduler.address):
        out = tmp_path / f"{len(written)}.json"
        extra = [] if where == "memory" else ["--dask", where]
        args = ["fit", str(tmp_path / "x.npy"), "-k", "3", "--init", init, "--seed", "4", "--max-iter", "15"]
        assert cli.main([*args, *extra, "-o", str(out)]) == 0
        written[where] = json.loads(out.read_text())
    capsys.readouterr()
    for key in ("weights", "means", "covariances"):
        a, b = (np.asarray(p[key]) for p in written.values())
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_a_relative_csv_path_reads_on_a_worker_in_another_folder(tmp_path, monkeypatch) -> None:
    """A CSV named by a relative path went to the workers as that path: a worker in another folder found no file
    and the command said 'No such file or directory: free some space' (issue 22 item 16). The parts carry the
    absolute path; a worker that still finds no file says what a cluster needs."""
    from engine.io.csv_source import CsvSource

    (tmp_path / "data").mkdir()
    np.savetxt(tmp_path / "data" / "x.csv", np.arange(40.0).reshape(20, 2), delimiter=",", header="a,b", comments="")
    monkeypatch.chdir(tmp_path)
    parts = cluster.partitions(CsvSource("data/x.csv"), rows=8)
    elsewhere = tmp_path / "worker"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # as a worker started in its own folder
    read = np.concatenate([cluster.read_part(p) for p in parts])
    np.testing.assert_array_equal(read, np.arange(40.0).reshape(20, 2))
    (tmp_path / "data" / "x.csv").rename(tmp_path / "data" / "gone.csv")  # a worker's machine without the file
    with pytest.raises(DataError, match="finds no such file: workers read the data themselves"):
        cluster.read_part(parts[0])


def test_every_format_read_by_chunks_cuts_itself_into_parts_for_the_workers(tmp_path) -> None:
    """One registry of formats (engine/io/formats.py): the cluster code names no format; each source read by chunks
    cuts its own file (parts) and names its part reader, so a new format is one module and one registry entry. Here
    each registered source's parts, read alone, give its chunks."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine.io.formats import FORMATS

    x = np.random.default_rng(2).normal(size=(900, 3))
    files = {"npy": tmp_path / "x.npy", "parquet": tmp_path / "x.parquet", "text": tmp_path / "x.csv"}
    np.save(files["npy"], x)
    pq.write_table(pa.table({f"c{j}": x[:, j] for j in range(3)}), files["parquet"], row_group_size=200)
    files["text"].write_text("a,b,c\n" + "".join(",".join(repr(float(v)) for v in row) + "\n" for row in x))
    readable = [f for f in FORMATS if f.source is not None]
    assert sorted(f.name for f in readable) == sorted(files)
    for f in readable:
        source = f.source(files[f.name], None)
        parts = cluster.partitions(source, 250)
        assert [p.count for p in parts] == [len(c) for c in source.chunks(250)]
        np.testing.assert_array_equal(np.concatenate([cluster.read_part(p) for p in parts]), x)


def test_a_weighted_fit_on_the_cluster_is_the_weighted_fit_in_memory(tmp_path, local_client) -> None:
    """The weights' column read with each part on the workers (the first pass there too: weighted moments, the
    sample's weights): every iteration's log-likelihood and the end are the in-memory weighted fit's to 1e-10, from
    a given start and from k-means++ (the same sample and weighted draws); a negative weight is one line."""
    from engine.io.weighted import open_weighted

    x = _data(tmp_path / "x.npy", n=6000)
    w = np.random.default_rng(5).integers(0, 4, len(x)).astype(np.float64)
    np.save(tmp_path / "xw.npy", np.column_stack([x, w]))
    source = open_weighted(str(tmp_path / "xw.npy"), None, "3")
    passes = cluster.ClusterPasses(local_client, source, 1000)
    for cfg in (_config(x), FitConfig(n_components=3, init="kmeans++", restarts=2, max_iter=8, tol=0.0)):
        memory = list(fit(x, cfg, weights=w))
        found = passes.survey(100_000, cfg.seed)
        on_cluster = list(fit_stream(source, cfg, 1000, run_pass=passes, run_survey=lambda *_, f=found: f))
        for a, b in zip(memory, on_cluster, strict=True):
            assert b.log_likelihood == pytest.approx(a.log_likelihood, rel=1e-10, abs=0)
        np.testing.assert_allclose(on_cluster[-1].restarts.means, memory[-1].restarts.means, rtol=0, atol=1e-10)
    w[4321] = -1.0
    np.save(tmp_path / "xw.npy", np.column_stack([x, w]))
    bad = cluster.ClusterPasses(local_client, open_weighted(str(tmp_path / "xw.npy"), None, "3"), 1000)
    with pytest.raises(DataError, match=r"row 4321 .*column 3 \('x3'\): weight -1 is negative"):
        bad.survey(100_000, 0)


def test_missing_values_on_the_cluster_are_the_in_memory_missing_data_fit(tmp_path, local_client) -> None:
    """--missing em on the workers (issue 25): the first pass there takes each column's observed values, each part's
    E-step is the in-memory one (MissingPoints): every iteration's log-likelihood and the end are the in-memory fit's
    to 1e-10, weighted too (measured: 1e-15); a row with nothing observed is one line naming it."""
    from engine.io.weighted import open_weighted

    x = _data(tmp_path / "x.npy", n=1200)
    rng = np.random.default_rng(6)
    x[rng.random(x.shape) < 0.15] = np.nan
    x[np.isnan(x).all(1), 0] = 1.0
    w = rng.integers(0, 4, len(x)).astype(np.float64)
    np.save(tmp_path / "xw.npy", np.column_stack([x, w]))
    source = open_weighted(str(tmp_path / "xw.npy"), None, "3")
    passes = cluster.ClusterPasses(local_client, source, 500, missing=True)
    cfg = FitConfig(n_components=3, init="kmeans++", restarts=2, max_iter=5, tol=0.0)
    memory = list(fit(x, cfg, weights=w, missing="em"))
    found = passes.survey(100_000, cfg.seed)
    assert found.missing_cells == np.isnan(x).sum()
    on_cluster = list(fit_stream(source, cfg, 500, run_pass=passes, run_survey=lambda *_: found, missing=True))
    for a, b in zip(memory, on_cluster, strict=True):
        assert b.log_likelihood == pytest.approx(a.log_likelihood, rel=1e-10, abs=0)
    np.testing.assert_allclose(on_cluster[-1].restarts.means, memory[-1].restarts.means, rtol=0, atol=1e-10)
    x[1111] = np.nan
    np.save(tmp_path / "x.npy", x)
    bad = cluster.ClusterPasses(local_client, NpySource(tmp_path / "x.npy"), 500, missing=True)
    with pytest.raises(DataError, match=r"row 1111 \(counted from 0\) has no value in any fitted column \('x0', 'x1'"):
        bad.survey(100_000, 0)
