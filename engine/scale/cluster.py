"""Fits on a Dask cluster: the data's partitions live in the workers' memory, each iteration maps the engine's
chunk E-step (sources.chunk_sums, the same function a pass on this machine runs) over them and adds the
results here, in the partitions' order; the M-step runs here. No cluster code of ours: Dask schedules the tasks,
holds the partitions, moves the sums, and recomputes a lost partition from its file when a worker dies.

Imported only for `--dask`: the default path never imports dask or distributed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import DataError, UserError
from ..inference.sources import PassPlan, PassSums, chunk_sums, summed
from ..io.columns import MISSING_HINT
from ..io.observed import EMPTY_LISTED, EmptyRows
from ..io.parts import Part, read_part
from ..io.stream import (
    Moments,
    MultiSource,
    Survey,
    check_row_count,
    first_non_finite,
    rows_within,
    sample_rows,
)
from ..io.weighted import all_zero, negative_weight

CONNECT_TIMEOUT_S = 10
WORKERS_WAIT_S = 30  # how long a fit waits for a first worker to join a scheduler that has none
CANCEL_POLL_S = 0.2  # how often a pass on the cluster looks at its cancel token
_SCRATCH: dict[int, str] = {}  # a LocalCluster started by connect() -> its own scratch folder, removed by close()


def connect(spec: str, say: Callable[[str], None] | None = None):
    """A distributed.Client for 'local', 'local:WORKERS' (a LocalCluster of processes on this machine, one
    thread each) or a scheduler address 'tcp://HOST:PORT'. UserError in one line when it cannot be reached, or
    when no worker joins it within WORKERS_WAIT_S (say(text) tells the wait)."""
    from distributed import Client, LocalCluster

    if spec == "local" or spec.startswith("local:"):
        workers = local_workers(spec)
        # silence_logs CRITICAL: a worker logs a task's error (a bad value in a CSV part) with its traceback at
        # ERROR, before the one line the command prints for it. Its own scratch folder: distributed puts the
        # scratch folder first on the workers' path, and the shared one (/tmp/dask-scratch-space) can hold an engine
        # uploaded there by an earlier `dask worker` (ship_engine), whose stale code the workers would import.
        scratch = tempfile.mkdtemp(prefix="gmm-studio-dask-")
        try:
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50,
                local_directory=scratch,
            )  # fmt: skip
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        _SCRATCH[id(cluster)] = scratch
        return Client(cluster)
    if not spec.startswith(("tcp://", "tls://")):
        raise UserError(f"--dask takes local, local:WORKERS or a scheduler address tcp://HOST:PORT, got {spec!r}")
    try:
        _check_listening(spec)
        client = Client(spec, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise UserError(
            f"--dask {spec}: no Dask scheduler answers there ({type(exc).__name__}); start one with "
            "`dask scheduler` and workers with `dask worker ADDRESS`, or use --dask local"
        ) from None
    try:
        _wait_for_workers(client, spec, say)
        ship_engine(client, spec)
    except BaseException:
        client.close()
        raise
    return client


def local_workers(spec: str) -> int | None:
    """The worker count of 'local:WORKERS' (None for 'local': distributed's choice); UserError past
    most_local_workers(), where more worker processes (a Python with torch each, a few hundred MB) only take memory
    (local:1000 started workers until memory ran out)."""
    count = spec.partition(":")[2]
    if count and not (count.isdigit() and int(count) > 0):
        raise UserError(f"--dask local:WORKERS takes a whole number of workers, got {spec!r}")
    most = most_local_workers()
    if count and int(count) > most:
        raise UserError(
            f"--dask {spec}: this machine has {os.cpu_count() or 1} cores; more local workers than {most} only take "
            f"memory (each is a process with torch): use at most local:{most}"
        )
    return int(count) if count else None


def most_local_workers() -> int:
    """Twice the cores, at least 4: a worker waiting on its disk leaves its core to another."""
    return max(4, 2 * (os.cpu_count() or 1))


def _wait_for_workers(client, spec: str, say: Callable[[str], None] | None) -> None:
    """Return when a worker is connected to the scheduler; UserError when none joins within WORKERS_WAIT_S (a
    fit would wait for ever, in silence)."""
    if client.scheduler_info().get("workers"):
        return
    if say is not None:
        say(f"no Dask worker is connected to {spec} yet: waiting up to {WORKERS_WAIT_S} s for one to join ...")
    try:
        client.wait_for_workers(1, timeout=WORKERS_WAIT_S)
    except TimeoutError:
        raise UserError(
            f"--dask {spec}: no Dask worker joined the scheduler in {WORKERS_WAIT_S} s: start workers with "
            f"`dask worker {spec}` (in an environment with GMM Studio's requirements)"
        ) from None


ENGINE_DIR = Path(__file__).resolve().parents[1]  # the engine package, its sub-packages with it
NEEDED_ON_WORKERS = ("numpy", "torch", "pyro")  # what the engine's chunk E-step imports there


def ship_engine(client, spec: str) -> None:
    """A scheduler and workers started apart (`dask scheduler`, `dask worker ADDRESS`, as the README says) run in their
    own folder: they get GMM Studio's engine from here (a scheduler plugin uploads this package to the scheduler,
    which reads the tasks, and to every worker, those that join later too, and puts it on their path), unless they
    import this very engine already (its files' digest: another version, an old upload left in Dask's scratch
    space, is replaced and the workers restarted, so that none runs stale code). What the engine needs there
    (NumPy, torch, Pyro) cannot be shipped: a process without it is named, with what to install, before any work."""
    needed = NEEDED_ON_WORKERS

    def inspect() -> tuple[list[str], str]:  # runs on each node: defined here so that it travels by value
        import hashlib
        import importlib.util
        from pathlib import Path

        lacking = [name for name in needed if importlib.util.find_spec(name) is None]
        spec = importlib.util.find_spec("engine")
        if spec is None or not spec.submodule_search_locations:
            return lacking, ""
        digest = hashlib.sha256()
        top = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(top.rglob("*.py")):
            digest.update(path.relative_to(top).as_posix().encode() + b"\0" + path.read_bytes())
        return lacking, digest.hexdigest()

    found = {f"the worker {w}": result for w, result in client.run(inspect).items()}
    found["the scheduler"] = client.run_on_scheduler(inspect)
    lacking = {where: names for where, (names, _digest) in found.items() if names}
    if lacking:
        where, names = next(iter(lacking.items()))
        more = f" (and {len(lacking) - 1} more)" if len(lacking) > 1 else ""
        raise UserError(
            f"--dask {spec}: {where}{more} cannot import {', '.join(names)}: start the scheduler and the workers in "
            "an environment with GMM Studio's requirements (pip install -r requirements.lock)"
        )
    ours = inspect()[1]  # this engine's digest, computed as the nodes compute theirs
    if any(digest != ours for _names, digest in found.values()):
        from distributed.diagnostics.plugin import UploadDirectory

        stale = any(digest not in ("", ours) for _names, digest in found.values())  # imported another engine
        plugin = UploadDirectory(str(ENGINE_DIR), update_path=True, mode="all", restart_workers=stale)
        client.register_plugin(plugin, name="gmm-studio-engine")


def _check_listening(spec: str) -> None:
    """OSError when nothing accepts a connection at the scheduler's host and port (before distributed makes a
    client, whose failed start leaves its event-loop thread running for the rest of the process)."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(spec)
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", a port that is not a number
        raise UserError(f"--dask {spec}: not a scheduler address ({exc}): write it as tcp://HOST:PORT") from None
    if host is None or port is None:
        return  # distributed reads it (and names what is wrong)
    with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
        pass


