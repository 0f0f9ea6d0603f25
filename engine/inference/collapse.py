"""Which components of a fit are degenerate, and how: judged on what the data gave each component (its
covariance without reg_covar's floor), in the floor's own units.

A component is degenerate (a spurious fit, in model selection) when
- it holds too few points for its covariance type (full: D + 1, diagonal and spherical: 2, tied: 1; the tied
  covariance is pooled over all points), or
- along some direction the spread of its own points is at most the floor's there (the floor, not the data,
  sets its shape; with reg_covar 0, zero within rounding), while the data as a whole is wider there, both than
  the floor and, by far, than the component (a data set that is itself that thin, e.g. two nearly collinear
  columns, is not a collapse: a single Gaussian of it is flagged by nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..model.covariances import COVARIANCE_TYPES
from ..snapshot import Snapshot

# With reg_covar 0 (or where the floor is below rounding) a direction counts as flat when the component's own
# variance there is at most this share of the axis's largest component variance: zero within the rounding of
# the float64 M-step. Measured: a collapse at reg_covar 0 (Old Faithful, K=9, full) leaves 1.4e-15 there; 500
# points on a line (spread 6) with 1e-6 noise keep 1.4e-14 and more. The bound sits between, about 3x from each.
ROUNDING_SHARE = 5e-15
# A direction is at the floor when the component's own variance there is at most this multiple of the floor's:
# the floor then makes at least half of the fitted variance.
FLOOR_SHARE = 1.0
# ... and the data's variance there is at least 1/LOST_SHARE times the component's (its spread a tenth of the
# data's, or less): a floor that is merely large for the data's units (reg_covar in data units on columns of
# variance 1e-5) makes components and data alike thin, and is no collapse.
LOST_SHARE = 0.01
# A direction is named by one column when that column carries this share of it (in standardised units).
ONE_COLUMN = 0.95


@dataclass(frozen=True)
class Collapse:
    """One degenerate component: why (text), and the direction (D,) in data units where it is flat (None when it
    holds too few points)."""

    component: int
    text: str
    direction: np.ndarray | None = None


def snapshot_collapses(snap: Snapshot, columns: tuple[str, ...] = ()) -> list[Collapse]:
    """The degenerate components of the snapshot's shown restart."""
    return collapses(
        snap.covariances, snap.weights, snap.means, snap.n_counted, snap.reg_floor, snap.config.covariance_type, columns
    )


