"""The command line: generate, fit, select. Exit 0 on success, 2 for a user's mistake (one line on
stderr, no traceback), 1 for an internal error."""

from __future__ import annotations

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

from engine.config import COVARIANCE_TYPES, FitConfig
from engine.errors import Cancelled, UserError, counted
from engine.history import History
from engine.inference.fitting import check_data, fit
from engine.io import data as data_mod
from engine.io import session as session_mod
from engine.io.export import (
    PARAMS_FORMATS,
    label_csv,
    params_from_snapshot,
    read_params,
    versions,
    write_labels,
    write_params,
)
from engine.io.outputs import atomic_write, check_outputs, staged_writes
from engine.io.session import read_session, replay_differences, write_session
from engine.runtime.limits import check_fit_memory, check_generate_memory, check_seed, check_selection
from engine.selection.gallery import GALLERY_FORMATS, build_gallery, write_gallery
from engine.selection.select import run_selection
from engine.snapshot import CancelToken

from .parser import OTHER_COMMANDS, USAGE, _columns, _k_range, build_parser


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
        reg_covar_units=args.reg_covar_units,
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
    check_fit_memory(*ds.points.shape, cfg.n_components, cfg.restarts)
    if not args.quiet:
        _say_sample(cfg, len(ds.points))
    last, history = _run(ds.points, cfg, not args.quiet)
    params = params_from_snapshot(last, ds.columns, ds.sha256)
    print(_fit_line(cfg, last, params))
    for w in last.warnings:
        print(f"warning: {w}", file=sys.stderr)
    with staged_writes():  # every output of the run, or none
        said = _write_fit_outputs(args, ds, cfg, last, history, params)
    for line in said:  # once every file is in its place
        print(line)
    return 0


def _note(text: str) -> None:
    """A line of progress on stderr (a wait the user should know about)."""
    print(text, file=sys.stderr, flush=True)


def _say_sample(cfg: FitConfig, n: int) -> None:
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
    from engine.io.stream import chunked_source
    from engine.runtime.limits import default_memory_limit, parse_size

    limit = parse_size(args.memory_limit) if args.memory_limit is not None else default_memory_limit()
    args.limit_bytes = limit
    return chunked_source(args.data, _columns(args.columns), limit, cluster=bool(args.dask))


def _fit_on_cluster(args, source) -> int:
    """fit on a Dask cluster: the partitions in the workers' memory, a pass per iteration mapped over them."""
    from engine.runtime.limits import chunk_rows_for
    from engine.scale import cluster

    client = cluster.connect(args.dask, _note)
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
    from engine.scale import cluster

    workers = max(len(client.scheduler_info().get("workers", {})), 1)
    print(f"Dask: {args.dask}, {workers} worker(s), dashboard {client.dashboard_link}", file=sys.stderr)
    rows = cluster.part_rows(client, source.n_samples, rows)
    return cluster.ClusterPasses(client, source, rows), rows


def _fit_streamed(args, source, run_pass=None, rows: int | None = None) -> int:
    """fit, reading the data by chunks of at most --memory-limit (or on a cluster, run_pass): a pass per
    iteration, a line per pass."""
    from engine.inference.streaming import fit_stream
    from engine.runtime.limits import chunk_rows_for

    cfg = _gallery_config(args, _fit_config(args)).resolved()
    n = source.n_samples
    if run_pass is None:
        rows = chunk_rows_for(args.limit_bytes, source.n_features, cfg.restarts)
        print(
            f"{args.data}: {n:,} rows x {counted(source.n_features, 'column')} ({', '.join(source.columns)}), "
            f"more than --memory-limit: read {rows:,} rows at a time, one pass per iteration",
            file=sys.stderr,
        )
    else:
        columns = counted(source.n_features, "column")
        print(f"{args.data}: {n:,} rows x {columns} in parts of {rows:,} rows", file=sys.stderr)

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
        said = []
        if args.output:
            write_params(args.output, params)
            said.append(f"wrote parameters to {args.output}")
        if args.labels:  # one more pass: each chunk's labels written as it is read
            chunk_rows = (
                rows if run_pass is None else chunk_rows_for(args.limit_bytes, source.n_features, cfg.n_components)
            )
            atomic_write(args.labels, label_csv(source.chunks(chunk_rows), params))
            said.append(f"wrote labels and responsibilities to {args.labels}")
        if args.gallery:
            said += _write_gallery(args.gallery, last, cfg)
        if args.session:  # one more pass: the data's SHA-256, which a replay checks (in one pass too)
            ref = session_mod.chunked_ref(source, args.data, chunk_rows_for(args.limit_bytes, source.n_features))
            write_session(args.session, ref, cfg, last, history)
            said.append(_session_line(args.session))
    for line in said:  # once every file is in its place
        print(line)
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


