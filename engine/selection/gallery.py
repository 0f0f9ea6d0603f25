"""The restart gallery as a table: one row per restart with the solution it reached (CSV or JSON)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..inference.collapse import collapsed_components
from ..io.export import atomic_write, finite_or_none
from ..snapshot import Snapshot
from .solutions import (
    Solution,
    counts,
    forum_choice,
    group_restarts,
    restart_outcomes,
    restart_solution_labels,
    summary,
)

GALLERY_FORMATS = (".csv", ".json")  # what write_gallery writes

COLUMNS = (
    "restart",
    "seed",
    "initial_loss",
    "log_likelihood",
    "mean_log_likelihood",
    "n_iter",
    "converged",
    "collapsed",
    "empty",
    "solution",
    "solution_share",
    "identifiable",
    "shown",
    "outcome",
    "last_step",
)


@dataclass(frozen=True)
class Gallery:
    """Every restart of a fit, grouped into solutions. rows: one dict per restart (COLUMNS): last_step is the
    log-likelihood its last iteration gained, outcome what its group is (optimum, plateau, not converged),
    identifiable the share of bootstrap replicates in which all its solution's components are identifiable (None
    where not computed: a plateau, an unconverged group, or no bootstrap asked for); identifiability: each
    bootstrapped optimum's engine Identifiability, by label."""

    rows: list[dict]
    solutions: list[Solution]
    summary: str
    forum_choice: str
    identifiability: dict = field(default_factory=dict)

    @property
    def counts(self) -> str:
        """'2 solutions, 2 plateaus': the groups of each kind, in words."""
        return counts(self.solutions)


def build_gallery(
    snap: Snapshot, identifiability: dict | None = None, check: Callable[[], None] | None = None
) -> Gallery:
    """The gallery of the fit whose last snapshot is snap (any status); identifiability: its optima's (label ->
    Identifiability, engine.selection.identifiability.gallery_identifiability) or None. check: a CancelToken's,
    asked between restarts while they are grouped (errors.Cancelled: the window is closing)."""
    table = snap.restarts
    n_restarts = len(table.seeds)
    cfg = snap.config
    solutions = group_restarts(table, snap.n_counted, cfg.tol or 0.0, cfg.max_iter, check)
    labels = restart_solution_labels(solutions, n_restarts)
    outcomes = restart_outcomes(solutions, n_restarts)
    steps = table.last_change if table.last_change is not None else np.full(n_restarts, np.nan)
    share = {s.label: len(s.restarts) / n_restarts for s in solutions}
    rows = []
    for r in range(n_restarts):
        ran = math.isfinite(table.mean_log_likelihood[r])
        cov = table.covariances[r]
        rows.append(
            {
                "restart": r,
                "seed": int(table.seeds[r]),
                "initial_loss": finite_or_none(table.initial_loss[r]),
                "log_likelihood": finite_or_none(table.mean_log_likelihood[r] * snap.n_counted),
                "mean_log_likelihood": finite_or_none(table.mean_log_likelihood[r]),
                "n_iter": int(table.n_iter[r]),
                "converged": bool(table.converged[r]),
                "last_step": finite_or_none(steps[r] * snap.n_counted),
                "collapsed": collapsed_components(snap, (table.weights[r], table.means[r], cov)) if ran else [],
                "empty": [int(k) for k in np.nonzero(table.weights[r] * snap.n_counted < 1.0)[0]] if ran else [],
                "solution": labels[r],
                "outcome": outcomes[r],
                "solution_share": share.get(labels[r], 0.0),
                "identifiable": None,
                "shown": r == snap.restart,
            }
        )
    gallery = Gallery(rows, solutions, summary(solutions, n_restarts), forum_choice(table, solutions))
    return with_identifiability(gallery, identifiability)


def with_identifiability(gallery: Gallery, found: dict | None) -> Gallery:
    """The gallery with its optima's identifiability (label -> Identifiability; None: not computed): each row's
    identifiable is its solution's share (None where its solution has none)."""
    found = found or {}
    rows = [{**row, "identifiable": _share(found.get(row["solution"]))} for row in gallery.rows]
    return replace(gallery, rows=rows, identifiability=found)


def _share(ident) -> float | None:
    return None if ident is None or ident.reason else ident.solution


def write_gallery(path: str | Path, gallery: Gallery) -> None:
    """CSV (one row per restart) or JSON (rows, solutions and the summary), by suffix; written atomically."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in gallery.rows:
            writer.writerow([_cell(row[c]) for c in COLUMNS])
        data = out.getvalue()
    elif suffix == ".json":
        data = (
            json.dumps(
                {
                    "format": "gmm-studio-gallery",
                    "format_version": 1,
                    "summary": gallery.summary,
                    "forum_choice": gallery.forum_choice,
                    "rows": gallery.rows,
                    "solutions": [
                        {
                            "label": s.label,
                            "restarts": list(s.restarts),
                            "log_likelihood": s.log_likelihood,
                            "kind": s.kind,
                            "relation": s.relation,
                            "weights": s.weights.tolist(),
                            "means": s.means.tolist(),
                            "covariances": s.covariances.tolist(),
                            "identifiable": _meta(gallery.identifiability.get(s.label)),
                        }
                        for s in gallery.solutions
                    ],
                },
                indent=2,
                allow_nan=False,
            )
            + "\n"
        )
    else:
        raise UserError(f"{path}: unknown gallery format {suffix!r}: use {' or '.join(GALLERY_FORMATS)}")
    atomic_write(path, data.encode())


def _meta(ident) -> dict | None:
    return None if ident is None else ident.meta()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(map(str, value))
    if isinstance(value, float):
        return repr(value)
    return str(value)
