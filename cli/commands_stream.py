"""fit of data read by chunks (more than --memory-limit) or held by a Dask cluster's workers: a pass per
iteration."""

from __future__ import annotations

import functools
import sys

from engine.config import FitConfig
from engine.errors import Cancelled, counted
from engine.history import History
from engine.io import session as session_mod
from engine.io.export import label_csv, params_from_snapshot, write_params
from engine.io.outputs import atomic_write, staged_writes
from engine.io.session import write_session
from engine.io.weighted import point_chunks
from engine.snapshot import CancelToken

from .output import fit_line, session_line, warning_lines, write_gallery_lines
from .progress import note, report_passes, stop_at_pass_end


def fit_on_cluster(args, source, cfg: FitConfig) -> int:
    """fit on a Dask cluster: the partitions in the workers' memory, a pass per iteration mapped over them."""
    from engine.runtime.limits import chunk_rows_for
    from engine.scale import cluster

    client = cluster.connect(args.dask, note)
    try:
        rows = chunk_rows_for(args.limit_bytes, source.n_features, cfg.restarts)
        passes, rows = cluster_passes(args, client, source, rows)
        return fit_streamed(args, source, cfg, passes, rows)
    finally:
        cluster.close(client)


def cluster_passes(args, client, source, rows: int):
    """The data's parts in the workers' memory (cluster.ClusterPasses) and their rows (cluster.part_rows); the
    cluster and its dashboard are named on stderr."""
    from engine.scale import cluster

    workers = max(len(client.scheduler_info().get("workers", {})), 1)
    print(f"Dask: {args.dask}, {workers} worker(s), dashboard {client.dashboard_link}", file=sys.stderr)
    rows = cluster.part_rows(client, source.n_samples, rows)
    return cluster.ClusterPasses(client, source, rows, bool(getattr(args, "missing", None))), rows


def fit_streamed(args, source, cfg: FitConfig, run_pass=None, rows: int | None = None) -> int:
    """fit with the resolved settings cfg, reading the data by chunks of at most --memory-limit (or on a cluster,
    run_pass): a pass per iteration, a line per pass."""
    from engine.runtime.limits import chunk_rows_for

    if run_pass is None:
        rows = chunk_rows_for(args.limit_bytes, source.n_features, cfg.restarts)
    _say_reading(args, source, rows, in_parts=run_pass is not None)
    last, history = _run_passes(args, source, cfg, rows, run_pass)
    params = params_from_snapshot(last, source.columns, weights_column=getattr(source, "weight_column", None))
    if getattr(args, "missing", None):  # as the fit of data in memory says it
        params.meta.update(missing=args.missing, missing_values=int(getattr(args, "missing_cells", 0)))
    print(fit_line(cfg, last, params))
    for line in warning_lines(last, source.columns):
        print(line, file=sys.stderr)
    with staged_writes():  # every output of the run, or none
        label_rows = rows if run_pass is None else None
        said = _write_streamed_outputs(args, source, cfg, label_rows, last, history, params)
    for line in said:  # once every file is in its place
        print(line)
    return 0


def _say_reading(args, source, rows: int, in_parts: bool) -> None:
    """On stderr: how the data is read (by chunks of `rows` here, or in the cluster's parts of `rows`)."""
    n, columns = source.n_samples, counted(source.n_features, "column")
    if not in_parts:
        print(
            f"{args.data}: {n:,} rows x {columns} ({', '.join(source.columns)}), "
            f"more than --memory-limit: read {rows:,} rows at a time, one pass per iteration",
            file=sys.stderr,
        )
    else:
        print(f"{args.data}: {n:,} rows x {columns} in parts of {rows:,} rows", file=sys.stderr)


def _say_survey(cfg: FitConfig, found, args=None) -> None:
    """On stderr, after the first pass: the missing values it found (--missing em; kept in args.missing_cells for
    the export and the labels) and the sample the start is drawn from."""
    if found.missing_cells:
        cells = found.n_samples * len(found.mean)
        print(
            f"missing values: {found.missing_cells:,} of {cells:,} ({found.missing_cells / cells:.1%}): fitted by "
            "exact EM on each point's observed coordinates",
            file=sys.stderr,
        )
        if args is not None:
            args.missing_cells = found.missing_cells
    if cfg.init == "params":
        return  # the start is the given parameters: the first pass's sample plays no part in it
    complete = " (its complete rows, when there are K (D + 1) of them)" if found.missing_cells else ""
    print(
        f"the start ({cfg.init}) is drawn from a uniform random sample of {len(found.sample):,} rows (seed {cfg.seed})"
        f"{complete}",
        file=sys.stderr,
    )


def _run_passes(args, source, cfg: FitConfig, rows: int, run_pass) -> tuple:
    """Run the fit by passes, a line per pass; (last snapshot, its history). Ctrl-C raises KeyboardInterrupt."""
    from engine.inference.streaming import fit_stream

    last = None
    history = History()
    cancel = CancelToken()
    with stop_at_pass_end(cancel):
        run_survey = getattr(run_pass, "survey", None)  # on a cluster the workers make the first pass too
        surveyed = functools.partial(_say_survey, cfg, args=args)
        missing = bool(getattr(args, "missing", None))
        run = fit_stream(
            source,
            cfg,
            rows,
            cancel,
            on_survey=surveyed,
            run_pass=run_pass,
            run_survey=run_survey,
            missing=missing,
            say=note,
        )
        try:
            for last in report_passes(run, args, source.n_samples):
                history.append(last)
        except Cancelled:
            raise KeyboardInterrupt from None  # stopped between two chunks: nothing is written
    if last.status == "cancelled":
        raise KeyboardInterrupt  # stopped between two passes: nothing is written
    return last, history


def _write_streamed_outputs(args, source, cfg: FitConfig, label_rows, last, history: History, params) -> list[str]:
    """Write a fit by chunks' outputs (inside staged_writes); the lines to print once they are all in place.
    label_rows: the chunk of the labels' pass (None on a cluster: sized for the components)."""
    from engine.runtime.limits import chunk_rows_for

    said = []
    if args.output:
        write_params(args.output, params)
        said.append(f"wrote parameters to {args.output}")
    if args.labels:  # one more pass: each chunk's labels written as it is read
        if label_rows is None:
            label_rows = chunk_rows_for(args.limit_bytes, source.n_features, cfg.n_components)
        missing = bool(getattr(args, "missing_cells", 0))  # each point's observed coordinates, and imputed values
        atomic_write(args.labels, label_csv(point_chunks(source, label_rows), params, missing))
        said.append(f"wrote labels and responsibilities to {args.labels}")
    if args.gallery:
        said += write_gallery_lines(args.gallery, last, cfg)
    if args.session:  # one more pass: the data's SHA-256, which a replay checks (in one pass too)
        rows, missing = chunk_rows_for(args.limit_bytes, source.n_features), bool(getattr(args, "missing_cells", 0))
        ref = session_mod.chunked_ref(source, args.data, rows, missing=missing)
        write_session(args.session, ref, cfg, last, history)
        said.append(session_line(args.session))
    return said
