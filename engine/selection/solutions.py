"""Which restarts reached the same solution: component matching, grouping, and the story in words.

Two fits are compared component by component after the best matching (the Hungarian algorithm on the
Bhattacharyya distance between the Gaussians: symmetric, affine-invariant, zero only for equal Gaussians).
Restarts whose fits match within SAME_SOLUTION are one group; groups are labelled A, B, ... from the highest
log-likelihood down. A group is a solution (a local optimum) only when its restarts converged and their
log-likelihoods agree up to what their last steps leave to gain (Aitken's extrapolation); converged restarts
spread further apart along one slow ridge are a plateau, and restarts stopped by max_iter are not converged:
neither is ever called an optimum. An optimum is described against the best one: one of its components
standing where two of the best optimum's would be moment-matched into one "merges two clusters"; the reverse
"splits a cluster".
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable
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
# The relative rounding of a mean log-likelihood in float64 (a sum over N points): steps below it are noise.
ROUNDING = 64 * np.finfo(np.float64).eps
# Converged restarts whose total log-likelihoods are this close stopped at the same height whatever their steps
# say (a likelihood ratio of 1.001). Aitken's extrapolation from two steps misses slower modes that take over
# later: at tol 1e-10, 19 Old Faithful restarts at one optimum stopped 6e-7 apart, 5x their estimated gains.
SAME_HEIGHT = 1e-3


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


OPTIMUM, PLATEAU, NOT_CONVERGED = "optimum", "plateau", "not converged"  # what a group of restarts reached


@dataclass(frozen=True)
class Solution:
    """A group of restarts with the same components; `restarts` best first, `representative` the best.

    kind: OPTIMUM (most of its converged restarts agree in log-likelihood up to what their last steps leave to
    gain; `short` names the others, which stopped short of it still climbing), PLATEAU (converged by tol but
    spread along a slow ridge: still climbing) or NOT_CONVERGED (stopped by max_iter, the user or a failure).
    Only an optimum is described as merging or splitting clusters.
    """

    label: str
    restarts: tuple[int, ...]
    log_likelihood: float  # total, of the representative
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    relation: str  # an optimum: how it differs from the best optimum ("" for that one); else what it is
    kind: str = OPTIMUM
    lowest: float = math.nan  # total log-likelihood of its lowest member
    short: tuple[int, ...] = ()  # members of an optimum that stopped short of it, still climbing

    @property
    def representative(self) -> int:
        return self.restarts[0]

    @property
    def name(self) -> str:
        """'solution A', 'plateau C' or 'group E (not converged)'."""
        if self.kind == OPTIMUM:
            return f"solution {self.label}"
        return f"plateau {self.label}" if self.kind == PLATEAU else f"group {self.label} (not converged)"

    @property
    def reached(self) -> int:
        """How many restarts reached it (an optimum's members less those that stopped short)."""
        return len(self.restarts) - len(self.short)


def _label(i: int) -> str:
    letters = string.ascii_uppercase
    return letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26]


def same_solution(w1, m1, c1, w2, m2, c2) -> bool:
    perm = match_components(m1, c1, m2, c2)
    dist = bhattacharyya(m1, c1, m2[perm], c2[perm])
    return bool(np.all(dist < SAME_SOLUTION) and np.all(np.abs(w1 - w2[perm]) < WEIGHT_TOL))


def _neighbours(table, a: int, b: int) -> bool:
    return same_solution(*_params(table, a), *_params(table, b))


