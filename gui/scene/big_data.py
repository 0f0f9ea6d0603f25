"""Data bigger than the memory limit, in the window (no Qt here).

It is never loaded: the first pass (engine.io.stream.survey) checks every value, computes the columns' moments and
draws a uniform random sample of the rows; a second pass counts ALL the points on a grid over the view
(engine.scale.density), which the plot draws as a density image under a sample of the sample. The fit reads the data
a pass per iteration on this machine (engine.inference.streaming), or maps the same chunk E-step over the partitions a
Dask cluster holds (engine.scale.cluster, through a ClusterLink that keeps the client between fits).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .frames import DOTS_SHOWN, HISTOGRAM_BINS, IMAGE_BINS, RUG_SHARE, DataScene, image_of, padded_bounds

MACHINE = "this machine"  # where a fit runs: here, a LocalCluster ("local") or a scheduler's address
REPORT_EVERY_S = 0.5  # a long pass reports its progress at most this often
# Rows per chunk at most, whatever the memory limit: one NumPy operation on a chunk may hold the GIL for its
# whole length, the window's event loop waiting (chunks of the memory limit's size stalled it past the budget:
# docs/performance.md, 'The window', bench_gui_stall.py --file)
MAX_CHUNK_ROWS = 1 << 20


@dataclass(frozen=True)
class ChunkedFile:
    """A file read by chunks: where it is, which columns (as engine.io.stream.open_source takes them; None: its
    default), their names and places among the file's columns, N, the memory limit it exceeds (bytes), and its
    first pass (engine.io.stream.Survey, whose sample was drawn with `seed`)."""

    path: str
    columns: tuple | None
    names: tuple[str, ...]
    indices: tuple[int, ...]
    n_samples: int
    limit: int
    survey: object
    seed: int

    @property
    def n_features(self) -> int:
        return len(self.names)

    @property
    def nbytes(self) -> int:
        """The data's size as the fit would hold it (float64)."""
        return self.n_samples * self.n_features * 8

    def sample_dataset(self):
        """The first pass's sample as the engine.Dataset on screen (what the dots, hover and labels use)."""
        from engine import Dataset

        return Dataset(self.survey.sample, self.names, self.indices, self.path)

    def source(self):
        from engine import open_source

        return open_source(self.path, list(self.columns) if self.columns is not None else None)

    def rows(self, restarts: int = 1) -> int:
        """Rows per chunk of its passes (chunk_rows)."""
        return window_chunk_rows(self.limit, self.n_features, restarts)

    def first_pass(self, source, rows: int, report, seed: int, sample_size: int | None = None):
        """The survey a fit seeded `seed` starts from: the one made when the file opened when it was drawn with
        that seed (and is of that size), else a new first pass over source."""
        from engine import stream, survey

        fit_sample = stream.SAMPLE_SIZE  # read now: a test may set it
        sample_size = fit_sample if sample_size is None else sample_size
        if seed == self.seed and sample_size == fit_sample:
            return self.survey
        return survey(Progress(source, report, f"first pass (a sample for seed {seed})"), rows, sample_size, seed)

    def describe(self) -> str:
        from engine import human

        return (
            f"read by chunks: {human(self.nbytes)} in float64, more than the memory limit ({human(self.limit)}); "
            f"the image shows all {self.n_samples:,} points, the dots a uniform sample"
        )


def window_chunk_rows(limit: int, n_features: int, restarts: int = 1) -> int:
    """Rows per chunk of the window's passes: within the memory limit (engine.runtime.limits.chunk_rows_for), at most
    MAX_CHUNK_ROWS."""
    from engine import chunk_rows_for

    return min(chunk_rows_for(limit, n_features, restarts), MAX_CHUNK_ROWS)


