"""Missing values in data read by passes (`--missing em` by chunks or on a Dask cluster, issue 25): a chunk's E-step
is the in-memory one, MissingPoints(chunk).e_step, so the conditional algebra lives once (missing.py,
model/conditional.py) and a fit by chunks is the in-memory fit up to the order of the sums.

A chunk's rows are standardised as the in-memory fit's (NaN stays NaN) and the rows of weight 0 left out (they add
nothing). The chunks' worst-explained points (where an emptied component is re-seeded) are merged by their log
p(x_o), which MissingPoints does not give: its worst points (their missing coordinates at 0) are found again among
the chunk's rows, and log p(x_o) computed for those few rows alone (conditional.conditional_terms). A row equal to
a worst point once filled may miss other coordinates than it: every such row is a candidate, and the K lowest of the
candidates are the chunk's K worst exactly, since the true ones are among them.
"""

from __future__ import annotations

import numpy as np
import torch

from ..model import gaussian
from ..model.conditional import conditional_terms
from ..model.scaling import Scaling
from .missing import MissingPoints
from .sources import CLASSIFY_ELEMENTS, PassPlan, PassSums, lowest


def missing_chunk_sums(chunk: np.ndarray, weights: torch.Tensor | None, plan: PassPlan) -> PassSums:
    """The E-step sums of a chunk's rows (c, D) as read (NaN: missing) with their frequency weights (c,) float64 or
    None, at the plan's parameters: statistics (M, K, P), log p(x_o) sums (M,) (in the in-memory fit's units: the
    working units plus each point's pattern offset) and the K worst-explained points."""
    x = np.asarray(chunk, dtype=np.float64)
    w = None if weights is None else weights.numpy()
    if w is not None:
        x, w = x[w > 0], w[w > 0]
    if len(x) == 0:
        return _nothing(plan)
    scaling = Scaling(np.asarray(plan.center, dtype=np.float64), np.asarray(plan.scale, dtype=np.float64))
    z = torch.as_tensor(scaling.data_to_std(x), dtype=plan.dtype)
    log_scale = np.log(scaling.scale)
    source = MissingPoints(z, None if w is None else torch.as_tensor(w, dtype=plan.dtype), log_scale)
    stats = source.e_step(plan.log_weights, plan.means, plan.chol)[0]
    m, k = plan.log_weights.shape
    count = min(k, len(x))
    found = torch.stack([source.worst_points(r, count) for r in range(m)]).double()  # (M, count, D)
    worst = _worst(z.double().numpy(), found.reshape(-1, found.shape[-1]).numpy(), count, log_scale, plan)
    return PassSums(stats.double(), source.total_ll().double(), *worst)


def _worst(
    z: np.ndarray, found: np.ndarray, count: int, log_scale: np.ndarray, plan: PassPlan
) -> tuple[torch.Tensor, torch.Tensor]:
    """The count worst-explained of a chunk's rows z (c, D) (NaN: missing) under each restart row's mixture: their
    log p(x_o) (M, count) and filled coordinates (M, count, D), lowest first, found among the rows equal to a point
    of found (F, D) (MissingPoints.worst_points of every restart row) once their missing coordinates are 0."""
    filled = np.nan_to_num(z, nan=0.0)
    rows = np.flatnonzero(np.isin(_row_keys(filled), _row_keys(found)))
    log_p = torch.empty(plan.log_weights.shape[0], len(rows), dtype=torch.float64)
    holes = np.isnan(z[rows])
    keys, inverse = np.unique(holes, axis=0, return_inverse=True)
    for p, mask in enumerate(keys):
        at = np.flatnonzero(inverse.reshape(-1) == p)
        log_p[:, at] = _observed_log_p(torch.as_tensor(filled[rows[at]]), torch.as_tensor(mask), plan)
        log_p[:, at] += float(log_scale[mask].sum())
    lowest_ll, place = lowest(log_p, count)
    return lowest_ll, torch.as_tensor(filled[rows])[place]


def _row_keys(a: np.ndarray) -> np.ndarray:
    """A number per row of a (n, D) float64, equal for equal rows (elementwise operations only: the same bits
    whatever the rows around it); rarely for others (a spare candidate costs nothing but its log p)."""
    key = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        key = key * 1.618033988749895 + a[:, j]
    return key


def _observed_log_p(points: torch.Tensor, holes: torch.Tensor, plan: PassPlan) -> torch.Tensor:
    """log p(x_o) (M, b) of points (b, D) in working units, all missing the columns holes (D,) (their values
    there ignored), under each restart row's mixture, float64."""
    obs, mis = torch.nonzero(~holes)[:, 0], torch.nonzero(holes)[:, 0]
    chol = plan.chol.double()
    cov = chol @ chol.transpose(-1, -2)
    joint = conditional_terms(points[:, obs], obs, mis, plan.log_weights.double(), plan.means.double(), cov)[0]
    return torch.logsumexp(joint, dim=1)  # (M, K, b) -> (M, b)


def missing_classification_sums(chunk: np.ndarray, weights: torch.Tensor | None, plan: PassPlan) -> PassSums:
    """A classifying pass's sums (sources.classification_sums) over a chunk's rows (c, D) with missing values: each
    point's log p(x_o) and log max_k z_k with z_k given its observed coordinates (conditional.conditional_terms),
    times its frequency weight (c,) float64 if given; no E-step statistics."""
    m, k, d = plan.means.shape
    x = np.asarray(chunk, dtype=np.float64)
    w = np.ones(len(x)) if weights is None else weights.numpy()
    z = (x - plan.center) / plan.scale
    chol = plan.chol.double()
    cov, lw, means = chol @ chol.transpose(-1, -2), plan.log_weights.double(), plan.means.double()
    ll_sum, map_sum = torch.zeros(m, dtype=torch.float64), torch.zeros(m, dtype=torch.float64)
    holes = np.isnan(z)
    keys, inverse = np.unique(holes, axis=0, return_inverse=True)
    block = max(1, CLASSIFY_ELEMENTS // (m * k * d))
    for p, mask in enumerate(keys):
        rows = np.flatnonzero(inverse.reshape(-1) == p)
        obs, mis = torch.as_tensor(np.flatnonzero(~mask)), torch.as_tensor(np.flatnonzero(mask))
        for lo in range(0, len(rows), block):
            at = rows[lo : lo + block]
            x_o = torch.as_tensor(z[np.ix_(at, ~mask)])
            joint = conditional_terms(x_o, obs, mis, lw, means, cov)[0]  # (M, K, b)
            log_p = torch.logsumexp(joint, dim=1)
            w_b = torch.as_tensor(w[at])
            ll_sum += (log_p + float(np.log(plan.scale)[mask].sum())) @ w_b
            map_sum += (joint.amax(dim=1) - log_p) @ w_b
    empty = torch.zeros(m, 0, dtype=torch.float64)
    return PassSums(torch.zeros(m, k, 1, dtype=torch.float64), ll_sum, empty, empty[..., None].expand(m, 0, d), map_sum)


def _nothing(plan: PassPlan) -> PassSums:
    """The sums of a chunk with no row of weight > 0: zeros, and no worst point."""
    m, k, d = plan.means.shape
    empty = torch.zeros(m, 0, dtype=torch.float64)
    stats = torch.zeros(m, k, gaussian.n_features(d), dtype=torch.float64)
    return PassSums(stats, torch.zeros(m, dtype=torch.float64), empty, empty[..., None].expand(m, 0, d))
