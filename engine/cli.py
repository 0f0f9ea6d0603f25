"""The command line: generate, fit, select. Exit 0 on success, 2 for a user's mistake (one line on
stderr, no traceback), 1 for an internal error."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from . import data as data_mod
from . import session as session_mod
from .config import ALGORITHMS, COVARIANCE_TYPES, FitConfig
from .errors import Cancelled, UserError
from .export import (
    PARAMS_FORMATS,
    label_csv,
    params_from_snapshot,
    read_params,
    versions,
    write_labels,
    write_params,
)
from .fitting import check_data, fit
from .gallery import GALLERY_FORMATS, build_gallery, write_gallery
from .history import History
from .limits import (
    available_memory,
    check_fit_memory,
    check_generate_memory,
    check_seed,
    check_selection,
    fit_bytes,
    human,
    restarts_that_fit,
)
from .outputs import atomic_write, check_outputs, staged_writes
from .select import run_selection
from .session import read_session, replay_differences, write_session
from .snapshot import CancelToken

USAGE = """GMM Studio: fit Gaussian mixture models and watch the fit happen.

  python3 main.py                             open the window on the demo data
  python3 main.py test [pytest args]          run the test suite
  python3 main.py generate --preset forum --n 1000 --seed 0 -o data.csv   (.csv, .tsv, .npy, .npz or .parquet)
  python3 main.py fit DATA -k 3 [--algorithm em|gradient-em|marginal] [-o params.json]
  python3 main.py select DATA -k 1-9 [-o selection.json]
  python3 main.py fit DATA --restarts 100 --gallery gallery.csv --session fit.gmmsession
  python3 main.py replay fit.gmmsession        re-run a saved session and compare

  python3 main.py screenshot OUT.png [--data FILE] [--columns 1,2] [-k 3] [--fit]
  python3 main.py install-launcher [--uninstall]

Run any subcommand with --help for all options.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors are user mistakes too: exit 2, one line
        raise UserError(f"{self.prog}: {message}")