class Progress:
    """A source whose chunks report the rows read so far (report(text)) every REPORT_EVERY_S of a pass: a pass
    shorter than that says nothing (no note outlives it). The passes a fit reads back from its copy of a CSV's
    chunks (engine/inference/spill.py) do not read these: they take a fraction of a pass that parses."""

    def __init__(self, source, report, what: str) -> None:
        self.source, self.report, self.what = source, report, what

    def __getattr__(self, name: str):
        # n_samples, columns, stamp, parses, ...: the wrapped source's (a fit keeps a CSV's chunks: spill.py)
        return getattr(self.source, name)

    def chunks(self, rows: int):
        done, last = 0, time.monotonic()
        for chunk in self.source.chunks(rows):
            yield chunk
            done += len(chunk)
            if time.monotonic() - last >= REPORT_EVERY_S:
                last = time.monotonic()
                self.report(f"{self.what}: {done:,} of {self.n_samples:,} rows ({100 * done / self.n_samples:.0f}%)")


def survey_file(source, path: str, columns, limit: int, seed: int, report, cancelled) -> ChunkedFile:
    """The first pass over a source (engine.io.stream): every value checked, the moments, a sample of
    engine.io.stream.SAMPLE_SIZE rows, stream.sample_rows of seed."""
    from engine import stream, survey

    rows = window_chunk_rows(limit, source.n_features)
    found = survey(Progress(source, report, f"{path}: first pass"), rows, stream.SAMPLE_SIZE, seed, cancelled)
    chosen = tuple(columns) if columns is not None else None
    return ChunkedFile(path, chosen, tuple(source.columns), tuple(source.idx), found.n_samples, limit, found, seed)


def streamed_scene(streamed: ChunkedFile, view, report, cancelled) -> DataScene:
    """The scene of data read by chunks in view (engine.model.projection.View; None for 1-D data): its sample's points
    (S, D) with DOTS_SHOWN of them drawn, and an image (or a histogram, in 1-D) of ALL the points, counted in
    one pass (two for a view across columns, whose range needs its own pass)."""
    from engine import density

    found = streamed.survey
    source = Progress(streamed.source(), report, f"{streamed.path}: counting every point")
    rows = streamed.rows()
    points = np.ascontiguousarray(found.sample, dtype=np.float64)
    rng = np.random.default_rng(streamed.seed)
    shown = np.sort(rng.choice(len(points), min(len(points), DOTS_SHOWN), replace=False))
    variance = float(np.min(found.std**2)) if len(found.std) else 1.0
    variance = variance if variance > 0 else 1.0
    if view is None:
        return _histogram(streamed, source, rows, points, shown, variance, cancelled)
    if view.columns is not None:  # the columns' exact range is the first pass's
        lo, hi = found.low[list(view.columns)], found.high[list(view.columns)]
    else:
        lo, hi = density.view_range(source, rows, view.points, cancelled)
    bounds = padded_bounds(np.vstack([lo, hi]))
    counts = density.density_counts(source, rows, view.points, bounds, IMAGE_BINS, cancelled)
    xy = view.points(points[shown])
    return DataScene(points, shown, bounds, image_of(counts), xy, variance, view, stream=streamed)


def _histogram(streamed, source, rows, points, shown, variance, cancelled) -> DataScene:
    """1-D: the density histogram of ALL the values (Freedman-Diaconis bins from the sample's quartiles and N),
    the shown sample as a rug below it."""
    from engine import density

    found = streamed.survey
    lo, hi = padded_bounds(np.column_stack([[found.low[0], found.high[0]]] * 2))[:2]
    q75, q25 = np.percentile(points[:, 0], [75, 25])
    width = 2 * (q75 - q25) / streamed.n_samples ** (1 / 3)
    bins = int(np.clip(max((hi - lo) / width if width > 0 else 0.0, np.sqrt(streamed.n_samples)), *HISTOGRAM_BINS))
    counts = density.histogram_counts(source, rows, lo, hi, bins, cancelled)
    edges = np.linspace(lo, hi, bins + 1)
    values = counts / (streamed.n_samples * np.diff(edges))
    top = float(values.max()) if values.max() > 0 else 1.0
    rug = -top * np.random.default_rng(streamed.seed).uniform(*RUG_SHARE, size=len(shown))
    bounds = (lo, hi, -top * 0.14, top * 1.25)
    return DataScene(
        points, shown, bounds, None, np.column_stack([points[shown, 0], rug]), variance, None, (edges, values), streamed
    )