def named_warnings(snap: Snapshot, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The snapshot's warnings with each collapse's direction named by the fitted columns' names (D,): the fit's
    bookkeeping names them x0, x1, ... (it never sees the file's header)."""
    if len(columns) != snap.means.shape[-1] or not snap.warnings:
        return snap.warnings
    named = dict(
        zip(
            (c.text for c in snapshot_collapses(snap)), (c.text for c in snapshot_collapses(snap, columns)), strict=True
        )
    )
    return tuple(named.get(w, w) for w in snap.warnings)


def collapsed_components(snap: Snapshot, params: tuple[np.ndarray, ...] | None = None) -> list[int]:
    """Indices of the degenerate components of the snapshot's shown restart, or of another restart's parameters
    (weights (K,), means (K, D), covariances (K, D, D)) fitted with the same settings."""
    weights, means, cov = (snap.weights, snap.means, snap.covariances) if params is None else params
    found = collapses(cov, weights, means, snap.n_counted, snap.reg_floor, snap.config.covariance_type)
    return [c.component for c in found]


# A count of points within this of a whole number is that number: N_k carries scikit-learn's 10 eps and the weights'
# division (two points' responsibility read 1.9999999999999998, and the message said "holds 2 points: too few ...
# (it needs 2)").
COUNT_ROUNDING = 1e-9


def points_needed(model: str, d: int) -> int:
    """The fewest points a component of mclust's model (volume, shape, orientation: E equal, V varying, I identity)
    needs in D dimensions for a covariance that is not degenerate: D + 1 where its shape and orientation are its
    own (VVV = full, EVV); 1 where neither its volume nor its shape is (EII, EEI, EEE = tied, EEV: the others'
    points fix them); else 2, for its own volume or shape (VII = spherical, VVI = diag, ...). 2 for an unnamed type."""
    if len(model) != 3:
        return 2
    volume, shape, orientation = model
    if shape == "V" and orientation == "V":
        return d + 1
    return 1 if volume == "E" and shape in "EI" else 2


def collapses(
    cov: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    n_samples: int,
    floor: np.ndarray,
    covariance_type: str,
    columns: tuple[str, ...] = (),
) -> list[Collapse]:
    """The degenerate components of a fit: covariances (K, D, D) with the floor (D,) (data units) on their
    diagonal, weights (K,) and means (K, D), fitted to n_samples points. Costs a Gershgorin bound when none is
    (every iteration of a running fit asks)."""
    if not cov.size:
        return []
    k, d = cov.shape[0], cov.shape[-1]
    names = tuple(columns) if len(columns) == d else tuple(f"x{j}" for j in range(d))
    counted = n_samples * np.asarray(weights, dtype=np.float64)
    need = points_needed(COVARIANCE_TYPES[covariance_type].model if covariance_type in COVARIANCE_TYPES else "", d)
    out = [
        Collapse(
            i,
            f"component {i} holds {_points(counted[i])}: too few for a {covariance_type} covariance in {d}-D "
            f"(it needs {need})",
        )
        for i in range(k)
        if counted[i] + COUNT_ROUNDING < need
    ]
    few = {c.component for c in out}
    own = cov - np.diag(np.asarray(floor, dtype=np.float64))  # what the data gave each component (K, D, D)
    root = np.sqrt(_units(cov, floor))
    whitened = own / (root[:, None] * root[None, :])  # 1 along a direction = the floor's variance there
    candidates = [i for i in range(k) if i not in few and _may_be_flat(whitened[i])]
    if candidates:
        data = data_covariance(own, weights, means)
        data_white = data / (root[:, None] * root[None, :])
        for i in candidates:
            u = _flat_direction(whitened[i], data_white)
            if u is not None:
                out.append(_flat(i, u / root, own[i], data, names))
    return sorted(out, key=lambda c: c.component)


def data_covariance(own: np.ndarray, weights: np.ndarray, means: np.ndarray) -> np.ndarray:
    """The data's covariance (D, D) as a fit's moments give it (within plus between components): after an M-step
    with full covariances it equals the data's exactly, and it is close for the other types."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum() if w.sum() > 0 else w
    centre = w @ means
    between = means - centre
    return np.einsum("k,kij->ij", w, own) + np.einsum("k,ki,kj->ij", w, between, between)


def _units(cov: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Per-axis variance units (D,): the floor, or where it is below rounding, the rounding level of the axis."""
    axis_var = np.abs(np.diagonal(cov, axis1=-2, axis2=-1)).max(axis=0)
    rounding = ROUNDING_SHARE * np.where(axis_var > 0, axis_var, 1.0)
    return np.maximum(FLOOR_SHARE * np.asarray(floor, dtype=np.float64), rounding)


def _may_be_flat(m: np.ndarray) -> bool:
    """False when Gershgorin's bound puts every eigenvalue of m (D, D) above 1 (the floor): the common case."""
    lower = (2.0 * np.diagonal(m) - np.abs(m).sum(-1)).min()
    return not lower > 1.0


def _flat_direction(m: np.ndarray, data: np.ndarray) -> np.ndarray | None:
    """The whitened direction (D,) among those where component m (D, D) is at or below the floor (eigenvalue
    <= 1) in which the data (D, D) is widest, when the data is wider than the floor and than the component there
    (LOST_SHARE); else None."""
    values, vectors = np.linalg.eigh(m)
    low = vectors[:, values <= 1.0]
    if not low.shape[1]:
        return None
    data_values, data_vectors = np.linalg.eigh(low.T @ data @ low)
    u = low @ data_vectors[:, -1]
    # the data itself that thin there (below the floor, or not much wider than the component): not a collapse
    if data_values[-1] <= 1.0 or u @ m @ u > LOST_SHARE * data_values[-1]:
        return None
    return u


def _flat(i: int, direction: np.ndarray, own: np.ndarray, data: np.ndarray, names: tuple[str, ...]) -> Collapse:
    """Component i's collapse along direction (D,) (data units), own its covariance without the floor (D, D)."""
    direction = direction / np.linalg.norm(direction)
    spread = np.sqrt(np.clip(np.diagonal(data), 0.0, None))
    where = describe_direction(direction * spread, names)  # in standardised units: comparable across columns
    if direction @ own @ direction <= ROUNDING_SHARE * (direction @ data @ direction):
        text = f"component {i} collapsed onto repeated values: its points share one value along {where}"
    else:
        text = f"component {i} is flat along {where}: its points spread less there than reg_covar's floor"
    return Collapse(i, text, direction)


def describe_direction(v: np.ndarray, names: tuple[str, ...]) -> str:
    """A direction (D,) in words: one column's name when it carries ONE_COLUMN of it (squared), else its largest
    terms."""
    v = v / np.linalg.norm(v)
    order = np.argsort(-np.abs(v))
    if v[order[0]] ** 2 >= ONE_COLUMN:
        return names[order[0]]
    if v[order[0]] < 0:
        v = -v
    terms = [f"{v[j]:+.2f} {names[j]}" for j in order[:3] if abs(v[j]) >= 0.05]
    return "(" + " ".join(terms).lstrip("+") + ")"


def _points(n: float) -> str:
    """'1 point', '2 points', '3.97 points'; rounded down, so that a count just short of what a component needs
    never reads as that many ('holds 2 points: too few ... (it needs 2)' for 1.9999 points)."""
    text = f"{math.floor((n + COUNT_ROUNDING) * 100) / 100:.3g}"
    return f"{text} point" + ("" if text == "1" else "s")
