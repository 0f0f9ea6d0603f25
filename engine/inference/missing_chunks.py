"""Missing values in data read by passes (`--missing em` by chunks or on a Dask cluster, issue 25): a chunk's E-step
is the in-memory one, MissingPoints(chunk).e_step, so the conditional algebra lives once (missing.py,
model/conditional.py) and a fit by chunks is the in-memory fit up to the order of the sums.

A chunk's rows are standardised as the in-memory fit's (NaN stays NaN) and the rows of weight 0 left out (they add
nothing). The chunks' worst-explained points (where an emptied component is re-seeded) are merged by their log
p(x_o) + offset, each chunk's K lowest as its E-step gave them (MissingPoints.lowest), as the in-memory fit ranks all
its points. On a Dask cluster a chunk is grouped by pattern afresh every pass (conditional.pattern_runs: a radix
sort of one small integer per row), as a chunk of complete data is standardised afresh: no chunk's rows are kept
between passes, which may run each chunk on another worker. Read on this machine, the first pass writes each chunk
grouped (grouped_chunk) into a temporary file and later passes read it back (spill.py), where the disk allows.
What every chunk of a pass shares, the patterns' algebra at the pass's parameters, each thread solves once a pass
and keeps (model/kept_patterns.py: bounded).
"""

from __future__ import annotations

import numpy as np
import torch

from ..model import gaussian
from ..model.conditional import conditional_terms
from ..model.kept_patterns import kept_patterns
from ..model.scaling import Scaling
from .missing import MissingPoints
from .sources import CLASSIFY_ELEMENTS, PassPlan, PassSums


def missing_chunk_sums(chunk: np.ndarray, weights: torch.Tensor | None, plan: PassPlan) -> PassSums:
    """The E-step sums of a chunk's rows (c, D) as read (NaN: missing) with their frequency weights (c,) float64 or
    None, at the plan's parameters: statistics (M, K, P), log p(x_o) sums (M,) (in the in-memory fit's units: the
    working units plus each point's pattern offset) and the K worst-explained points."""
    source = grouped_chunk(chunk, weights, plan)
    return nothing(plan) if source is None else source_sums(source, plan)


def grouped_chunk(chunk: np.ndarray, weights: torch.Tensor | None, plan: PassPlan) -> MissingPoints | None:
    """A chunk's rows (c, D) as read with their frequency weights (c,) float64 or None, standardised by the plan's
    scaling and grouped by pattern in its dtype (MissingPoints), the rows of weight 0 left out; None if none is left."""
    x = np.require(chunk, dtype=np.float64, requirements="W")  # writable: torch.from_numpy warns at a read-only one
    w = None if weights is None else weights.numpy()
    if w is not None:
        x, w = x[w > 0], w[w > 0]
    if len(x) == 0:
        return None
    scaling = Scaling(np.asarray(plan.center, dtype=np.float64), np.asarray(plan.scale, dtype=np.float64))
    w = None if w is None else torch.as_tensor(w, dtype=plan.dtype)
    # standardised as gathered; the patterns' algebra solved once a pass, kept from chunk to chunk by this thread
    return MissingPoints(torch.from_numpy(x), w, np.log(scaling.scale), scaling, plan.dtype, kept=kept_patterns())


def source_sums(source: MissingPoints, plan: PassPlan) -> PassSums:
    """A grouped chunk's E-step sums at the plan's parameters (missing_chunk_sums)."""
    stats = source.e_step(plan.log_weights, plan.means, plan.chol)[0]
    worst = source.lowest(min(plan.log_weights.shape[1], source.n_samples))
    return PassSums(stats.double(), source.total_ll().double(), *worst)


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


def nothing(plan: PassPlan) -> PassSums:
    """The sums of a chunk with no row of weight > 0: zeros, and no worst point."""
    m, k, d = plan.means.shape
    empty = torch.zeros(m, 0, dtype=torch.float64)
    stats = torch.zeros(m, k, gaussian.n_features(d), dtype=torch.float64)
    return PassSums(stats, torch.zeros(m, dtype=torch.float64), empty, empty[..., None].expand(m, 0, d))
