"""Model selection: fit a range of K and covariance types, report log-likelihood, BIC and AIC.

A fit with a degenerate component (too few points for its covariance, or flat along some direction where
the data is not: rounded real data does this; see collapse.py) or an empty one is spurious: it stays in the
table, marked with the reason, and is never picked as the best. A fit that fails outright (with reg_covar 0 a collapsed
component has no Cholesky factor) stays in the table too, without figures, and the grid goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from ..config import FitConfig
from ..inference.collapse import snapshot_collapses
from ..inference.grid import CellResult, Streamed, fit_cells
from ..io.export import information_criteria
from ..snapshot import CancelToken, Snapshot


@dataclass(frozen=True)
class SelectionEntry:
    """One (K, covariance type) fit of the grid."""

    k: int
    covariance_type: str
    log_likelihood: float | None  # None: the fit failed (see reason)
    bic: float | None
    aic: float | None
    converged: bool
    n_iter: int
    spurious: bool
    reason: str
    snapshot: Snapshot | None
    trace: np.ndarray | None = None  # (T, 2) iteration and mean log-likelihood of the chosen restart's run

    def as_dict(self) -> dict:
        return {
            "k": self.k,
            "covariance_type": self.covariance_type,
            "log_likelihood": self.log_likelihood,
            "bic": self.bic,
            "aic": self.aic,
            "converged": self.converged,
            "n_iter": self.n_iter,
            "spurious": self.spurious,
            "reason": self.reason,
        }


def spurious_reason(snap: Snapshot, columns: tuple[str, ...] = ()) -> str:
    """Why a fit is spurious, or '' when it is not (columns: the data's column names, for the directions)."""
    reasons = [c.text for c in snapshot_collapses(snap, columns) if c.component not in snap.empty]
    if snap.empty:
        reasons.append(f"component(s) {', '.join(map(str, snap.empty))} empty")
    return "; ".join(reasons)


def select_models(
    data: np.ndarray, ks: list[int], covariance_types: list[str], base: FitConfig, cancel: CancelToken | None = None
) -> Iterator[SelectionEntry]:
    """Yield one entry per (k, covariance type), in order (k first), as the fits finish (on small data the
    grid runs as one batch, see grid.py: the entries then come together)."""
    n, d = data.shape if isinstance(data, Streamed) else np.asarray(data).shape
    cells = [replace(base, n_components=k, covariance_type=ct) for k in ks for ct in covariance_types]
    for cell in fit_cells(data, cells, cancel):
        yield _entry(cell, n, d)


def _entry(cell: CellResult, n: int, d: int) -> SelectionEntry:
    k, ct, snap = cell.config.n_components, cell.config.covariance_type, cell.snapshot
    if snap is None:
        return SelectionEntry(k, ct, None, None, None, False, 0, True, f"fit failed: {cell.error}", None)
    # the chosen restart's curve, up to the iteration it stopped at
    trace = [(i, lls[snap.restart]) for i, lls in cell.trace if i <= snap.restarts.n_iter[snap.restart]]
    bic, aic = information_criteria(snap.log_likelihood, n, k, d, ct)
    reason = spurious_reason(snap)
    return SelectionEntry(
        k,
        ct,
        snap.log_likelihood,
        bic,
        aic,
        snap.converged,
        snap.iteration,
        bool(reason),
        reason,
        snap,
        np.asarray(trace, dtype=np.float64),
    )


def best_entry(entries: list[SelectionEntry]) -> SelectionEntry | None:
    """The lowest-BIC entry that is not spurious (None when every fit is)."""
    ok = [e for e in entries if not e.spurious]
    return min(ok, key=lambda e: e.bic) if ok else None


def run_selection(
    data: np.ndarray,
    ks: list[int],
    covariance_types: list[str],
    base: FitConfig,
    progress: Callable[[SelectionEntry], None] | None = None,
) -> tuple[list[SelectionEntry], SelectionEntry | None]:
    """Fit the whole grid; call progress(entry) after each fit; return all entries and the best."""
    entries = []
    for entry in select_models(data, ks, covariance_types, base):
        entries.append(entry)
        if progress is not None:
            progress(entry)
    return entries, best_entry(entries)
