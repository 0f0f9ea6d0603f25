"""One restart's own path through a fit's history (no Qt here): its snapshot at a history entry and its means
over the entries, its components in the final fit's order; never each iteration's best restart's."""

from __future__ import annotations

import numpy as np


def restart_permutation(final, table, restart: int) -> np.ndarray:
    """perm (K,) putting restart's components in the order of the final fit's (stable colours)."""
    import engine

    if restart == final.restart:
        return np.arange(len(final.weights))
    return engine.match_components(final.means, final.covariances, table.means[restart], table.covariances[restart])


def snapshot_at(base, entry, restart: int | None = None, perm: np.ndarray | None = None):
    """The snapshot `base` (the fit's latest) as it was at a history entry: one restart's own parameters (its
    components reordered by perm), never each iteration's best restart. restart None: base's restart (the fit's
    answer once it ended; while it runs, the restart shown now). An earlier iteration's status is "running": the
    fit was, then."""
    from dataclasses import replace

    r = base.restart if restart is None else restart
    if r == entry.restart and perm is None:
        w, m, c, ll = entry.weights, entry.means, entry.covariances, entry.mean_log_likelihood
    else:
        perm = np.arange(entry.restart_weights.shape[1]) if perm is None else perm
        w, m, c = (a[r][perm] for a in (entry.restart_weights, entry.restart_means, entry.restart_covariances))
        ll = float(entry.restart_mean_log_likelihood[r])
    status = base.status if is_latest(base, entry, r) else "running"
    return replace(
        base,
        iteration=entry.iteration,
        weights=w,
        means=m,
        covariances=c,
        mean_log_likelihood=ll,
        restart=r,
        status=status,
        reseeded=(),
        empty=(),
        warnings=(),
    )


def is_latest(base, entry, restart: int) -> bool:
    """Whether a history entry of restart is the snapshot base (the fit's latest) itself."""
    return entry.iteration == base.iteration and restart == base.restart


def trajectory_of(entries: tuple, upto: int, restart: int | None = None, perm: np.ndarray | None = None) -> np.ndarray:
    """Means (T, K, D) over the kept entries with iteration <= upto: one restart's own path (its components
    reordered by perm), never each iteration's best restart's (in a batch of restarts that changes from iteration
    to iteration, and a path through them would jump between restarts). restart None: the last entry's (the fit's
    latest: its answer once it ended, the restart shown now while it runs)."""
    kept = [e for e in entries if e.iteration <= upto]
    if not kept:
        return np.empty((0, 0, 2))
    r = entries[-1].restart if restart is None else restart
    perm = slice(None) if perm is None else perm
    return np.stack([e.restart_means[r][perm] for e in kept])