def _params(table, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return table.weights[r], table.means[r], table.covariances[r]


def _chains(table, restarts: list[int], check: Callable[[], None] | None = None) -> list[list[int]]:
    """The restarts grouped into chains of neighbours (single linkage), each best first; a restart that links
    two chains merges them. Each restart meets at most LINK_CANDIDATES members per chain: O(R x chains).
    check: called before each restart (a CancelToken's: thousands of restarts take seconds)."""
    order = sorted(restarts, key=lambda r: -table.mean_log_likelihood[r])
    groups: list[list[int]] = []
    for r in order:
        if check is not None:
            check()
        linked = [
            g
            for g, members in enumerate(groups)
            if any(_neighbours(table, b, r) for b in members[-LINK_CANDIDATES:][::-1])
        ]
        if not linked:
            groups.append([r])
            continue
        first = groups[linked[0]]
        for g in linked[1:]:  # r links these chains: one group
            first.extend(groups[g])
        first.append(r)
        groups = [members for g, members in enumerate(groups) if g not in linked[1:]]
    for members in groups:
        members.sort(key=lambda r: -table.mean_log_likelihood[r])
    return groups


def still_to_gain(table) -> np.ndarray:
    """(R,) how much more mean log-likelihood each restart would gain if it went on, by Aitken's extrapolation
    of its last two steps d1 (last) and d0 (the one before) at the linear rate a = d1 / d0 that EM settles into
    near a maximum: d1 a / (1 - a). Infinite when the steps grew (a >= 1: still climbing faster); 0 when the
    last step is at the rounding floor of a mean log-likelihood or negative, or where the steps are unknown.
    """
    ll = np.asarray(table.mean_log_likelihood, float)
    if table.last_change is None or table.previous_change is None:
        return np.zeros_like(ll)
    d1, d0 = np.asarray(table.last_change, float), np.asarray(table.previous_change, float)
    floor = ROUNDING * np.maximum(1.0, np.abs(ll))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = d1 / d0
        gain = np.where(a >= 1.0, np.inf, d1 * a / (1.0 - a))
    known = np.isfinite(d1) & np.isfinite(d0) & (d1 > floor) & (d0 > 0) & (a > 0)
    return np.where(known, gain, 0.0)


def agrees_with_best(table, members: list[int], gain: np.ndarray, tol: float, n_samples: int) -> np.ndarray:
    """(M,) which converged members (best first) stopped where the best one did: their mean log-likelihoods
    extrapolated by Aitken (ll + gain) within the larger of the two gains plus tol (and SAME_HEIGHT) of the
    best's. A member still climbing faster (infinite gain) agrees with nothing; the best one agrees with itself
    unless so.
    """
    ll, g = table.mean_log_likelihood[members], gain[members]
    if not np.isfinite(g[0]):
        return np.zeros(len(members), dtype=bool)
    limits = ll + g
    allowed = np.maximum(g, g[0]) + tol + SAME_HEIGHT / n_samples + ROUNDING * np.maximum(1.0, np.abs(ll))
    return np.isfinite(g) & (np.abs(limits - limits[0]) <= allowed)


def _plateau_text(table, members: list[int], gain: np.ndarray, n_samples: int) -> str:
    """Why converged restarts with the same components are a plateau, not an optimum, in words."""
    ll, g = table.mean_log_likelihood[members], gain[members]
    them = "it" if len(members) == 1 else "them"
    if len(members) == 1 or not np.all(np.isfinite(g)):
        return (
            f"a plateau, not an optimum: still climbing, faster and faster, when tol stopped {them} (a last step "
            f"larger than the one before; a lower tol lets {them} go on)"
        )
    return (
        f"a plateau, not an optimum: its restarts share components but stopped "
        f"{float(ll.max() - ll.min()) * n_samples:.2f} apart in log-likelihood, more than their last steps leave "
        f"to gain ({float(g.max()) * n_samples:.2g} at most), so they were still climbing when tol stopped them "
        "(a lower tol lets them go on)"
    )


def _unconverged_text(table, members: list[int], max_iter: int | None, n_samples: int) -> str:
    """What a group of restarts that did not converge was doing when it stopped, in words."""
    iters = table.n_iter[members]
    lo, hi = int(iters.min()), int(iters.max())
    at = f"iteration {lo}" if lo == hi else f"iterations {lo} to {hi}"
    who = "stopped" if len(members) == 1 else f"{len(members)} restarts stopped"
    how = "by max_iter" if max_iter is not None and lo >= max_iter else "before converging"
    text = f"not converged: {who} {how} at {at}"
    if table.last_change is not None:
        steps = np.asarray(table.last_change, float)[members] * n_samples
        if np.all(np.isfinite(steps)) and steps.max() > 0:
            last = "last step" if len(members) == 1 else "last steps up to"
            text += f", still climbing ({last} +{float(steps.max()):.2g} in log-likelihood)"
    return text


def group_restarts(
    table, n_samples: int, tol: float = 0.0, max_iter: int | None = None, check: Callable[[], None] | None = None
) -> list[Solution]:
    """Group the restarts of an engine RestartTable that ran (finite log-likelihood) into solutions.

    Converged restarts form chains of neighbours (same_solution). A chain is an optimum when more than half of
    its restarts agree with its best one (agrees_with_best: same log-likelihood up to tol and what their last
    steps leave to gain); the others stopped short of it. Otherwise it is a plateau: its restarts stopped at
    different heights of one slow ridge. Restarts that did not converge are chained apart (they never join or
    link an optimum) and labelled not converged. Groups are labelled A, B, ... from the highest log-likelihood
    down; only optima other than the best optimum get the merge/split story, told against the best optimum.
    check: asked between restarts (errors.Cancelled from a CancelToken's check stops the grouping there).
    """
    ran = [r for r in range(len(table.seeds)) if math.isfinite(table.mean_log_likelihood[r])]
    gain = still_to_gain(table)
    groups = []
    for members in _chains(table, [r for r in ran if table.converged[r]], check):
        agree = agrees_with_best(table, members, gain, tol, n_samples)
        if 2 * int(agree.sum()) > len(members):
            short = [r for r, ok in zip(members, agree, strict=True) if not ok]
            groups.append((OPTIMUM, [r for r in members if r not in short] + short, tuple(short), ""))
        else:
            groups.append((PLATEAU, members, (), _plateau_text(table, members, gain, n_samples)))
    for members in _chains(table, [r for r in ran if not table.converged[r]], check):
        groups.append((NOT_CONVERGED, members, (), _unconverged_text(table, members, max_iter, n_samples)))
    groups.sort(key=lambda group: -table.mean_log_likelihood[group[1][0]])
    optima = [(_label(i), g[1][0]) for i, g in enumerate(groups) if g[0] == OPTIMUM]
    out = []
    for i, (kind, members, short, text) in enumerate(groups):
        b = members[0]
        if kind == OPTIMUM and b != optima[0][1]:
            text = describe_relation(*_params(table, optima[0][1]), *_params(table, b), optima[0][0])
        elif kind == NOT_CONVERGED:
            text += _like(table, b, optima)
        low = min(float(table.mean_log_likelihood[r]) for r in members) * n_samples
        ll = float(table.mean_log_likelihood[b]) * n_samples
        out.append(Solution(_label(i), tuple(members), ll, *_params(table, b), text, kind, low, short))
    return out


def _like(table, r: int, optima: list[tuple[str, int]]) -> str:
    """' (its components match solution B's)' when restart r has the components of an optimum's best restart."""
    label = next((lab for lab, b in optima if _neighbours(table, b, r)), None)
    return f" (its components match solution {label}'s)" if label else ""


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


def describe_relation(ref_w, ref_m, ref_c, w, m, c, ref_label: str = "A") -> str:
    """How a fit (w, m, c) differs from the reference fit (the best optimum, solution ref_label), in words."""
    parts = []
    merged = _merged_matches(ref_w, ref_m, ref_c, m, c)
    if merged:
        pairs = ", ".join(f"{i} and {j}" for (i, j), _ in merged)
        parts.append(f"merges two clusters (components {pairs} of solution {ref_label})")
    split = _merged_matches(w, m, c, ref_m, ref_c)
    if split:
        parts.append(f"splits a cluster (component {', '.join(str(r) for _, r in split)} of solution {ref_label})")
    return "; ".join(parts) if parts else "a different local optimum"


SUMMARY_SOLUTIONS = 5  # the summary names this many groups, then counts the rest


def _range(s: Solution) -> str:
    if len(s.restarts) == 1 or not math.isfinite(s.lowest):
        return f"log-likelihood {s.log_likelihood:.2f}"
    return f"log-likelihood {s.lowest:.2f} to {s.log_likelihood:.2f}"


def _summary_part(s: Solution, n_restarts: int, first: bool) -> str:
    n = len(s.restarts)
    of = f" of {n_restarts} restarts" if first else ""
    if s.kind == OPTIMUM:
        what = f" {s.relation}," if s.relation else ""
        text = f"solution {s.label} (log-likelihood {s.log_likelihood:.2f}){what} reached by {s.reached}{of}"
        if s.short:
            gap = s.log_likelihood - s.lowest
            text += (
                f", and {len(s.short)} more stopped short of it (up to {gap:.2f} lower, more than their last steps "
                "leave to gain): still climbing when tol stopped them"
            )
        return text
    many = "" if first or n == 1 else "s"
    return f"{s.label}, {n}{of or ' restart' + many} ({_range(s)}): {s.relation}"


def counts(solutions: list[Solution]) -> str:
    """'2 solutions, 2 plateaus, 1 not converged': the groups of each kind, in words."""
    parts = []
    for kind, one, many in ((OPTIMUM, "solution", "solutions"), (PLATEAU, "plateau", "plateaus")):
        n = sum(s.kind == kind for s in solutions)
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
    n = sum(s.kind == NOT_CONVERGED for s in solutions)
    if n:
        parts.append(f"{n} not converged")
    return ", ".join(parts) or "no solution"


def summary(solutions: list[Solution], n_restarts: int) -> str:
    """'solution A (log-likelihood …) reached by n of R restarts; solution B (…) merges two clusters, …;
    C, 8 restarts (log-likelihood … to …): a plateau, not an optimum: …'"""
    parts = [_summary_part(s, n_restarts, s is solutions[0]) for s in solutions[:SUMMARY_SOLUTIONS]]
    rest = solutions[SUMMARY_SOLUTIONS:]
    if rest:
        groups = "groups" if len(rest) > 1 else "group"
        parts.append(
            f"and {len(rest)} more {groups} ({counts(rest)}; log-likelihood {min(s.lowest for s in rest):.2f} to "
            f"{rest[0].log_likelihood:.2f}) of {sum(len(s.restarts) for s in rest)} restarts"
        )
    return "; ".join(parts)


def forum_choice(table, solutions: list[Solution]) -> str:
    """Whether the forum's selection (the lowest initial loss) picked the best final solution, in words."""
    finite = np.isfinite(table.initial_loss)
    if not finite.any() or not solutions:
        return ""
    chosen = int(np.argmin(np.where(finite, table.initial_loss, np.inf)))
    group = next((s for s in solutions if chosen in s.restarts), None)
    if group is None:
        return f"the forum's selection (lowest initial loss) picks restart {chosen}, which did not run to the end"
    best = solutions[0]
    verdict = (
        "the best final solution"
        if group is best
        else f"not the best final solution ({best.label}, log-likelihood {best.log_likelihood:.2f})"
    )
    return f"the forum's selection (lowest initial loss) picks restart {chosen}: {group.name}, {verdict}"


def restart_solution_labels(solutions: list[Solution], n_restarts: int) -> list[str]:
    """The solution label of each restart ('' for restarts that did not run)."""
    labels = [""] * n_restarts
    for s in solutions:
        for r in s.restarts:
            labels[r] = s.label
    return labels


def restart_outcomes(solutions: list[Solution], n_restarts: int) -> list[str]:
    """What each restart reached: OPTIMUM, PLATEAU or NOT_CONVERGED ('' for restarts that did not run)."""
    kinds = [""] * n_restarts
    for s in solutions:
        for r in s.restarts:
            kinds[r] = PLATEAU if r in s.short else s.kind
    return kinds