def _columns(text: str | None) -> list[str] | None:
    """--columns: items separated by commas, each a 0-based index, a header name, a range 'a-b' or 'all'."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise UserError(
            f"--columns takes columns separated by commas (0-based indices, header names, ranges such as 1-4, or "
            f"all), got {text!r}: an item is empty"
        )
    return parts


MAX_GRID = 1000  # fits in one selection grid


MAX_GRID = 1000  # fits in one selection grid


def _k_range(text: str) -> list[int]:
    try:
        if "-" in text:
            lo, hi = (int(v) for v in text.split("-", 1))
            ks = range(lo, hi + 1)
        else:
            ks = [int(v) for v in text.split(",")]
    except ValueError:
        raise UserError(f"-k takes a number, a range like 1-9 or a list like 2,3,5; got {text!r}") from None
    if len(ks) > MAX_GRID:  # a range object: its length costs nothing, a list of 1e12 values would not fit
        raise UserError(
            f"-k {text} asks for {len(ks):,} values of K; a selection grid takes at most {MAX_GRID}: narrow the range"
        )
    if not ks or min(ks) < 1:
        raise UserError(f"-k must name component counts >= 1, got {text!r}")
    return list(ks)


# Commands that main.py runs itself (they need Qt or pytest); listed here so that --help shows every command.
OTHER_COMMANDS = {
    "test": "run the test suite headless (extra arguments go to pytest)",
    "screenshot": "save a picture of the window: screenshot OUT.png [--data FILE] [-k K] [--fit]",
    "install-launcher": "add GMM Studio to the desktop's menu (--uninstall removes it)",
}


def program_name() -> str:
    """How the user started us, for usage lines: `main.py`, or `gmm-studio` when installed."""
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "main.py"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=program_name(),
        description="GMM Studio. With no command: open the window on the demo data.",
        epilog="Run any command with --help for its options.",
        formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=30, width=110),
    )
    sub = p.add_subparsers(
        dest="command", parser_class=_Parser, metavar="COMMAND", title="commands (none: open the window)"
    )

    g = sub.add_parser("generate", help="sample data from a mixture")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", choices=["forum"], help="a named mixture: forum (the forum recipe's three clusters)")
    src.add_argument("--params", help="parameters JSON (as `fit -o` writes)")
    g.add_argument("--n", type=int, default=1000, help="number of points (default 1000)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0): the same seed, the same points")
    g.add_argument(
        "-o",
        "--output",
        required=True,
        help="file to write, in the format its extension names: " + ", ".join(data_mod.TABLE_FORMATS),
    )

    f = sub.add_parser("fit", help="fit a mixture to data")
    _data_args(f)
    f.add_argument("-k", "--components", type=int, default=3, help="number of components K (default 3)")
    f.add_argument("--covariance", choices=COVARIANCE_TYPES, default="full", help="covariance type (default full)")
    f.add_argument(
        "--algorithm", choices=ALGORITHMS, default="em", help="em (exact EM, default) or another registered procedure"
    )
    f.add_argument(
        "--init",
        default=None,
        help="the start: kmeans++ (default), kmeans, random-data, forum, or a parameters file (.json/.csv/.npz)",
    )
    f.add_argument("--restarts", type=int, default=1, help="restarts run as one batch, seeds SEED.. (default 1)")
    f.add_argument(
        "--select-by",
        choices=["final", "initial"],
        default=None,
        help="final: the restart with the best final log-likelihood (default); initial: the forum's way, the "
        "lowest initial loss, trained alone",
    )
    f.add_argument("--seed", type=int, default=0, help="random seed of the start (default 0)")
    f.add_argument(
        "--tol",
        type=float,
        default=None,
        help="stop when the mean log-likelihood per point changes by less (default: the algorithm's, 1e-6 for em)",
    )
    f.add_argument("--max-iter", type=int, default=None, help="the most iterations (default: the algorithm's)")
    f.add_argument(
        "--reg-covar",
        type=float,
        default=1e-6,
        help="added to each covariance's diagonal, in the data's units, as scikit-learn's reg_covar (default 1e-6)",
    )
    f.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    f.add_argument(
        "--dtype", choices=["float64", "float32"], default="float64", help="working precision (default float64)"
    )
    f.add_argument("-o", "--output", help="parameters file to write (.json, .csv or .npz)")
    f.add_argument("--labels", help="CSV of per-point labels and responsibilities")
    f.add_argument("--session", help="write a session file (.gmmsession) that `replay` reproduces")
    f.add_argument(
        "--gallery",
        help="the restarts table (.csv or .json): one row per restart with the solution "
        "it reached; restarts all run to the end (select-by final)",
    )
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    _scale_args(f)

    r = sub.add_parser("replay", help="re-run a saved session's fit and say whether it reproduced")
    r.add_argument("session", help="a .gmmsession file")
    r.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("select", help="model selection over K and covariance types (BIC, AIC)")
    _data_args(s)
    s.add_argument(
        "-k", "--components", default="1-9", help="the K to try: a range or a list, 1-9 or 2,3,5 (default 1-9)"
    )
    s.add_argument(
        "--covariance",
        default=",".join(COVARIANCE_TYPES),
        help=f"the covariance types to try, comma-separated (default {','.join(COVARIANCE_TYPES)})",
    )
    s.add_argument("--restarts", type=int, default=5, help="restarts of each fit, best kept (default 5)")
    s.add_argument("--seed", type=int, default=0, help="random seed of the starts (default 0)")
    s.add_argument(
        "--reg-covar",
        type=float,
        default=1e-6,
        help="added to each covariance's diagonal, in the data's units, as scikit-learn's reg_covar (default 1e-6)",
    )
    s.add_argument("--max-iter", type=int, default=None, help="the most iterations of each fit (default em's)")
    s.add_argument(
        "--tol",
        type=float,
        default=None,
        help="stop each fit when its mean log-likelihood per point changes by less (default 1e-6)",
    )
    s.add_argument("-o", "--output", help="selection JSON to write")
    s.add_argument("--quiet", action="store_true", help="no table row by row: only the best fit (and what is written)")
    _scale_args(s)
    for name, text in OTHER_COMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)
    return p


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "data",
        help="the data: a CSV/TSV/text, .npy, .npz or Parquet file, a folder of .npy/Parquet files, or a glob of them "
        "('parts/*.parquet')",
    )
    p.add_argument(
        "--columns",
        help="the columns to fit: 0-based indices, header names or ranges, e.g. 1,2 or 0,2,5 or 1-4 or all "
        "(default: every numeric column but a leading row index)",
    )


def _scale_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dask",
        metavar="CLUSTER",
        help="fit on a Dask cluster: local or local:WORKERS (processes on this machine) or a scheduler's address "
        "tcp://HOST:PORT; the workers read the .npy/Parquet/CSV data from its path (shared storage)",
    )
    p.add_argument(
        "--memory-limit",
        help="the most data held in memory, e.g. 256M or 2G (default: a quarter of this machine's memory); a larger "
        ".npy, Parquet or CSV file, a folder or a glob of .npy/Parquet files, is read by chunks of at most this size, "
        "once per iteration",
    )


def _load(args) -> data_mod.Dataset:
    ds = data_mod.load(args.data, _columns(args.columns))
    if args.columns is None:
        picked = ", ".join(f"{i} ({n!r})" for i, n in zip(ds.column_indices, ds.columns, strict=True))
        print(f"using columns {picked} of {args.data} (choose others with --columns)", file=sys.stderr)
    for note in ds.notes:
        print(f"{args.data}: {note}", file=sys.stderr)
    check_data(ds.points, ds.columns)
    return ds


def cmd_generate(args) -> int:
    suffix = Path(args.output).suffix.lower()
    check_outputs([args.output], [args.params] if args.params else [])
    if suffix not in data_mod.TABLE_FORMATS:
        raise UserError(
            f"{args.output}: unknown data format {suffix or '(no extension)'!r}: name the file "
            f"{' or '.join(data_mod.TABLE_FORMATS)}"
        )
    check_seed(args.seed, "--seed")
    if args.n < 1:
        raise UserError(f"--n must be a whole number >= 1, got {args.n}")
    if args.preset:
        spec = data_mod.FORUM_PRESET
        w, m, c = spec["weights"], spec["means"], spec["covariances"]
    else:
        p = read_params(args.params)
        w, m, c = p.weights, p.means, p.covariances
    check_generate_memory(args.n, len(m[0]))
    points, labels = data_mod.sample_mixture(w, m, c, args.n, args.seed)
    atomic_write(args.output, data_mod.table_bytes(points, labels, suffix))
    print(f"wrote {args.n} points to {args.output}")
    return 0


def _fit_config(args) -> FitConfig:
    init, init_params = args.init, None
    if init is not None and (Path(init).suffix.lower() in PARAMS_FORMATS or Path(init).exists()):
        init_params, init = read_params(init).as_init(), None
    return FitConfig(
        n_components=args.components,
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
        device=args.device,
        dtype=args.dtype,
    )


LOG_EVERY_S = 5.0  # stderr not a terminal (a log, a pipe, CI): a progress line this often, none for a shorter fit


class _Progress:
    """Progress on stderr: on a terminal a one-line bar, drawn at most 10 times a second; elsewhere (a log file, a
    pipe) a plain line every LOG_EVERY_S, with the time that the rest of max_iter would take at the pace so far (a
    long fit must not look hung: 100,000 restarts once ran two minutes with nothing said)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.last = max(total, 1), 0.0
        self.enabled = enabled and sys.stderr.isatty()  # the bar
        self.lines = enabled and not self.enabled
        self.logged = 0  # LOG_EVERY_S intervals already reported by a line

    def update(self, snap) -> None:
        now = time.perf_counter()
        if self.lines and snap.elapsed >= LOG_EVERY_S * (self.logged + 1):
            self.logged = int(snap.elapsed // LOG_EVERY_S)
            left = snap.elapsed / max(snap.iteration, 1) * (self.total - snap.iteration)
            print(
                f"iteration {snap.iteration}/{self.total}: mean log-lik {snap.mean_log_likelihood:.6f}, "
                f"{snap.elapsed:.0f} s so far; at most {left:.0f} s more (max-iter {self.total}) at this pace",
                file=sys.stderr,
                flush=True,
            )
            return
        if not self.enabled or now - self.last < 0.1:
            return
        self.last = now
        frac = min(snap.iteration / self.total, 1.0)
        bar = "#" * int(30 * frac)
        sys.stderr.write(
            f"\r[{bar:<30}] iter {snap.iteration}/{self.total}  "
            f"mean log-lik {snap.mean_log_likelihood:.6f}  {snap.elapsed:.1f}s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.last:
            sys.stderr.write("\n")


def cmd_fit(args) -> int:
    outputs = [args.output, args.labels, args.session, args.gallery]
    check_outputs(outputs, [args.data] + ([args.init] if args.init and Path(args.init).exists() else []))
    _check_suffixes(args)
    source = _stream_source(args)
    if args.dask:
        return _fit_on_cluster(args, source)
    if source is not None:
        return _fit_streamed(args, source)
    ds = _load(args)
    cfg = _gallery_config(args, _fit_config(args)).resolved()
    per_batch = _restarts_per_batch(args, ds.points.shape, cfg)
    last, history = _run(ds.points, cfg, not args.quiet, per_batch)
    params = params_from_snapshot(last, ds.columns, ds.sha256)
    print(_fit_line(cfg, last, params, per_batch))
    for w in last.warnings:
        print(f"warning: {w}", file=sys.stderr)
    with staged_writes():  # every output of the run, or none
        _write_fit_outputs(args, ds, cfg, last, history, params)
    return 0


def _gallery_config(args, cfg: FitConfig) -> FitConfig:
    """With --gallery every restart runs to its end (select by final); --select-by initial is refused."""
    if not args.gallery:
        return cfg
    if args.select_by == "initial":
        raise UserError(
            "--gallery shows every restart's final solution, so every restart must run: "
            "drop --select-by initial (the gallery still says what the forum's choice would be)"
        )
    return replace(cfg, select_by="final")


def _stream_source(args):
    """The data as a chunked source when it must be read by chunks (stream.chunked_source); None to load it
    whole. The limit is kept in args.limit_bytes."""
    from .limits import default_memory_limit, parse_size
    from .stream import chunked_source

    limit = parse_size(args.memory_limit) if args.memory_limit is not None else default_memory_limit()
    args.limit_bytes = limit
    return chunked_source(args.data, _columns(args.columns), limit, cluster=bool(args.dask))


def _fit_on_cluster(args, source) -> int:
    """fit on a Dask cluster: the partitions in the workers' memory, a pass per iteration mapped over them."""
    from . import cluster
    from .limits import chunk_rows_for

    client = cluster.connect(args.dask)
    try:
        cfg = _fit_config(args).resolved()
        rows = chunk_rows_for(args.limit_bytes, source.n_features, cfg.restarts)
        passes, rows = _cluster_passes(args, client, source, rows)
        return _fit_streamed(args, source, passes, rows)
    finally:
        cluster.close(client)


def _cluster_passes(args, client, source, rows: int):
    """The data's parts in the workers' memory (cluster.ClusterPasses) and their rows (cluster.part_rows); the
    cluster and its dashboard are named on stderr."""
    from . import cluster

    workers = max(len(client.scheduler_info().get("workers", {})), 1)
    print(f"Dask: {args.dask}, {workers} worker(s), dashboard {client.dashboard_link}", file=sys.stderr)
    rows = cluster.part_rows(client, source.n_samples, rows)
    return cluster.ClusterPasses(client, source, rows), rows


def _fit_streamed(args, source, run_pass=None, rows: int | None = None) -> int:
    """fit, reading the data by chunks of at most --memory-limit (or on a cluster, run_pass): a pass per
    iteration, a line per pass."""
    from .limits import chunk_rows_for
    from .streaming import fit_stream

    cfg = _gallery_config(args, _fit_config(args)).resolved()
    n = source.n_samples
    if run_pass is None:
        rows = chunk_rows_for(args.limit_bytes, source.n_features, cfg.restarts)
        print(
            f"{args.data}: {n:,} rows x {source.n_features} columns ({', '.join(source.columns)}), more than "
            f"--memory-limit: read {rows:,} rows at a time, one pass per iteration",
            file=sys.stderr,
        )
    else:
        print(f"{args.data}: {n:,} rows x {source.n_features} columns in parts of {rows:,} rows", file=sys.stderr)

    def surveyed(found) -> None:
        if cfg.init == "params":
            return  # the start is the given parameters: the first pass's sample plays no part in it
        print(
            f"the start ({cfg.init}) is drawn from a uniform random sample of {len(found.sample):,} rows "
            f"(seed {cfg.seed})",
            file=sys.stderr,
        )

    last = None
    history = History()
    cancel = CancelToken()
    with _stop_at_pass_end(cancel):
        run_survey = getattr(run_pass, "survey", None)  # on a cluster the workers make the first pass too
        run = fit_stream(source, cfg, rows, cancel, on_survey=surveyed, run_pass=run_pass, run_survey=run_survey)
        try:
            for last in _report_passes(run, args, n):
                history.append(last)
        except Cancelled:
            raise KeyboardInterrupt from None  # stopped between two chunks: nothing is written
    if last.status == "cancelled":
        raise KeyboardInterrupt  # stopped between two passes: nothing is written
    params = params_from_snapshot(last, source.columns)
    print(_fit_line(cfg, last, params))
    for w in last.warnings:
        print(f"warning: {w}", file=sys.stderr)
    with staged_writes():  # every output of the run, or none
        if args.output:
            write_params(args.output, params)
        if args.labels:  # one more pass: each chunk's labels written as it is read
            chunk_rows = (
                rows if run_pass is None else chunk_rows_for(args.limit_bytes, source.n_features, cfg.n_components)
            )
            atomic_write(args.labels, label_csv(source.chunks(chunk_rows), params))
        if args.gallery:
            _write_gallery(args.gallery, last, cfg)
        if args.session:  # one more pass: the data's SHA-256, which a replay checks (in one pass too)
            ref = session_mod.chunked_ref(source, args.data, chunk_rows_for(args.limit_bytes, source.n_features))
            write_session(args.session, ref, cfg, last, history)
            print(f"wrote the session to {args.session} (reproduce it with: python3 main.py replay {args.session})")
    if args.output:
        print(f"wrote parameters to {args.output}")
    if args.labels:
        print(f"wrote labels and responsibilities to {args.labels}")
    return 0


def _report_passes(snapshots, args, n: int):
    """The snapshots, a line on stderr for each pass (unless --quiet)."""
    previous = 0.0
    for last in snapshots:
        seconds = last.elapsed - previous
        previous = last.elapsed
        if not args.quiet:  # the first pass also surveyed the data and made the start: its speed says nothing
            speed = f", {n / seconds:,.0f} points/s" if last.iteration and seconds > 0 else " (after the survey)"
            print(f"pass {last.iteration + 1}: mean log-lik {last.mean_log_likelihood:.6f}{speed}", file=sys.stderr)
        yield last


@contextlib.contextmanager
def _stop_at_pass_end(cancel: CancelToken):
    """The first Ctrl-C asks the fit to stop after the chunk it is reading (a pass can take minutes; the chunk's
    sums are not left half-added); the second interrupts at once. Nothing is written either way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum, frame) -> None:
        cancel.cancel()
        print("\nstopping after this chunk (Ctrl-C again to stop now)…", file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_suffixes(args) -> None:
    """Refuse an output whose format is unknown before the fit runs, not after."""
    known = {"output": PARAMS_FORMATS, "labels": (".csv",), "session": (".gmmsession",), "gallery": GALLERY_FORMATS}
    for name, suffixes in known.items():
        path = getattr(args, name)
        if path and Path(path).suffix.lower() not in suffixes:
            raise UserError(f"{path}: --{name} writes {' or '.join(suffixes)}: name the file so")


def _write_fit_outputs(args, ds, cfg: FitConfig, last, history: History, params) -> None:
    if args.output:
        write_params(args.output, params)
        print(f"wrote parameters to {args.output}")
    if args.labels:
        write_labels(args.labels, ds.points, params)
        print(f"wrote labels and responsibilities to {args.labels}")
    if args.session:
        write_session(args.session, session_mod.file_ref(ds), cfg, last, history)
        print(f"wrote the session to {args.session} (reproduce it with: python3 main.py replay {args.session})")
    if args.gallery:
        _write_gallery(args.gallery, last, cfg)


def _write_gallery(path: str, last, cfg: FitConfig) -> None:
    """Every restart's answer, grouped into solutions (built from the fit's last snapshot: no data needed)."""
    gallery = build_gallery(last)
    write_gallery(path, gallery)
    print(gallery.summary)
    if gallery.forum_choice:
        print(gallery.forum_choice)
    print(f"wrote the gallery of {cfg.restarts} restarts to {path}")


def _restarts_per_batch(args, shape: tuple[int, int], cfg: FitConfig) -> int:
    """The restarts run at once so that their working arrays stay within --memory-limit and the memory available
    (all of them when they fit; refused when not even one does); said on stderr when they are split."""
    n, d = shape
    limit = min(args.limit_bytes, available_memory())
    per_batch = restarts_that_fit(n, d, cfg.n_components, cfg.restarts, limit)
    check_fit_memory(n, d, cfg.n_components, max(per_batch, 1))
    if per_batch >= cfg.restarts or cfg.select_by == "initial":
        check_fit_memory(n, d, cfg.n_components, cfg.restarts)  # select-by initial runs every start at once
        return cfg.restarts
    batches = -(-cfg.restarts // per_batch)
    if not args.quiet:
        print(
            f"{cfg.restarts:,} restarts need about {human(fit_bytes(n, d, cfg.n_components, cfg.restarts))} of memory, "
            f"more than {human(limit)} (--memory-limit or the memory available): {batches:,} batches of at most "
            f"{per_batch:,} restarts, one after the other (the same restarts and answer)",
            file=sys.stderr,
        )
    return per_batch


def _run(points, cfg: FitConfig, show_progress: bool, per_batch: int | None = None):
    """Run the fit with a progress bar, its restarts per_batch at a time (None: all at once); (last snapshot, its
    bounded history). With batches, the expected time is said once the first batch has run."""
    progress = _Progress(cfg.max_iter, show_progress)
    history = History()
    last = None
    batched = per_batch is not None and per_batch < cfg.restarts
    # the limit that makes fit run per_batch restarts at a time (the largest count within it)
    limit = fit_bytes(len(points), points.shape[1], cfg.n_components, per_batch) if batched else None
    told = not (batched and show_progress)
    try:
        for last in fit(points, cfg, memory_limit=limit):
            history.append(last)
            progress.update(last)
            if not told and (last.restarts.n_iter[per_batch:] >= 0).any():  # the second batch has begun
                told = True
                _say_expected_time(last.elapsed, per_batch, cfg.restarts)
    finally:
        progress.close()
    return last, history


def _say_expected_time(first_batch_s: float, per_batch: int, restarts: int) -> None:
    batches = -(-restarts // per_batch)
    print(
        f"batch 1 of {batches:,} ({per_batch:,} restarts) took {first_batch_s:.1f} s: about "
        f"{first_batch_s * batches:.0f} s for all {restarts:,} restarts",
        file=sys.stderr,
        flush=True,
    )


def _fit_line(cfg: FitConfig, last, params, per_batch: int | None = None) -> str:
    m = params.meta
    own = last.restart_iterations
    status = "converged" if last.status != "cancelled" and last.restart_converged else last.status
    batch = f" (the batch of {cfg.restarts} restarts ran {last.iteration})" if own != last.iteration else ""
    if per_batch is not None and per_batch < cfg.restarts:
        batches = -(-cfg.restarts // per_batch)
        batch = f" ({batches:,} batches of at most {per_batch:,} restarts ran {last.iteration} in all)"
    return (
        f"{cfg.algorithm} k={cfg.n_components} {cfg.covariance_type}: {status} after {own} "
        f"iteration{'' if own == 1 else 's'}{batch} in {last.elapsed:.2f}s; log-likelihood {m['log_likelihood']:.6f} "
        f"(mean {m['mean_log_likelihood']:.6f}), BIC {m['bic']:.3f}, AIC {m['aic']:.3f}"
        f"{'; restart ' + str(last.restart) + ' of ' + str(cfg.restarts) if cfg.restarts > 1 else ''}"
    )


def cmd_replay(args) -> int:
    """Re-run a saved session's fit on its data and compare with the saved numbers."""
    session = read_session(args.session)
    cfg = session.config.resolved()
    if session.data.chunked:
        last = _replay_streamed(session.data, cfg, args)
    else:
        last, _ = _run(session.data.load(), cfg, not args.quiet)
    params = params_from_snapshot(last, tuple(map(str, session.data.columns)), session.data.sha256)
    print(_fit_line(cfg, last, params))
    saved = session.fit
    differences = replay_differences(saved, last)
    print(
        f"session: {saved['status']} after {saved['iteration']} iterations; log-likelihood "
        f"{saved['log_likelihood']:.6f} (mean {saved['mean_log_likelihood']:.6f}); restart {saved['restart']}"
    )
    same = not differences
    print(
        "reproduced: the same iterations, restart, log-likelihood and parameters"
        if same
        else "NOT reproduced: " + "; ".join(differences)
    )
    if not same and (changed := _version_changes(session.versions)):
        print(
            f"the session was saved by another version ({changed}): it may round or draw random numbers "
            "differently; the fit above is this version's"
        )
    return 0 if same else 1


def _replay_streamed(ref, cfg: FitConfig, args):
    """A session of data read by chunks, fitted again the same way: the file checked in one pass (size and
    SHA-256), then a pass per iteration with chunks of the default memory limit; its last snapshot."""
    from .limits import chunk_rows_for, default_memory_limit
    from .streaming import fit_stream

    rows = chunk_rows_for(default_memory_limit(), ref.n_features, cfg.restarts)
    print(f"{ref.path}: read by chunks, {ref.n_samples:,} rows: checking its SHA-256 (one pass)", file=sys.stderr)
    source = ref.open_chunked(rows)
    last = None
    for last in _report_passes(fit_stream(source, cfg, rows), args, ref.n_samples):  # noqa: B007
        pass
    return last


def _version_changes(saved: dict) -> str:
    """'gmm_studio 0.1.0 -> 0.2.0, torch ...' for the versions that differ from this one's ('' if none)."""
    now = versions()
    keys = ("gmm_studio", "torch", "pyro", "numpy")
    return ", ".join(f"{k} {saved[k]} -> {now[k]}" for k in keys if k in saved and saved[k] != now.get(k))


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
        restarts=args.restarts, seed=args.seed, reg_covar=args.reg_covar, max_iter=args.max_iter, tol=args.tol
    )
    base.resolved()  # the settings are checked as fit checks them, before any work
    source = _stream_source(args)
    client = None
    if source is not None or args.dask:
        data, client = _streamed_grid(args, source, base, len(ks) * len(types))
        columns, sha = source.columns, ""
    else:
        ds = _load(args)
        data, columns, sha = ds.points, ds.columns, ds.sha256
        check_selection(*ds.points.shape, max(ks), args.restarts, str(args.data), "-k")
    try:
        return _select_and_report(args, data, ks, types, base, columns, sha)
    finally:
        if client is not None:
            from . import cluster

            cluster.close(client)


