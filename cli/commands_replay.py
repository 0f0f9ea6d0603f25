"""replay: a saved session's fit run again on its data and compared with the saved numbers."""

from __future__ import annotations

import sys
import time

from engine.config import FitConfig
from engine.errors import counted
from engine.io.export import params_from_snapshot, versions
from engine.io.session import bootstrap_differences, read_session, replay_differences

from .output import fit_line
from .progress import report_passes, run_fit


def cmd_replay(args) -> int:
    """Re-run a saved session's fit on its data and compare with the saved numbers."""
    session = read_session(args.session)
    cfg = session.config.resolved()
    if session.data.chunked:
        last = _replay_streamed(session.data, cfg, args)
    else:
        missing = "em" if session.data.missing else None  # recorded by a fit --missing em of data with some
        last, _ = run_fit(
            session.data.load(), cfg, not args.quiet, weights=session.data.load_weights(), missing=missing
        )
    weights_column = None if session.data.weights_column is None else str(session.data.weights_column)
    params = params_from_snapshot(last, tuple(map(str, session.data.columns)), session.data.sha256, weights_column)
    print(fit_line(cfg, last, params))
    saved = session.fit
    differences = replay_differences(saved, last)
    if session.bootstrap is not None:  # the fit's bootstrap again, from the replayed fit: its standard errors too
        differences += _replay_bootstrap(session, cfg, last, params)
    print(_saved_line(saved, cfg))
    same = not differences
    what = "log-likelihood, parameters and bootstrap standard errors" if session.bootstrap else None
    print(
        f"reproduced: the same iterations, restart, {what or 'log-likelihood and parameters'}"
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


def _replay_bootstrap(session, cfg: FitConfig, last, params) -> list[str]:
    """The session's bootstrap run again on its data from the replayed fit (its table printed); what differs from
    the saved standard errors."""
    from engine.selection.bootstrap import bootstrap

    from .bootstrapping import bootstrap_table

    saved, ref = session.bootstrap, session.data
    fitted = (last.weights, last.means, last.covariances)
    points = ref.load()  # a session with a bootstrap holds its data in memory (the bootstrap needs it)
    start = time.perf_counter()
    boot = bootstrap(points, fitted, cfg, saved["B"], saved["type"], seed=saved["seed"], weights=ref.load_weights())
    elapsed = time.perf_counter() - start
    params.meta.update(boot.meta())
    print("\n".join(bootstrap_table(boot, fitted, params.meta.get("columns") or (), elapsed)))
    return bootstrap_differences(saved, params.meta)


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