class ClusterLink:
    """The Dask client of the window's fits, kept between fits (a LocalCluster takes seconds to start) and the
    data's partitions in its workers' memory, kept while the same data is fitted again. Used on the fit thread
    only; `close` at the end."""

    def __init__(self) -> None:
        self.spec = ""
        self.client = None
        self._key = None  # (the ChunkedFile its parts were made for, held so that it stays that object; rows)
        self._passes = None

    def passes(self, spec: str, streamed: ChunkedFile, rows: int, report):
        """engine.scale.cluster.ClusterPasses of the data on the cluster `spec` ('local' or an address), rows per
        part at most; connects (or reconnects, when spec changed) first."""
        from engine import cluster

        if self.client is None or spec != self.spec:
            self.close()
            report(f"connecting to the Dask cluster {spec}…")
            self.client, self.spec = cluster.connect(spec), spec
        rows = cluster.part_rows(self.client, streamed.n_samples, rows)
        key = (streamed, rows)
        if self._key is None or key[0] is not self._key[0] or rows != self._key[1]:  # other data, or opened again
            self._passes = None  # the old data's partitions are released
            self._passes, self._key = cluster.ClusterPasses(self.client, streamed.source(), rows), key
        return self._passes

    def dashboard(self) -> str:
        return self.client.dashboard_link if self.client is not None else ""

    def close(self) -> None:
        """Close the client (and a LocalCluster it started); nothing when none is open (dask is not imported)."""
        if self.client is None:
            return
        from engine import cluster

        client, self.client, self._passes, self._key = self.client, None, None, None
        cluster.close(client)


def grid_data(streamed: ChunkedFile, seed: int, cells: int, report):
    """engine.inference.grid.Streamed of data read by chunks for a model selection on this machine (`cells` fits
    batched: restarts x K x covariance types): the first pass's sample when it was drawn with seed (else a new first
    pass), and a pass per iteration for every cell at once, a CSV's chunks kept as parsed (engine's
    spill.SpilledPasses: the caller closes its run_pass, release_grid)."""
    from engine import SpilledPasses
    from engine import Streamed as GridData

    source, rows = streamed.source(), streamed.rows(cells)
    found = streamed.first_pass(source, rows, report, seed)
    return GridData(source, found, SpilledPasses(Progress(source, report, "pass"), rows, say=report))


def release_grid(data) -> None:
    """Close what a selection's data holds (the kept chunks' file of grid_data's passes; nothing for data in
    memory), on the thread that made it."""
    close = getattr(getattr(data, "run_pass", None), "close", None)
    if close is not None:
        close()


def fit_snapshots(streamed: ChunkedFile, config, cancel, where: str, link: ClusterLink, report):
    """The snapshots of a fit of data read by chunks: a pass per iteration here (where == MACHINE) or on the Dask
    cluster `where`. Here the start is drawn from the first pass's sample when its seed is the fit's (no pass
    again), else from a new one; on a cluster, as the command line's `fit --dask`, from the first pass the
    workers make over their parts (the same rows: stream.sample_rows; the moments added in the parts' order)."""
    from engine import fit_stream

    cfg = config.resolved()
    source = Progress(streamed.source(), report, "pass")
    rows = streamed.rows(cfg.restarts)

    def first_pass(sample_size: int, seed: int):
        return streamed.first_pass(source.source, rows, report, seed, sample_size)

    run_pass, run_survey = None, first_pass
    if where != MACHINE:
        run_pass = link.passes(where, streamed, rows, report)
        run_survey = run_pass.survey
        report(f"fitting on the Dask cluster {where} (dashboard {link.dashboard()})")
    yield from fit_stream(source, cfg, rows, cancel, run_pass=run_pass, run_survey=run_survey, say=report)