def _streamed_grid(args, source, base: FitConfig, cells: int):
    """Data read by chunks for a selection (grid.Streamed), on this machine or a Dask cluster; and the client."""
    from . import stream, streaming
    from .grid import Streamed
    from .limits import chunk_rows_for

    rows = chunk_rows_for(args.limit_bytes, source.n_features, cells * base.restarts)
    client, run_pass = None, functools.partial(streaming.local_pass, source, rows)
    if args.dask:
        from . import cluster

        client = cluster.connect(args.dask)
        run_pass, rows = _cluster_passes(args, client, source, rows)
        found = run_pass.survey(streaming.SAMPLE_SIZE, base.seed)
    else:
        found = stream.survey(source, rows, streaming.SAMPLE_SIZE, base.seed)
    print(
        f"{args.data}: {found.n_samples:,} rows read by chunks of {rows:,}, one pass per iteration for the whole "
        f"grid; k-means++ starts from a uniform random sample of {len(found.sample):,} rows",
        file=sys.stderr,
    )
    return Streamed(source, found, run_pass), client


def _select_and_report(args, data, ks, types, base, columns, sha) -> int:
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


COMMANDS = {"generate": cmd_generate, "fit": cmd_fit, "select": cmd_select, "replay": cmd_replay}


class Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C, so that temporary files are removed on the way out."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit 0 on success, 2 for a user's mistake (one `error:` line), 1 for an internal error
    (one line naming the log that holds the details); never a traceback on the terminal."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(USAGE)
        return 0
    previous = signal.getsignal(signal.SIGTERM)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _dispatch(argv)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            print(USAGE)
            return 0
        if args.command in OTHER_COMMANDS:
            raise UserError(f"{args.command} is run by main.py itself: python3 main.py {args.command} ...")
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated: nothing was written", file=sys.stderr)
        return 143
    except SystemExit as exc:  # --help
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else 2
    except BrokenPipeError:
        # the reader of our output stopped early (`select ... | head -1`): not an error of ours or the user's
        _silence_stdout()
        print("note: the output pipe was closed before everything was printed", file=sys.stderr)
        return 141
    except MemoryError:
        print("error: out of memory: use fewer points, restarts or components", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, permissions, a folder where a file was meant
        where = f"{exc.filename}: " if exc.filename else ""
        print(
            f"error: {where}{exc.strerror or exc}: free some space, fix the permissions or choose another path",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:  # an internal error: one line here, the traceback in a log for a bug report
        log = _crash_log()
        print(
            f"internal error: {type(exc).__name__}: {str(exc)[:200]} (details in {log}; please report it with "
            "the command you ran)",
            file=sys.stderr,
        )
        return 1


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so that the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _crash_log() -> str:
    """Write the current exception's traceback to a log file; its path (or 'stderr' if none can be written)."""
    import tempfile
    import traceback

    text = traceback.format_exc()
    try:
        folder = Path.home() / ".cache" / "gmm-studio"
        folder.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="crash-", suffix=".log", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path
    except OSError:
        sys.stderr.write(text)
        return "the lines above"
