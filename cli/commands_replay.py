"""replay: a saved session's fit run again on its data and compared with the saved numbers."""

from __future__ import annotations

import sys
import time

from engine.config import FitConfig
from engine.errors import counted
from engine.io.export import params_from_snapshot, versions
from engine.io.session import bootstrap_differences, information_differences, read_session, replay_differences

from .output import fit_line
from .progress import report_passes, run_fit


def cmd_replay(args) -> int:
    """Re-run a saved session's fit on its data and compare with the saved numbers."""
    session = read_session(args.session)
    cfg = session.config.resolved()
    points = weights = None
    if session.data.chunked:
        last = _replay_streamed(session.data, cfg, args)
    else:
        missing = "em" if session.data.missing else None  # recorded by a fit --missing em of data with some
        points, weights = session.data.load(), session.data.load_weights()
        last, _ = run_fit(points, cfg, not args.quiet, weights=weights, missing=missing)
    weights_column = None if session.data.weights_column is None else str(session.data.weights_column)
    params = params_from_snapshot(last, tuple(map(str, session.data.columns)), session.data.sha256, weights_column)
    print(fit_line(cfg, last, params))
    saved = session.fit
    differences = replay_differences(saved, last)
    # the fit's bootstrap and information again, from the replayed fit (their data is in memory: the fit's
    # refuses data read by chunks): their standard errors too
    if session.bootstrap is not None:
        differences += _replay_bootstrap(session, cfg, last, params, points, weights)
    if session.information is not None:
        differences += _replay_information(session, cfg, last, params, points, weights)
    print(_saved_line(saved, cfg))
    same = not differences
    print(
        f"reproduced: the same iterations, restart, {_reproduced(session)}"
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
    for last in report_passes(fit_stream(source, cfg, rows, missing=ref.missing), args, ref.n_samples):  # noqa: B007
        pass
    return last


def _reproduced(session) -> str:
    """What a reproduced replay names: the log-likelihood and parameters, and the standard errors it compared."""
    parts = [name for name in ("bootstrap", "information") if getattr(session, name) is not None]
    if not parts:
        return "log-likelihood and parameters"
    return f"log-likelihood, parameters and {' and '.join(parts)} standard errors"


def _replay_bootstrap(session, cfg: FitConfig, last, params, points, weights) -> list[str]:
    """The session's bootstrap run again on its data points (N, D) with its weights (N,) or None, from the
    replayed fit (its table printed); what differs from the saved standard errors."""
    from engine.selection.bootstrap import bootstrap

    from .bootstrapping import bootstrap_table

    saved = session.bootstrap
    fitted = (last.weights, last.means, last.covariances)
    start = time.perf_counter()
    boot = bootstrap(points, fitted, cfg, saved["B"], saved["type"], seed=saved["seed"], weights=weights)
    elapsed = time.perf_counter() - start
    params.meta.update(boot.meta())
    print("\n".join(bootstrap_table(boot, fitted, session.data.column_names(), elapsed)))
    return bootstrap_differences(saved, params.meta)


def _replay_information(session, cfg: FitConfig, last, params, points, weights) -> list[str]:
    """The observed information of the replayed fit on the session's points (N, D) with its weights (N,) or None
    (the table fit --information prints); what differs from the saved standard errors and method."""
    from engine.selection.information import information

    from .informing import information_table

    fitted = (last.weights, last.means, last.covariances)
    info = information(points, fitted, cfg.covariance_type, weights)
    params.meta.update(info.meta())
    columns = session.data.column_names()
    print("\n".join(information_table(info.standard_errors(), fitted, columns, info.method)))
    return information_differences(session.information, params.meta)


def _version_changes(saved: dict) -> str:
    """'gmm_studio 0.1.0 -> 0.2.0, torch ...' for the versions that differ from this one's ('' if none)."""
    now = versions()
    keys = ("gmm_studio", "torch", "pyro", "numpy")
    return ", ".join(f"{k} {saved[k]} -> {now[k]}" for k in keys if k in saved and saved[k] != now.get(k))


def _saved_line(saved: dict, cfg) -> str:
    """The saved fit as the fit line says it: its restart's own iterations and state (a session from before they
    were saved: the batch's), and the batch's count where it ran on."""
    own = saved.get("restart_iterations", saved["iteration"])
    status = "converged" if saved.get("restart_converged") and saved["status"] != "cancelled" else saved["status"]
    batch = f" (the batch of {cfg.restarts} restarts ran {saved['iteration']})" if own != saved["iteration"] else ""
    return (
        f"session: {status} after {counted(own, 'iteration')}{batch}; log-likelihood {saved['log_likelihood']:.6f} "
        f"(mean {saved['mean_log_likelihood']:.6f}); restart {saved['restart']}"
    )
