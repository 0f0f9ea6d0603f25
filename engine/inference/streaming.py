"""Exact EM over data read by chunks (engine/io/stream.py) or held by a Dask cluster: each E-step is one pass.

The fit is the shared pipeline (pipeline.py) with its sums from a pass (sources.PassedPoints): a PassRunner reads
the chunks here (sources.local_pass) or maps the same chunk E-step over a Dask cluster's partitions
(engine/scale/cluster.py). From the same start the answer is the in-memory fit's, up to the order of the sums
(tests/engine/test_streaming.py).

The start comes from the initialisation's sample gathered in a first pass (stream.survey): the rows
stream.sample_rows draws from the seed, N and the sample size alone, the rows the in-memory fit starts from too
(init.initial_points), so that the same seed starts the same way however the data is read; or given parameters.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np

from ..config import FitConfig
from ..errors import UserError
from ..io import stream
from ..io.stream import Survey, survey
from ..runtime.memory import release_free_memory
from ..snapshot import CancelToken, Snapshot
from .em import ExactEM, pins_of
from .fitting import iterate
from .missing import start_rows
from .pipeline import (
    Setup,
    begin,
    book,
    initial_losses,
    prepare_survey,
    resolve_device,
    starts,
    survey_scaling,
)
from .sources import (
    ChunkSource,
    PassedPoints,
    PassPlan,
    PassRunner,
    PassSums,
    chunk_sums,
    local_pass,
    lowest,
    summed,
)
from .spill import SpilledPasses, spills

# the names this module has always offered (the facade, the cluster, tests)
__all__ = [
    "PassPlan",
    "PassSums",
    "check_streamable",
    "chunk_sums",
    "fit_stream",
    "local_pass",
    "lowest",
    "summed",
    "survey_scaling",
]


def check_streamable(config: FitConfig) -> FitConfig:
    """The resolved config when data read by chunks can be fitted with it; else UserError saying what to change."""
    cfg = config.resolved()
    if cfg.algorithm != "em":
        raise UserError(
            f"data read by chunks is fitted by exact EM (algorithm em): {cfg.algorithm} needs the data in memory"
        )
    if cfg.restarts > 1 and cfg.select_by == "initial":
        raise UserError("data read by chunks: --select-by initial is not supported; every restart runs (final)")
    if resolve_device(cfg).type != "cpu":
        raise UserError("data read by chunks is fitted on the CPU: choose the device cpu (or fit a sample in memory)")
    return cfg


def fit_stream(
    source: ChunkSource,
    config: FitConfig,
    rows: int,
    cancel: CancelToken | None = None,
    every: bool = True,
    sample_size: int | None = None,
    on_survey: Callable[[Survey], None] | None = None,
    run_pass: PassRunner | None = None,
    run_survey: Callable[[int, int], Survey] | None = None,
    missing: bool = False,
    say: Callable[[str], None] | None = None,
) -> Iterator[Snapshot]:
    """Exact EM over a source read `rows` at a time (see the module's docstring); snapshots as fit yields them.
    on_survey(survey) is called after the first pass (the command line reports the sample); run_pass(plan) runs
    the E-step passes elsewhere (a Dask cluster: engine/scale/cluster.py), local_pass by default;
    run_survey(sample_size, seed) the first pass (stream.survey here by default; it must read NaN as the missing
    flag says); sample_size: stream.SAMPLE_SIZE by default. missing: NaN values are missing at random, fitted by
    exact EM on each point's observed coordinates (missing_chunks.py: each chunk's E-step the in-memory one; the
    starts from the complete rows of the seed's sample, missing.start_rows); data without a NaN is fitted as
    without the flag. say(line): where the chunks are kept for the later passes, or why they are not
    (spill.SpilledPasses)."""
    cfg = check_streamable(config)
    sample_size = stream.SAMPLE_SIZE if sample_size is None else sample_size
    work = min(rows, source.n_samples) * cfg.n_components * cfg.restarts
    start = time.perf_counter()
    if run_survey is None:
        found: Survey = survey(source, rows, sample_size, cfg.seed, missing=missing)
    else:
        found = run_survey(sample_size, cfg.seed)
    if on_survey is not None:
        on_survey(found)
    setup = prepare_survey(found, cfg, work, start)
    missing = found.missing_cells > 0
    if missing:
        setup = replace(setup, **missing_sample(setup, cfg))
    init = starts(setup, cfg, cancel)  # errors.Cancelled between blocks: thousands of restarts on the sample
    setup = setup.without_sample()
    release_free_memory()
    # data with missing values or a text file read here: its chunks kept in a temporary file this fit owns and closes
    spill = SpilledPasses(source, rows, say=say) if run_pass is None and spills(source, missing) else None
    if run_pass is None:
        run_pass = spill if spill is not None else functools.partial(local_pass, source, rows)
    if cancel is not None:  # every pass runner takes the token: checked between chunks (errors.Cancelled)
        run_pass = functools.partial(run_pass, cancel=cancel)
    try:
        n, d = source.n_samples, source.n_features
        sums = PassedPoints(run_pass, n, d, setup.scaling, setup.dtype, setup.n_effective, missing)
        proc = ExactEM(sums, init, cfg.covariance_type, setup.reg, cfg.empty_policy, pins=pins_of(cfg, init))
        mean_ll = begin(proc)
        table = book(setup, initial_losses(proc), np.arange(cfg.restarts))
        yield from iterate(proc, cfg, table, mean_ll, source.n_samples, start, cancel, every)
    finally:
        if spill is not None:
            spill.close()


def missing_sample(setup: Setup, cfg: FitConfig) -> dict:
    """The setup's sample and its weights (S, D), (S,) the starts are drawn from, for data with missing values: of
    the survey's sample (NaN where missing), the rows missing.start_rows keeps, as the in-memory fit keeps them.
    UserError for an algorithm other than exact EM."""
    if cfg.algorithm != "em":
        raise UserError(f"missing values are fitted by exact EM (algorithm em), not {cfg.algorithm}")
    sample, weights = start_rows(setup.sample, setup.sample_weights, cfg.n_components)
    return {"sample": sample, "sample_weights": weights}
