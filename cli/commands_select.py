"""select: a grid of fits (components x covariance models) ranked by BIC, ICL or AIC, of data in memory, read by
chunks or on a Dask cluster."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from pathlib import Path

import numpy as np

from engine.config import FitConfig
from engine.errors import UserError
from engine.io.outputs import atomic_write, check_outputs
from engine.model.covariances import COVARIANCE_TYPES
from engine.model.prior import PRIOR_MODELS
from engine.runtime.limits import check_selection
from engine.selection.criteria import SIGN_CONVENTION
from engine.selection.select import run_selection

from .commands_stream import cluster_passes
from .inputs import load_data, stream_source
from .parser import _k_range, covariance_list
from .pins import NOT_IN_SELECT
from .progress import note


def cmd_select(args) -> int:
    check_outputs([args.output], [args.data])
    if args.output and Path(args.output).suffix.lower() != ".json":
        raise UserError(f"{args.output}: select writes JSON: name the file *.json")
    if args.fix:
        raise UserError(NOT_IN_SELECT)
    asked = [f for f, on in (("--bootstrap", args.bootstrap), ("--bootstrap-type", args.bootstrap_type),
                             ("--information", args.information)) if on]  # fmt: skip
    if asked:
        raise UserError(
            f"select does not take {asked[0]}: standard errors are a fit's; fit the model select chose, "
            f"fit DATA -k K --covariance MODEL {'--information' if asked[0] == '--information' else '--bootstrap 200'}"
        )
    ks = _k_range(args.components)
    types = prior_types(args, covariance_list(args.covariance))
    base = FitConfig(
        restarts=args.restarts,
        seed=args.seed,
        reg_covar=args.reg_covar,
        reg_covar_units=args.reg_covar_units,
        max_iter=args.max_iter,
        tol=args.tol,
        prior=args.prior,
        init=args.init,
    )
    base.resolved()  # the settings are checked as fit checks them, before any work
    source = stream_source(args)
    weights = None
    with contextlib.ExitStack() as closing:  # a cluster's client, the kept chunks' file: closed however it ends
        if source is not None or args.dask:
            data = streamed_grid(args, source, base, len(ks) * len(types), closing)
            columns, sha = source.columns, ""
        else:
            ds = load_data(args)
            data, columns, sha, weights = ds.points, ds.columns, ds.sha256, args.weight_values
            check_selection(*ds.points.shape, max(ks), args.restarts, str(args.data), "-k")
        return select_and_report(args, data, ks, types, base, columns, sha, weights)


def prior_types(args, types: list[str]) -> list[str]:
    """With --prior: the models mclust fits a prior for. `--covariance all` leaves the others out (said on stderr);
    a list that names one of them is refused."""
    if args.prior is None:
        return types
    without = [t for t in types if COVARIANCE_TYPES[t].model not in PRIOR_MODELS]
    if not without:
        return types
    names = ", ".join(COVARIANCE_TYPES[t].model for t in without)
    if args.covariance.strip().lower() != "all":
        raise UserError(f"--prior: mclust fits no prior for {names}: leave them out of --covariance")
    print(f"--prior: {names} left out (mclust fits no prior for them)", file=sys.stderr)
    return [t for t in types if t not in without]


def streamed_grid(args, source, base: FitConfig, cells: int, closing: contextlib.ExitStack):
    """Data read by chunks for a selection (grid.Streamed), on this machine or a Dask cluster; what it opens (the
    cluster's client; read here, the file that keeps the chunks of data with missing values or of a text file:
    spill.SpilledPasses, as a fit's) is closed by `closing`, also when the first pass fails."""
    from engine.inference import streaming
    from engine.inference.grid import Streamed
    from engine.inference.spill import SpilledPasses, spills
    from engine.io import stream
    from engine.runtime.limits import chunk_rows_for

    rows = chunk_rows_for(args.limit_bytes, source.n_features, cells * base.restarts)
    run_pass = functools.partial(streaming.local_pass, source, rows)
    if args.dask:
        from engine.scale import cluster

        client = cluster.connect(args.dask, note)
        closing.callback(cluster.close, client)
        run_pass, rows = cluster_passes(args, client, source, rows)
        found = run_pass.survey(stream.SAMPLE_SIZE, base.seed)
    else:
        if spills(source, bool(args.missing)):  # SpilledPasses reads afresh where nothing is kept
            run_pass = closing.enter_context(contextlib.closing(SpilledPasses(source, rows, say=note)))
        found = stream.survey(source, rows, stream.SAMPLE_SIZE, base.seed, missing=bool(args.missing))
    print(
        f"{args.data}: {found.n_samples:,} rows read by chunks of {rows:,}, one pass per iteration for the whole "
        f"grid; k-means++ starts from a uniform random sample of {len(found.sample):,} rows",
        file=sys.stderr,
    )
    return Streamed(source, found, run_pass)


def _n_effective(data, weights) -> float:
    """sum w (the n of BIC): of the weights in memory, of a weighted source's survey, else the number of points."""
    if weights is not None:
        return float(weights.sum())
    return float(data.n_counted) if hasattr(data, "n_counted") else float(data.shape[0])


HEADER = f"{'k':>3} {'model':<5} {'covariance':<10} {'log-lik':>14} {'BIC':>12} {'ICL':>12} {'AIC':>12}  note"


def table_row(e) -> str:
    """One fit's line of the printed table (a failed fit: dashes for its figures)."""
    note = ("spurious: " + e.reason) if e.spurious else ("" if e.converged else "not converged")
    head = f"{e.k:>3} {e.model:<5} {e.covariance_type:<10}"
    if e.log_likelihood is None:
        return f"{head} {'-':>14} {'-':>12} {'-':>12} {'-':>12}  {note}"
    return f"{head} {e.log_likelihood:>14.4f} {e.bic:>12.3f} {e.icl:>12.3f} {e.aic:>12.3f}  {note}"


def select_and_report(args, data, ks, types, base, columns, sha, weights=None) -> int:
    """Run the grid (the points weighted by weights (N,) in memory; a weighted Streamed source says so itself),
    print its table row by row (unless --quiet) and the best by --criterion; write the JSON."""
    criterion = args.criterion
    if not args.quiet:
        print(HEADER)
    show = None if args.quiet else (lambda e: print(table_row(e), flush=True))
    missing = getattr(args, "missing", None)
    entries, best = run_selection(data, ks, types, base, show, criterion, weights, missing)
    if best is None:
        print("no fit qualifies as best: every fit is spurious (try a larger reg_covar or fewer components)")
    else:
        name = best.model + (f" ({best.covariance_type})" if best.covariance_type != best.model else "")
        print(f"best by {criterion.upper()}: k={best.k} {name}, {criterion.upper()} {getattr(best, criterion):.3f}")
    if args.output:
        doc = {
            "criterion": criterion,
            "sign": SIGN_CONVENTION,
            "fits": [e.as_dict() for e in entries],
            "best": None if best is None else best.as_dict(),
            "n_samples": int(data.shape[0]),
            "n_effective": _n_effective(data, weights),
            "weights_column": getattr(args, "weights_name", None),
            "columns": list(columns),
            "data_sha256": sha,
        }
        if missing:  # as fit's export says it: how the grid took the data's missing values, and how many
            cells = data.survey.missing_cells if hasattr(data, "survey") else int(np.isnan(data).sum())
            doc.update(missing=missing, missing_values=int(cells))
        atomic_write(args.output, (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode())
        print(f"wrote {args.output}")
    return 0
