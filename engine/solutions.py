"""Which restarts reached the same solution: component matching, grouping, and the story in words.

Two fits are compared component by component after the best matching (the Hungarian algorithm on the
Bhattacharyya distance between the Gaussians: symmetric, affine-invariant, zero only for equal Gaussians).
Restarts whose fits match within SAME_SOLUTION are one solution; solutions are labelled A, B, ... from the
highest log-likelihood down. A solution is described against the best one: one of its components standing
where two of the best solution's would be moment-matched into one "merges two clusters"; the reverse
"splits a cluster".
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass

import numpy as np

# Two restarts are neighbours when every matched pair of components is this close (Bhattacharyya distance; a
# mean shift of 0.63 standard deviations alone gives 0.05) and the weights within WEIGHT_TOL. A solution is a
# chain of neighbours (single linkage): at the default tol, EM stops restarts at different points of the
# same slow ridge of the likelihood (on the forum data, 50 restarts stopped at 10 points of two ridges, each
# 0.002-0.03 and up to 0.08 in weight from the next, within 0.4 in log-likelihood): two ridges, not ten solutions.
SAME_SOLUTION = 0.05
WEIGHT_TOL = 0.1
# Each restart is compared with at most this many members of each solution (the latest, i.e. the nearest in
# log-likelihood along a chain): grouping stays O(R x solutions) for thousands of restarts.
LINK_CANDIDATES = 20
# A component "is" the merge of two others (or one of a split) when it is this close to their moment-matched
# Gaussian and closer to it than to any single component.
MERGE_MATCH = 0.05


def bhattacharyya(m1: np.ndarray, c1: np.ndarray, m2: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """Bhattacharyya distance between Gaussians N(m1, c1) and N(m2, c2); broadcasts over leading axes.

    m (..., D), c (..., D, D) -> (...).
    """
    c = 0.5 * (c1 + c2)
    d = m1 - m2
    maha = np.einsum("...i,...i->...", d, np.linalg.solve(c, d[..., None])[..., 0])
    _, logdet = np.linalg.slogdet(c)
    _, logdet1 = np.linalg.slogdet(c1)
    _, logdet2 = np.linalg.slogdet(c2)
    return 0.125 * maha + 0.5 * (logdet - 0.5 * (logdet1 + logdet2))


def component_distances(means_a, cov_a, means_b, cov_b) -> np.ndarray:
    """(K_a, K_b) Bhattacharyya distances between the components of two fits."""
    ma, ca = np.asarray(means_a, float), np.asarray(cov_a, float)
    mb, cb = np.asarray(means_b, float), np.asarray(cov_b, float)
    return bhattacharyya(ma[:, None], ca[:, None], mb[None], cb[None])


def linear_assignment(cost: np.ndarray) -> np.ndarray:
    """Minimum-cost assignment of rows to columns for a square cost (K, K): column of each row (K,).

    The Hungarian algorithm with potentials, O(K^3).
    """
    cost = np.asarray(cost, dtype=np.float64)
    n = cost.shape[0]
    if cost.shape != (n, n):
        raise ValueError(f"linear_assignment needs a square cost matrix, got {cost.shape}")
    u, v = np.zeros(n + 1), np.zeros(n + 1)
    owner = np.zeros(n + 1, dtype=np.int64)  # owner[j]: row (1-based) assigned to column j; 0 = none
    way = np.zeros(n + 1, dtype=np.int64)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = np.full(n + 1, np.inf)
        used = np.zeros(n + 1, dtype=bool)
        while owner[j0] != 0:
            used[j0] = True
            i0 = owner[j0]
            free = ~used[1:]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[owner[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    assignment = np.empty(n, dtype=np.int64)
    assignment[owner[1:] - 1] = np.arange(n)
    return assignment


def match_components(ref_means, ref_cov, means, cov) -> np.ndarray:
    """perm (K,) such that component perm[k] of the fit best corresponds to component k of the reference."""
    return linear_assignment(component_distances(ref_means, ref_cov, means, cov))


def moment_merge(w: np.ndarray, m: np.ndarray, c: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The single Gaussian with the same weight, mean and covariance as the mixture of the given components."""
    total = float(w.sum())
    mean = (w[:, None] * m).sum(0) / total
    d = m - mean
    cov = (w[:, None, None] * (c + d[:, :, None] * d[:, None, :])).sum(0) / total
    return total, mean, cov


@dataclass(frozen=True)
class Solution:
    """A group of restarts that reached the same fit; `restarts` best first, `representative` the best."""

    label: str
    restarts: tuple[int, ...]
    log_likelihood: float  # total, of the representative
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    relation: str  # how it differs from solution A, in words ("" for A)

    @property
    def representative(self) -> int:
        return self.restarts[0]


def _label(i: int) -> str:
    letters = string.ascii_uppercase
    return letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26]


def same_solution(w1, m1, c1, w2, m2, c2) -> bool:
    perm = match_components(m1, c1, m2, c2)
    dist = bhattacharyya(m1, c1, m2[perm], c2[perm])
    return bool(np.all(dist < SAME_SOLUTION) and np.all(np.abs(w1 - w2[perm]) < WEIGHT_TOL))


