"""Model selection: fit a range of K and covariance types, report log-likelihood, BIC, ICL and AIC (criteria.py:
all lower is better), and pick the best by one of them.

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
from ..errors import Cancelled
from ..inference.collapse import snapshot_collapses
from ..inference.grid import CellResult, Streamed, fit_cells
from ..io.export import information_criteria
from ..model.covariances import COVARIANCE_TYPES
from ..snapshot import CancelToken, Snapshot
from .criteria import CRITERIA, icl
from .icl import map_log_responsibilities, observed_map_terms


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
    icl: float | None = None  # criteria.py: bic - 2 sum_i log max_k z_ik (lower is better)
    n_parameters: int | None = None  # the model's free parameters (mclust's nMclustParams)

    @property
    def model(self) -> str:
        """mclust's name of the covariance model (VVV, EEE, ...); the registry's where it has none."""
        return COVARIANCE_TYPES[self.covariance_type].model or self.covariance_type

    def as_dict(self) -> dict:
        return {
            "model": self.model,
            "covariance_type": self.covariance_type,
            "k": self.k,
            "log_likelihood": self.log_likelihood,
            "n_parameters": self.n_parameters,
            "bic": self.bic,
            "icl": self.icl,
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
    data: np.ndarray,
    ks: list[int],
    covariance_types: list[str],
    base: FitConfig,
    cancel: CancelToken | None = None,
    weights: np.ndarray | None = None,
    missing: str | None = None,
) -> Iterator[SelectionEntry]:
    """Yield one entry per (k, covariance type), in order (k first), as the fits finish (on small data the
    grid runs as one batch, see grid.py: the entries then come together). Each entry's ICL takes one more E-step
    at its parameters: per fit over points in memory, one pass for the whole grid over data read by chunks.
    weights (N,): the points' frequency weights (data in memory): every criterion's n is sum w. missing "em": NaN
    values are missing at random (data in memory): each cell is fit(missing="em") of its K and model, its
    log-likelihood the observed-data one and BIC's n the rows (sum w), ICL's z_ik given each point's observed
    coordinates."""
    d = data.shape[1] if isinstance(data, Streamed) else np.asarray(data).shape[1]
    cells = [replace(base, n_components=k, covariance_type=ct) for k in ks for ct in covariance_types]
    fitted = fit_cells(data, cells, cancel, weights, missing)
    groups = [list(fitted)] if isinstance(data, Streamed) else ([cell] for cell in fitted)
    try:
        for group in groups:
            if cancel is not None and cancel.cancelled:
                return
            yield from _with_icl(data, [_entry(cell, d) for cell in group], cancel, weights, missing)
    except Cancelled:  # inside the ICL's pass: the grid stops quietly, as it does between two iterations
        return


def _with_icl(
    data: np.ndarray | Streamed,
    entries: list[SelectionEntry],
    cancel: CancelToken | None,
    weights: np.ndarray | None = None,
    missing: str | None = None,
) -> list[SelectionEntry]:
    """The entries with their ICL (one pass over data for all of them; weights (N,) as in select_models); a failed
    fit has none."""
    fitted = [i for i, e in enumerate(entries) if e.snapshot is not None]
    if not fitted:
        return entries
    fits = [entries[i].snapshot for i in fitted]
    if missing is not None and not isinstance(data, Streamed) and np.isnan(data).any():
        terms = observed_map_terms(data, fits, weights)
    else:
        terms, _ = map_log_responsibilities(data, fits, cancel, weights)
    out = list(entries)
    for i, term in zip(fitted, terms, strict=True):
        if np.isfinite(term):  # else (a covariance rounding took off positive definite) the entry has no ICL
            out[i] = replace(entries[i], icl=icl(entries[i].bic, float(term)))
    return out


def _entry(cell: CellResult, d: int) -> SelectionEntry:
    k, ct, snap = cell.config.n_components, cell.config.covariance_type, cell.snapshot
    if snap is None:
        return SelectionEntry(k, ct, None, None, None, False, 0, True, f"fit failed: {cell.error}", None)
    # the chosen restart's curve, up to the iteration it stopped at
    trace = [(i, lls[snap.restart]) for i, lls in cell.trace if i <= snap.restarts.n_iter[snap.restart]]
    bic, aic = information_criteria(snap.log_likelihood, snap.n_counted, k, d, ct)
    n_parameters = COVARIANCE_TYPES[ct].n_parameters(k, d)
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
        n_parameters=n_parameters,
    )


def best_entry(entries: list[SelectionEntry], criterion: str = "bic") -> SelectionEntry | None:
    """The entry that is not spurious with the lowest criterion (bic, icl or aic; None when every fit is spurious).
    Ties go to the earlier entry (the grid's order: the smaller K first)."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    ok = [e for e in entries if not e.spurious and getattr(e, criterion) is not None]
    return min(ok, key=lambda e: getattr(e, criterion)) if ok else None


def run_selection(
    data: np.ndarray,
    ks: list[int],
    covariance_types: list[str],
    base: FitConfig,
    progress: Callable[[SelectionEntry], None] | None = None,
    criterion: str = "bic",
    weights: np.ndarray | None = None,
    missing: str | None = None,
) -> tuple[list[SelectionEntry], SelectionEntry | None]:
    """Fit the whole grid (weights (N,) and missing as in select_models); call progress(entry) after each fit;
    return all entries and the best by criterion."""
    entries = []
    for entry in select_models(data, ks, covariance_types, base, weights=weights, missing=missing):
        entries.append(entry)
        if progress is not None:
            progress(entry)
    return entries, best_entry(entries, criterion)