def close(client) -> None:
    """Close the client, and the LocalCluster it started (a scheduler it connected to stays up)."""
    cluster = client.cluster
    client.close()
    if cluster is not None:
        cluster.close()
        scratch = _SCRATCH.pop(id(cluster), None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def part_rows(client, n_samples: int, rows: int) -> int:
    """Rows per part: no more than `rows` (the memory limit's) and at least 4 parts per worker, so that the work
    spreads over the workers."""
    workers = max(len(client.scheduler_info().get("workers", {})), 1)
    return max(min(rows, -(-n_samples // (4 * workers))), 1)


def partitions(source, rows: int) -> list[Part]:
    """The source cut into parts of at most `rows` rows, as each file's format cuts it (engine/io/parts.py)."""
    source = source.source if getattr(source, "weighted", False) else source  # a WeightedSource: the columns it reads
    sources = source.sources if isinstance(source, MultiSource) else [source]
    return [part for s in sources for part in s.parts(rows)]


class ClusterPasses:
    """The data persisted in the workers' memory as futures, one per part; `__call__(plan)` is one E-step pass."""

    def __init__(self, client, source, rows: int, missing: bool = False) -> None:
        """missing: a NaN in a fitted column is a missing value (--missing em): the first pass takes each column's
        observed values (engine/io/observed.py), the E-step the in-memory one (chunk_sums, PassPlan.missing)."""
        self.client, self.missing = client, missing
        self.weighted = bool(getattr(source, "weighted", False))  # each part's last column: the points' weights
        self.source = source
        self.parts = partitions(source, rows)
        # pure: the same part always names the same key (a changed file has another stamp: other keys); a lost
        # one is recomputed from its file
        self.data = client.map(read_part, self.parts, pure=True)

    def survey(self, sample_size: int, seed: int) -> Survey:
        """The first pass on the workers: each part's moments, its first non-finite value, and the rows of the
        initialisation's sample it holds (stream.sample_rows(seed, N, sample_size): the rows a pass here or the
        in-memory fit takes, whatever the parts); here the moments are combined (Chan) and the rows put together,
        in row order. The data never comes to this machine."""
        counts = [part.count for part in self.parts]
        starts = np.cumsum([0, *counts])
        wanted = sample_rows(seed, int(starts[-1]), sample_size)
        picks = [rows_within(wanted, start, count) for start, count in zip(starts[:-1], counts, strict=True)]
        tasks = self.client.map(part_survey, self.data, picks, weighted=self.weighted, missing=self.missing, pure=False)
        moments, sample, read, holes, weight_sum = None, [], 0, 0, 0.0
        empty = EmptyRows()  # rows with nothing observed (missing): their first places and how many, in one line
        for part, found in zip(self.parts, self.client.gather(tasks), strict=True):
            if found["bad"] is not None:
                r, j, value = found["bad"]
                hint = MISSING_HINT if np.isnan(value) else ""
                raise DataError(
                    f"{part.path}: row {part.start + r}, column {j} is {value}: remove or fill non-finite values{hint}"
                )
            if found.get("empty") is not None:  # refused once every part is read, as a pass here does
                empty.add(found["empty"], part.start, found["empty_count"])
            holes, weight_sum = holes + found.get("holes", 0), weight_sum + found.get("weight_sum", 0.0)
            if self.weighted and len(found["weights"]) and found["weights"][0] < 0:
                raise negative_weight(self.source, part.path, part.start + found["lowest"], float(found["weights"][0]))
            sample.append(found["sample"])
            moments = found["moments"] if moments is None else _added(moments, found["moments"], self.missing)
            read += found["rows"]
        empty.check(self.source, tuple(self.source.columns))
        if read == 0:
            raise DataError(f"{self.parts[0].path if self.parts else 'the data'}: there are no rows")
        check_row_count(self.parts[0].path, read, int(starts[-1]))
        found = self._survey(moments, np.concatenate(sample), wanted, read, weight_sum)
        return replace(found, missing_cells=holes)

    def _survey(self, m: Moments, sample: np.ndarray, wanted: np.ndarray, read: int, weight_sum: float) -> Survey:
        """The Survey of the combined moments and the sample (S, D) (weighted: (S, D + 1), the weights last, summing
        to weight_sum)."""
        if self.missing:
            from ..io.observed import check_observed_columns

            check_observed_columns(self.parts[0].path, self.source.columns, m)
        if not self.weighted:
            return Survey(read, m.mean, m.std, sample, wanted, m.low, m.high)
        total = weight_sum if self.missing else float(m.count)
        if total == 0:
            raise all_zero(self.source.path, self.source.weight_index, self.source.weight_column)
        return Survey(read, m.mean, m.std, sample[:, :-1], wanted, m.low, m.high, total, sample[:, -1])

    def __call__(self, plan: PassPlan, cancel=None) -> PassSums:
        """A pass on the workers; cancel (a CancelToken): checked every CANCEL_POLL_S while the parts run, the tasks
        cancelled and errors.Cancelled raised once it is set."""
        tasks = self.client.map(chunk_sums, self.data, plan=plan, pure=False)
        if cancel is not None:
            self._wait_or_cancel(tasks, cancel)
        return summed(self.client.gather(tasks))  # in the parts' order: the same sums whatever the workers

    def _wait_or_cancel(self, tasks: list, cancel) -> None:
        from distributed import wait

        while True:
            if cancel.cancelled:
                self.client.cancel(tasks)
                cancel.check()
            try:
                wait(tasks, timeout=CANCEL_POLL_S)
                return
            except TimeoutError:
                continue


def part_survey(chunk: np.ndarray, picks: np.ndarray, weighted: bool = False, missing: bool = False) -> dict:
    """One part's first pass (runs on a worker): its moments (float64), its first non-finite value, and its rows
    `picks` (places in the part, ascending) of the initialisation's sample (c, D) in float64. weighted: the part's
    last column is the points' weights (c,): the moments weighted, the weights' smallest (and where) sent back.
    missing: a NaN in a fitted column is a missing value (its first infinite value instead, its rows with nothing
    observed: the first EMPTY_LISTED and how many, the missing cells, each column's moments over its observed
    values, the weights' sum)."""
    if missing:
        return _part_survey_missing(chunk, picks, weighted)
    found = {"bad": first_non_finite(chunk), "sample": chunk[picks].astype(np.float64), "rows": len(chunk)}
    if not weighted:
        return {**found, "moments": Moments.of(chunk)}
    w = np.asarray(chunk[:, -1], dtype=np.float64)
    lowest = int(np.argmin(w)) if len(w) else 0
    return {**found, "moments": Moments.of(chunk[:, :-1], w), "weights": w[lowest : lowest + 1], "lowest": lowest}


def _part_survey_missing(chunk: np.ndarray, picks: np.ndarray, weighted: bool) -> dict:
    """part_survey of a part whose fitted columns may miss values (NaN)."""
    from ..io.observed import observed_moments

    points = chunk[:, :-1] if weighted else chunk
    holes = np.isnan(points)
    infinite = np.argwhere(np.isinf(points))
    bad = None if not len(infinite) else (int(infinite[0][0]), int(infinite[0][1]), float(points[tuple(infinite[0])]))
    if bad is None and weighted:
        bad_w = first_non_finite(chunk[:, -1:])
        bad = None if bad_w is None else (bad_w[0], points.shape[1], bad_w[2])
    empty = np.flatnonzero(holes.all(1))
    found = {
        "bad": bad,
        "empty": [int(r) for r in empty[:EMPTY_LISTED]] if len(empty) else None,
        "empty_count": len(empty),
        "holes": int(holes.sum()),
        "sample": chunk[picks].astype(np.float64),
        "rows": len(chunk),
    }
    if not weighted:
        return {**found, "moments": observed_moments(points)}
    w = np.asarray(chunk[:, -1], dtype=np.float64)
    lowest = int(np.argmin(w)) if len(w) else 0
    moments = observed_moments(points, np.nan_to_num(w))
    return {**found, "moments": moments, "weights": w[lowest : lowest + 1], "lowest": lowest, "weight_sum": w.sum()}


def _added(a: Moments, b: Moments, missing: bool) -> Moments:
    """Two parts' moments combined (missing: column by column, io/observed.py)."""
    if not missing:
        return a.add(b)
    from ..io.observed import add_observed

    return add_observed(a, b)