def group_restarts(table, n_samples: int) -> list[Solution]:
    """Group the restarts of an engine RestartTable that ran (finite log-likelihood) into solutions: chains of
    restarts each a neighbour (same_solution) of the next; a restart joining two chains merges them."""
    ran = [r for r in range(len(table.seeds)) if math.isfinite(table.mean_log_likelihood[r])]
    ran.sort(key=lambda r: -table.mean_log_likelihood[r])
    groups: list[list[int]] = []
    for r in ran:
        linked = [
            g
            for g, members in enumerate(groups)
            if any(
                same_solution(
                    table.weights[b],
                    table.means[b],
                    table.covariances[b],
                    table.weights[r],
                    table.means[r],
                    table.covariances[r],
                )
                for b in members[-LINK_CANDIDATES:][::-1]
            )
        ]
        if not linked:
            groups.append([r])
            continue
        first = groups[linked[0]]
        for g in linked[1:]:  # r links these chains: one solution
            first.extend(groups[g])
        first.append(r)
        groups = [members for g, members in enumerate(groups) if g not in linked[1:]]
    for members in groups:
        members.sort(key=lambda r: -table.mean_log_likelihood[r])
    groups.sort(key=lambda members: -table.mean_log_likelihood[members[0]])
    out = []
    for i, group in enumerate(groups):
        b = group[0]
        w, m, c = table.weights[b], table.means[b], table.covariances[b]
        relation = "" if i == 0 else describe_relation(out[0].weights, out[0].means, out[0].covariances, w, m, c)
        out.append(
            Solution(_label(i), tuple(group), float(table.mean_log_likelihood[b]) * n_samples, w, m, c, relation)
        )
    return out


def _merged_matches(w_a, m_a, c_a, m_b, c_b) -> list[tuple[tuple[int, int], int]]:
    """Pairs (i, j) of fit a whose moment-matched merge is some component of fit b: ((i, j), that component).

    A component of b counts once, with the pair it matches best, and only when it is closer to the merge
    than to any single component of a."""
    k = len(w_a)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    if not pairs:
        return []
    merged = [moment_merge(w_a[[i, j]], m_a[[i, j]], c_a[[i, j]]) for i, j in pairs]
    to_merge = np.stack([bhattacharyya(mm[None], mc[None], m_b, c_b) for _, mm, mc in merged])  # (pairs, K_b)
    single = component_distances(m_a, c_a, m_b, c_b).min(axis=0)  # (K_b,)
    out = []
    for comp in range(len(m_b)):
        best = int(np.argmin(to_merge[:, comp]))
        if to_merge[best, comp] < MERGE_MATCH and to_merge[best, comp] < single[comp]:
            out.append((pairs[best], comp))
    return out


def describe_relation(ref_w, ref_m, ref_c, w, m, c) -> str:
    """How a fit (w, m, c) differs from the reference fit (solution A), in words."""
    parts = []
    merged = _merged_matches(ref_w, ref_m, ref_c, m, c)
    if merged:
        pairs = ", ".join(f"{i} and {j}" for (i, j), _ in merged)
        parts.append(f"merges two clusters (components {pairs} of solution A)")
    split = _merged_matches(w, m, c, ref_m, ref_c)
    if split:
        parts.append(f"splits a cluster (component {', '.join(str(r) for _, r in split)} of solution A)")
    return "; ".join(parts) if parts else "a different local optimum"


SUMMARY_SOLUTIONS = 5  # the summary names this many solutions, then counts the rest


def summary(solutions: list[Solution], n_restarts: int) -> str:
    """'solution A (log-likelihood …) reached by n of R restarts; solution B (…) merges two clusters, …'"""
    parts = []
    for s in solutions[:SUMMARY_SOLUTIONS]:
        what = f" {s.relation}," if s.relation else ""
        of = f" of {n_restarts} restarts" if s is solutions[0] else ""
        parts.append(
            f"solution {s.label} (log-likelihood {s.log_likelihood:.2f}){what} reached by {len(s.restarts)}{of}"
        )
    rest = solutions[SUMMARY_SOLUTIONS:]
    if rest:
        parts.append(
            f"and {len(rest)} more solutions (log-likelihood {rest[-1].log_likelihood:.2f} to "
            f"{rest[0].log_likelihood:.2f}) reached by {sum(len(s.restarts) for s in rest)} "
            "(many near-equal solutions are often restarts that stopped on a slow ridge: a lower tol "
            "lets them finish)"
        )
    return "; ".join(parts)


def forum_choice(table, solutions: list[Solution]) -> str:
    """Whether the forum's selection (the lowest initial loss) picked the best final solution, in words."""
    finite = np.isfinite(table.initial_loss)
    if not finite.any() or not solutions:
        return ""
    chosen = int(np.argmin(np.where(finite, table.initial_loss, np.inf)))
    label = next((s.label for s in solutions if chosen in s.restarts), None)
    if label is None:
        return f"the forum's selection (lowest initial loss) picks restart {chosen}, which did not run to the end"
    verdict = (
        "the best final solution"
        if label == solutions[0].label
        else f"not the best final solution (A, log-likelihood {solutions[0].log_likelihood:.2f})"
    )
    return f"the forum's selection (lowest initial loss) picks restart {chosen}: solution {label}, {verdict}"


def restart_solution_labels(solutions: list[Solution], n_restarts: int) -> list[str]:
    """The solution label of each restart ('' for restarts that did not run)."""
    labels = [""] * n_restarts
    for s in solutions:
        for r in s.restarts:
            labels[r] = s.label
    return labels
