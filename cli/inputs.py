"""What a command reads: the data (whole, or as a source read by chunks) and the fit's settings from its options."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from engine.config import FitConfig
from engine.errors import UserError, counted
from engine.inference.fitting import check_data
from engine.io import data as data_mod
from engine.io.export import PARAMS_FORMATS, read_params

from .parser import _columns
from .pins import parse_fixed


def load_data(args) -> data_mod.Dataset:
    """The fitted columns of args.data in memory (with --weights: without the weights' column, which
    args.weight_values, args.weights_index and args.weights_name then hold), checked."""
    if args.weights is not None:
        return _load_weighted(args)
    args.weight_values, args.weights_index, args.weights_name = None, None, None
    ds = data_mod.load(args.data, _columns(args.columns), missing=_missing(args))
    if args.columns is None:
        picked = ", ".join(f"{i} ({n!r})" for i, n in zip(ds.column_indices, ds.columns, strict=True))
        print(f"using columns {picked} of {args.data} (choose others with --columns)", file=sys.stderr)
    for note in ds.notes:
        print(f"{args.data}: {note}", file=sys.stderr)
    _check(args, ds)
    return ds


def _missing(args) -> bool:
    """Whether missing values are read as NaN (fit --missing em); select has no such option."""
    return getattr(args, "missing", None) is not None


def _check(args, ds: data_mod.Dataset) -> None:
    """The data checked (DataError in one line); with missing values, a line on stderr says how many."""
    if not (_missing(args) and np.isnan(ds.points).any()):
        check_data(ds.points, ds.columns)
        return
    from engine.inference.missing import check_missing

    check_missing(ds.points, getattr(args, "weight_values", None))
    holes = np.isnan(ds.points)
    patterns = len(np.unique(holes[holes.any(1)], axis=0))
    print(
        f"missing values: {int(holes.sum()):,} of {holes.size:,} ({holes.mean():.1%}) in "
        f"{counted(int(holes.any(1).sum()), 'row')}, {counted(patterns, 'pattern')}: fitted by exact EM on each "
        "point's observed coordinates",
        file=sys.stderr,
    )


def _load_weighted(args) -> data_mod.Dataset:
    """load_data with --weights: the weights read and checked first (a bad one is one line naming its row)."""
    from engine.io.weighted import load_weighted

    found = load_weighted(args.data, _columns(args.columns), args.weights, _missing(args))
    ds, weights, args.weights_index, args.weights_name = found
    args.weight_values = weights
    if args.columns is None:
        picked = ", ".join(f"{i} ({n!r})" for i, n in zip(ds.column_indices, ds.columns, strict=True))
        print(f"using columns {picked} of {args.data} (choose others with --columns)", file=sys.stderr)
    say_weights(args, len(weights), float(weights.sum()))
    _check(args, ds)
    return ds


def say_weights(args, n: int, total: float) -> None:
    """On stderr: which column weighs the points, and what they sum to (the n of BIC)."""
    print(
        f"weights: column {args.weights_index} ({args.weights_name!r}) of {args.data}, {n:,} rows summing to "
        f"{total:.10g} (the n of BIC)",
        file=sys.stderr,
    )


def fit_config(args) -> FitConfig:
    init, init_params = args.init, None
    if init is not None and (Path(init).suffix.lower() in PARAMS_FORMATS or Path(init).exists()):
        init_params, init = read_params(init).as_init(), None
    k = len(init_params.weights) if init_params is not None else None
    return FitConfig(
        n_components=args.components if args.components is not None else k or 3,  # -k's default: the start's K
        algorithm=args.algorithm,
        covariance_type=args.covariance,
        init=init,
        init_params=init_params,
        restarts=args.restarts,
        select_by=args.select_by,
        seed=args.seed,
        tol=args.tol,
        max_iter=args.max_iter,
        reg_covar=args.reg_covar,
        reg_covar_units=args.reg_covar_units,
        device=args.device,
        dtype=args.dtype,
        prior=getattr(args, "prior", None),  # screenshot's options have none
        fixed=parse_fixed(getattr(args, "fix", None), k),
    )


def gallery_config(args, cfg: FitConfig) -> FitConfig:
    """With --gallery every restart runs to its end (select by final); --select-by initial is refused."""
    if not args.gallery:
        return cfg
    if args.select_by == "initial":
        raise UserError(
            "--gallery shows every restart's final solution, so every restart must run: "
            "drop --select-by initial (the gallery still says what the forum's choice would be)"
        )
    return replace(cfg, select_by="final")


def say_sample(cfg: FitConfig, n: int) -> None:
    """On stderr, for data in memory above stream.SAMPLE_SIZE rows: the start is drawn from the seed's sample (the
    rows a fit by chunks or on a cluster draws it from; a fit by chunks says so too)."""
    from engine.io import stream

    if cfg.init in ("params", "forum") or n <= stream.SAMPLE_SIZE:
        return  # the start uses no rows, or all of them
    print(
        f"the start ({cfg.init}) is drawn from a uniform random sample of {stream.SAMPLE_SIZE:,} of the {n:,} rows "
        f"(seed {cfg.seed}): the rows a fit by chunks or on a Dask cluster draws it from",
        file=sys.stderr,
    )


def stream_source(args):
    """The data as a chunked source when it must be read by chunks (stream.chunked_source); None to load it
    whole. The limit is kept in args.limit_bytes."""
    from engine.io.stream import chunked_source
    from engine.runtime.limits import default_memory_limit, parse_size

    limit = parse_size(args.memory_limit) if args.memory_limit is not None else default_memory_limit()
    args.limit_bytes = limit
    missing, columns = _missing(args), _columns(args.columns)
    probe = columns if args.weights is None or columns is None else [c for c in columns if c != args.weights]
    # (the weights' column named in --columns too is open_weighted's one line, not the probe's 'chosen twice')
    source = chunked_source(args.data, probe or None, limit, cluster=bool(args.dask), missing=missing)
    if source is None or args.weights is None:
        return source
    from engine.io.weighted import open_weighted

    source = open_weighted(args.data, _columns(args.columns), args.weights, missing)
    args.weights_index, args.weights_name = source.weight_index, source.weight_column
    return source
