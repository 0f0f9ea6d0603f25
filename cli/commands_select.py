"""select: a grid of fits (components x covariance types) ranked by BIC, of data in memory, read by chunks or on a
Dask cluster."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from engine.config import COVARIANCE_TYPES, FitConfig
from engine.errors import UserError
from engine.io.outputs import atomic_write, check_outputs
from engine.runtime.limits import check_selection
from engine.selection.select import run_selection

from .commands_stream import cluster_passes
from .inputs import load_data, stream_source
from .parser import _k_range
from .progress import note


def cmd_select(args) -> int:
    check_outputs([args.output], [args.data])
    if args.output and Path(args.output).suffix.lower() != ".json":
        raise UserError(f"{args.output}: select writes JSON: name the file *.json")
    ks = _k_range(args.components)
    types = [t.strip() for t in args.covariance.split(",")]
    for t in types:
        if t not in COVARIANCE_TYPES:
            raise UserError(f"unknown covariance type {t!r}: choose from {', '.join(COVARIANCE_TYPES)}")
    base = FitConfig(
        restarts=args.restarts,
        seed=args.seed,
        reg_covar=args.reg_covar,
        reg_covar_units=args.reg_covar_units,
        max_iter=args.max_iter,
        tol=args.tol,
    )
    base.resolved()  # the settings are checked as fit checks them, before any work
    source = stream_source(args)
    client = None
    if source is not None or args.dask:
        data, client = streamed_grid(args, source, base, len(ks) * len(types))
        columns, sha = source.columns, ""
    else:
        ds = load_data(args)
        data, columns, sha = ds.points, ds.columns, ds.sha256
        check_selection(*ds.points.shape, max(ks), args.restarts, str(args.data), "-k")
    try:
        return select_and_report(args, data, ks, types, base, columns, sha)
    finally:
        if client is not None:
            from engine.scale import cluster

            cluster.close(client)


def streamed_grid(args, source, base: FitConfig, cells: int):
    """Data read by chunks for a selection (grid.Streamed), on this machine or a Dask cluster; and the client."""
    from engine.inference import streaming
    from engine.inference.grid import Streamed
    from engine.io import stream
    from engine.runtime.limits import chunk_rows_for

    rows = chunk_rows_for(args.limit_bytes, source.n_features, cells * base.restarts)
    client, run_pass = None, functools.partial(streaming.local_pass, source, rows)
    if args.dask:
        from engine.scale import cluster

        client = cluster.connect(args.dask, note)
        run_pass, rows = cluster_passes(args, client, source, rows)
        found = run_pass.survey(stream.SAMPLE_SIZE, base.seed)
    else:
        found = stream.survey(source, rows, stream.SAMPLE_SIZE, base.seed)
    print(
        f"{args.data}: {found.n_samples:,} rows read by chunks of {rows:,}, one pass per iteration for the whole "
        f"grid; k-means++ starts from a uniform random sample of {len(found.sample):,} rows",
        file=sys.stderr,
    )
    return Streamed(source, found, run_pass), client


def select_and_report(args, data, ks, types, base, columns, sha) -> int:
    if not args.quiet:
        print(f"{'k':>3} {'covariance':<10} {'log-lik':>14} {'BIC':>12} {'AIC':>12}  note")

    def show(e) -> None:
        if args.quiet:
            return
        note = ("spurious: " + e.reason) if e.spurious else ("" if e.converged else "not converged")
        if e.log_likelihood is None:
            print(f"{e.k:>3} {e.covariance_type:<10} {'-':>14} {'-':>12} {'-':>12}  {note}", flush=True)
            return
        print(
            f"{e.k:>3} {e.covariance_type:<10} {e.log_likelihood:>14.4f} {e.bic:>12.3f} {e.aic:>12.3f}  {note}",
            flush=True,
        )

    entries, best = run_selection(data, ks, types, base, show)
    if best is None:
        print("no fit qualifies as best: every fit is spurious (try a larger reg_covar or fewer components)")
    else:
        print(f"best by BIC: k={best.k} {best.covariance_type} (BIC {best.bic:.3f})")
    if args.output:
        doc = {
            "fits": [e.as_dict() for e in entries],
            "best": None if best is None else best.as_dict(),
            "n_samples": int(data.shape[0]),
            "columns": list(columns),
            "data_sha256": sha,
        }
        atomic_write(args.output, (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode())
        print(f"wrote {args.output}")
    return 0