def _write_fit_outputs(args, ds, cfg: FitConfig, last, history: History, params) -> list[str]:
    """Write the fit's outputs (inside staged_writes); the lines to print once they are all in place."""
    said = []
    if args.output:
        write_params(args.output, params)
        said.append(f"wrote parameters to {args.output}")
    if args.labels:
        write_labels(args.labels, ds.points, params)
        said.append(f"wrote labels and responsibilities to {args.labels}")
    if args.session:
        write_session(args.session, session_mod.file_ref(ds), cfg, last, history)
        said.append(_session_line(args.session))
    if args.gallery:
        said += _write_gallery(args.gallery, last, cfg)
    return said


def _session_line(path: str) -> str:
    return f"wrote the session to {path} (reproduce it with: python3 main.py replay {path})"


def _write_gallery(path: str, last, cfg: FitConfig) -> list[str]:
    """Every restart's answer, grouped into solutions (built from the fit's last snapshot: no data needed); the
    lines to print once it is in place."""
    gallery = build_gallery(last)
    write_gallery(path, gallery)
    lines = [gallery.summary] + ([gallery.forum_choice] if gallery.forum_choice else [])
    return [*lines, f"wrote the gallery of {cfg.restarts} restarts to {path}"]


def _run(points, cfg: FitConfig, show_progress: bool):
    """Run the fit with a progress bar; (last snapshot, its bounded history)."""
    progress = _Progress(cfg.max_iter, show_progress)
    history = History()
    last = None
    try:
        for last in fit(points, cfg):
            history.append(last)
            progress.update(last)
    finally:
        progress.close()
    return last, history


def _fit_line(cfg: FitConfig, last, params) -> str:
    m = params.meta
    own = last.restart_iterations
    status = "converged" if last.status != "cancelled" and last.restart_converged else last.status
    batch = f" (the batch of {cfg.restarts} restarts ran {last.iteration})" if own != last.iteration else ""
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
        f"session: {saved['status']} after {counted(saved['iteration'], 'iteration')}; log-likelihood "
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
    from engine.inference.streaming import fit_stream
    from engine.runtime.limits import chunk_rows_for, default_memory_limit

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
        restarts=args.restarts,
        seed=args.seed,
        reg_covar=args.reg_covar,
        reg_covar_units=args.reg_covar_units,
        max_iter=args.max_iter,
        tol=args.tol,
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
            from engine.scale import cluster

            cluster.close(client)


def _streamed_grid(args, source, base: FitConfig, cells: int):
    """Data read by chunks for a selection (grid.Streamed), on this machine or a Dask cluster; and the client."""
    from engine.inference import streaming
    from engine.inference.grid import Streamed
    from engine.io import stream
    from engine.runtime.limits import chunk_rows_for

    rows = chunk_rows_for(args.limit_bytes, source.n_features, cells * base.restarts)
    client, run_pass = None, functools.partial(streaming.local_pass, source, rows)
    if args.dask:
        from engine.scale import cluster

        client = cluster.connect(args.dask, _note)
        run_pass, rows = _cluster_passes(args, client, source, rows)
        found = run_pass.survey(stream.SAMPLE_SIZE, base.seed)
    else:
        found = stream.survey(source, rows, stream.SAMPLE_SIZE, base.seed)
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


def cmd_screenshot(args) -> int:
    from gui.screenshot import run

    return run(args)


def cmd_install_launcher(args) -> int:
    from gui.launcher import run

    return run(args)


COMMANDS = {
    "generate": cmd_generate,
    "fit": cmd_fit,
    "select": cmd_select,
    "replay": cmd_replay,
    "screenshot": cmd_screenshot,
    "install-launcher": cmd_install_launcher,
}


class Terminated(BaseException):
    """SIGTERM or SIGHUP (a closed terminal): unwinds like Ctrl-C, so that temporary files are removed on the way
    out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_sigterm(signum, frame) -> None:
    raise Terminated(signum)


# Signals that end a run by unwinding it (their exception removes what was half written); SIGXFSZ (a write beyond
# `ulimit -f`) is ignored so that the write fails with EFBIG, which names the file, instead of killing the process.
_UNWINDING = ("SIGTERM", "SIGHUP")


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit 0 on success, 2 for a user's mistake (one `error:` line), 1 for an internal error
    (one line naming the log that holds the details); never a traceback on the terminal."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(USAGE)
        return 0
    if threading.current_thread() is not threading.main_thread():
        return _dispatch(argv)  # only the main thread may set handlers (a window's thread, a test's)
    handlers = {getattr(signal, name): _on_sigterm for name in _UNWINDING if hasattr(signal, name)}
    if hasattr(signal, "SIGXFSZ"):
        handlers[signal.SIGXFSZ] = signal.SIG_IGN
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        return _dispatch(argv)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


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
    except Terminated as exc:
        what = "hung up" if exc.signum == getattr(signal, "SIGHUP", None) else "terminated"
        print(f"{what}: nothing was written", file=sys.stderr)
        return 128 + exc.signum
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
