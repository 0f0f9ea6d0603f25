"""Model-based agglomerative hierarchical clustering, mclust's `hc(modelName = "VVV", use = "SVD")` (Banfield &
Raftery 1993; Fraley 1998): the `hc` start.

Every point starts as its own cluster (duplicates too: `hc` does not hand hcVVV its dupPartition); each step
merges the pair whose merge raises the classification criterion least, until one cluster is left. For the
unconstrained (VVV) model the criterion of a cluster of n points with scatter W (D, D) is Fraley's regularised
n log|W / n|:

    term(n, W) = n log(det(W / n) [only when n > max(D, 2)] + beta (tr W + alpha) / n),

with alpha = tr(within-scatter of Z / sqrt(N D)) and beta = 1 (mclust's defaults; a singleton's term is
log(alpha beta)), on mclust's use = "SVD" transformation of the points: each column standardised (sample
standard deviation), then Z = X V diag(1 / sqrt(s)) from the thin SVD X = U diag(s) V^T. The criterion is
unchanged by a rotation or a sign flip of Z, so the SVD's signs do not matter.

The merges are found exactly (not a k-NN approximation): the cost of every pair of live clusters is held in a
(G, G) matrix and each row's smallest cost and its column are kept, so that a merge recomputes one row and the
rows that pointed at the merged pair. Memory O(S^2), time about O(S^2) plus one batch of D x D determinants per
merge: the start runs it on a sample of S = sample_size(D) rows (init.hc_points; 2,000 up to D = 12), as mclust's
`Mclust` does above mclust.options("subset") = 2000 rows.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import UserError

# Points the agglomeration runs on at most: mclust's own subset size (mclust.options("subset")), about a second on
# one core up to D = 12; above, the determinants cost ~D^3 each, so fewer (sample_size). docs/performance.md,
# "The hierarchical start".
SAMPLE_SIZE = 2000
SAMPLE_FULL_DIMENSIONS = 12
SAMPLE_FLOOR = 100
ALPHA = 1.0  # mclust's hcVVV tuning constants (Fraley 1998)
BETA = 1.0
TRANSFORMS = ("SVD", "VARS")  # mclust's use = "SVD" (Mclust's default) or "VARS" (the points as they are)


def sample_size(d: int) -> int:
    """How many points (of D dimensions) the start agglomerates: SAMPLE_SIZE up to D = 12, then fewer as D^-1.5
    (about a second each: docs/performance.md, "The hierarchical start"), never under SAMPLE_FLOOR (where no
    cluster grows past D points the determinants never count and the merges are cheap)."""
    if d <= SAMPLE_FULL_DIMENSIONS:
        return SAMPLE_SIZE
    return max(int(SAMPLE_SIZE * (SAMPLE_FULL_DIMENSIONS / d) ** 1.5), SAMPLE_FLOOR)


def transformed(x: np.ndarray, use: str = "SVD") -> np.ndarray:
    """The points (N, D') hc works on, mclust's `use`: "VARS" x (N, D) itself; "SVD" the standardised columns
    (constant ones dropped) projected on their right singular vectors and divided by the singular values' square
    roots (directions with a zero singular value dropped: the points hold nothing along them)."""
    x = np.asarray(x, dtype=np.float64)
    if use not in TRANSFORMS:
        raise ValueError(f"unknown transformation {use!r}: one of {TRANSFORMS}")
    if use == "VARS":
        return x
    centred = x - x.mean(0)
    sd = centred.std(0, ddof=1) if x.shape[0] > 1 else np.zeros(x.shape[1])
    keep = sd > 0
    standard = centred[:, keep] / sd[keep]
    _, s, vt = np.linalg.svd(standard, full_matrices=False)
    live = s > s[0] * 1e-12 if len(s) else s > 0
    if not live.any():  # every point the same: one direction of zeros (every merge then costs the same)
        return np.zeros((x.shape[0], 1))
    return standard @ vt[live].T / np.sqrt(s[live])


def _terms(n: np.ndarray, trace: np.ndarray, scatter, alpha: float, d: int) -> np.ndarray:
    """The criterion term (G,) of clusters of n (G,) points with scatter traces (G,); scatter(mask) gives the
    scatter matrices (B, D, D) of the clusters in mask (G,), asked for only where the determinant counts."""
    log_trace = np.log(BETA * (trace + alpha) / n)
    big = n > max(d, 2)
    if not big.any():
        return n * log_trace
    out = log_trace.copy()
    sign, logdet = np.linalg.slogdet(scatter(big) / n[big, None, None])
    logdet = np.where(sign > 0, logdet, -np.inf)  # a singular scatter adds nothing (mclust: detlog = -FLMAX)
    out[big] = np.logaddexp(logdet, log_trace[big])
    return n * out


@dataclass
class _Clusters:
    """The clusters' statistics, indexed by cluster (one per point at first): counts (G,), means (G, D), scatter
    matrices (G, D, D) and their traces (G,), criterion terms (G,), and which are still live (G,)."""

    n: np.ndarray
    mean: np.ndarray
    scatter: np.ndarray
    trace: np.ndarray
    term: np.ndarray
    live: np.ndarray
    alpha: float
    slot: np.ndarray  # (G,) each cluster's place in mclust's working order
    at: np.ndarray  # (G,) the cluster in each place (the first `live.sum()` places are used)

    def costs(self, a: int, others: np.ndarray) -> np.ndarray:
        """The change of the criterion (M,) when cluster a merges with each of the clusters others (M,)."""
        na, nb = self.n[a], self.n[others]
        n = na + nb
        diff = self.mean[others] - self.mean[a]
        weight = na * nb / n
        trace = (self.trace[a] + self.trace[others]) + weight * (diff**2).sum(1)

        def scatter(mask: np.ndarray) -> np.ndarray:
            dm = diff[mask]
            outer = weight[mask, None, None] * dm[:, :, None] * dm[:, None]
            return self.scatter[a] + self.scatter[others[mask]] + outer

        term = _terms(n, trace, scatter, self.alpha, diff.shape[1])
        return term - (self.term[a] + self.term[others])

    def absorb(self, a: int, b: int) -> None:
        """Cluster b joins cluster a (b's statistics are left as they are: it is no longer live)."""
        na, nb = self.n[a], self.n[b]
        n, diff = na + nb, self.mean[b] - self.mean[a]
        delta = self.costs(a, np.array([b]))[0]
        self.scatter[a] += self.scatter[b] + (na * nb / n) * np.outer(diff, diff)
        self.trace[a] += self.trace[b] + (na * nb / n) * (diff**2).sum()
        self.term[a] = delta + (self.term[a] + self.term[b])
        self.mean[a] += diff * (nb / n)
        self.n[a] = n
        self.live[b] = False


def _initial(z: np.ndarray, alpha: float) -> _Clusters:
    """One cluster per point (as mclust's hcVVV starts: duplicates too), place i holding point i."""
    g, d = z.shape
    n, zeros = np.ones(g), np.zeros(g)
    term = _terms(n, zeros, None, alpha, max(d, 2))
    places, live = np.arange(g), np.ones(g, dtype=bool)
    return _Clusters(n, z.copy(), np.zeros((g, d, d)), zeros, term, live, alpha, places, places.copy())


def _singleton_costs(c: _Clusters) -> np.ndarray:
    """The (G, G) costs of merging every pair of single points (diagonal +inf), in closed form (in place: one
    (G, G) array besides a scratch one)."""
    g = len(c.n)
    trace, gap = np.zeros((g, g)), np.empty((g, g))
    for column in c.mean.T:  # tr W = |(x_i - x_j) / sqrt(2)|^2, summed as mclust sums it (ties break alike)
        np.subtract(column[:, None], column[None, :], out=gap)
        gap *= np.sqrt(0.5)
        gap *= gap
        trace += gap
    log_ab = np.log(c.alpha * BETA)
    trace += c.alpha
    trace *= BETA
    trace /= 2.0
    cost = np.log(trace, out=trace)
    cost *= 2.0
    cost -= log_ab + log_ab
    np.fill_diagonal(cost, np.inf)
    return cost


def merges(z: np.ndarray, alpha_scale: float = ALPHA, check: Callable[[], None] | None = None) -> np.ndarray:
    """The agglomeration of the points z (N, D): the merges (N - 1, 2) in order, each a pair of point numbers
    naming two clusters (a cluster is named by a point it holds); the second's cluster joins the first's. check:
    called before each merge (a fit's CancelToken.check: errors.Cancelled stops the agglomeration there, not after
    the whole tree; one Event.is_set, nothing beside a merge's row of costs and determinants)."""
    n_points, d = z.shape
    centred = z - z.mean(0)
    alpha = max(alpha_scale * float((centred**2).sum()) / (n_points * d), np.finfo(np.float64).eps)
    c = _initial(z, alpha)
    cost = _singleton_costs(c)
    best = cost.argmin(1)
    best_cost = cost[np.arange(len(best)), best]
    out = np.empty((max(n_points - 1, 0), 2), dtype=np.int64)
    for step in range(len(out)):
        if check is not None:
            check()
        a, b = _cheapest(c, cost, best_cost)
        out[step] = a, b
        _merge(c, cost, best, best_cost, a, b)
    return out


def _cheapest(c: _Clusters, cost: np.ndarray, best_cost: np.ndarray) -> tuple[int, int]:
    """The pair of clusters (a, b) to merge, a in the lower slot: of the pairs of least cost, the one mclust's
    scan of its slots (j = 2.., i < j, keeping the last minimum) would take, so that exact ties (duplicate
    points, equal gaps between rounded values) break as in mclust."""
    low = best_cost.min()
    pairs = [(a, int(b)) for a in np.flatnonzero(best_cost == low) for b in np.flatnonzero(cost[a] == low)]
    slots = [sorted((int(c.slot[a]), int(c.slot[b]))) for a, b in pairs]
    i, j = max(slots, key=lambda s: (s[1], s[0]))
    return int(c.at[i]), int(c.at[j])


def _merge(c: _Clusters, cost: np.ndarray, best: np.ndarray, best_cost: np.ndarray, a: int, b: int) -> None:
    """Merge cluster b into a: a's statistics and cost row recomputed, b's row and column retired, and the
    smallest cost of every row that pointed at a or b looked for again. The cluster in the last place moves to
    b's (as in mclust)."""
    last = int(c.at[int(c.live.sum()) - 1])
    c.slot[last], c.at[c.slot[b]] = c.slot[b], last
    c.absorb(a, b)
    cost[b, :] = cost[:, b] = np.inf
    best_cost[b] = np.inf
    others = np.flatnonzero(c.live)
    others = others[others != a]
    if len(others) == 0:
        best_cost[a] = np.inf
        return
    row = c.costs(a, others)
    cost[a, others] = cost[others, a] = row
    stale = others[(best[others] == a) | (best[others] == b)]
    if len(stale):
        best[stale] = cost[stale].argmin(1)
        best_cost[stale] = cost[stale, best[stale]]
    better = others[row < best_cost[others]]
    best[better], best_cost[better] = a, cost[better, a]
    best[a] = others[row.argmin()]
    best_cost[a] = row.min()


def classes(steps: np.ndarray, k: int) -> np.ndarray:
    """The partition (N,) into k clusters after the first N - k merges (N - 1, 2), labels 0..k-1 in order of
    each cluster's first point (mclust's hclass, numbered from 0)."""
    n = len(steps) + 1
    if not 1 <= k <= n:
        raise UserError(
            f"--init hc agglomerates {n} points, too few for {k} components: ask for at most {n} components or "
            "use another start (kmeans++)"
        )
    label = np.arange(n)
    for a, b in steps[: n - k]:
        label[label == label[b]] = label[a]
    _, first, inverse = np.unique(label, return_index=True, return_inverse=True)
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(first)] = np.arange(k)
    return rank[inverse]


class _Cache:
    """The agglomerations of the last few point sets, keyed by their bytes' digest: a grid over K and covariance
    types cuts one tree instead of growing it again per cell. Thread-safe (the window fits in a worker); a cancelled
    agglomeration (errors.Cancelled from get's check) leaves nothing behind."""

    def __init__(self, size: int = 4) -> None:
        self.size, self.items, self.lock = size, {}, threading.Lock()

    def get(self, z: np.ndarray, check: Callable[[], None] | None = None) -> np.ndarray:
        """The merges of z (N, D), from the cache or grown (merges, checking check before each)."""
        key = (z.shape, hashlib.sha1(np.ascontiguousarray(z).tobytes()).hexdigest())
        with self.lock:
            hit = self.items.get(key)
        if hit is None:
            hit = merges(z, check=check)
            with self.lock:
                self.items[key] = hit
                while len(self.items) > self.size:
                    self.items.pop(next(iter(self.items)))
        return hit


_CACHE = _Cache()


def hc_classes(x: np.ndarray, k: int, use: str = "SVD", check: Callable[[], None] | None = None) -> np.ndarray:
    """mclust's hclass(hc(x, "VVV", use), k): the partition (N,) of the points x (N, D) into k clusters, labels
    0..k-1 in order of each cluster's first point; check as in merges."""
    return classes(_CACHE.get(transformed(x, use), check), k)
