"""How often a solution's components are identifiable (issue 25, "Uncertainty"): the bootstrap's view of label
switching.

A mixture's likelihood is the same under any permutation of its components, so a component is a statement about
the data only if resampling the data finds it again, and finds it unambiguously (Grün and Leisch's bootstrap of
finite mixtures; the label-switching literature's "well separated" components, whose labels no relabelling
algorithm can confuse). Here: B bootstrap replicates started from the solution (engine.selection.bootstrap, its
components matched to the solution's by the Hungarian algorithm on the Bhattacharyya distance d), and component k
is identified in a replicate when its matched replicate component j and k are each other's nearest by a clear
margin:

    MARGIN d(k, j) < d(l, j) for every other component l of the solution, and
    MARGIN d(k, j) < d(k, i) for every other component i of the replicate.

Then the Hungarian assignment is the nearest-neighbour one for k, and no swap of k's label with another's is
within a factor MARGIN of it. The margin is a ratio: the distances the replicates wander (sampling noise, ~p / n_k)
are weighed against the distances between components, so a component is identifiable when its neighbours are far
compared with its own bootstrap spread: two components at nearly one place score low, well separated ones 100%,
and more data makes close components identifiable. A component alone (K = 1) is always identified.

The solution's share is that of the replicates in which every component is identified. Replicates whose EM failed
(a covariance no longer positive definite) are left out, as the bootstrap leaves them out, and counted. A solution
whose bootstrap cannot run (nearly every replicate failed) has no share (NaN) and the reason, and the gallery's
other solutions go on; only when every one fails is it the user's error (bad data fails them all).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..config import FitConfig
from ..errors import UserError
from ..snapshot import CancelToken
from .bootstrap import bootstrap
from .solutions import OPTIMUM, Solution, component_distances

MARGIN = 2.0  # "a clear margin": the matched replicate component at most half as far as any other (see above)
IDENTIFIABILITY_REPLICATES = 50  # a share to about +-7% (a binomial's standard error at 50%)


@dataclass(frozen=True)
class Identifiability:
    """A solution's identifiability: components (K,) the share of the used replicates in which component k is
    identified; solution the share in which all are; used, failed and requested replicates; kind and seed. When its
    bootstrap could not run: NaN shares and the reason (the bootstrap's message)."""

    components: np.ndarray
    solution: float
    used: int
    failed: int
    requested: int
    kind: str
    seed: int
    reason: str = ""

    def meta(self) -> dict:
        """The gallery's JSON for it (null shares when its bootstrap could not run, and the reason)."""
        known = not self.reason
        return {
            "share": self.solution if known else None,
            "components": self.components.tolist() if known else None,
            "replicates": self.requested,
            "used": self.used,
            "failed": self.failed,
            "type": self.kind,
            "seed": self.seed,
            "margin": MARGIN,
            **({} if known else {"reason": self.reason}),
        }


def identified(means: np.ndarray, covariances: np.ndarray, rep_means: np.ndarray, rep_covs: np.ndarray) -> np.ndarray:
    """Which components each replicate identifies (B, K) bool: the fit's means (K, D), covariances (K, D, D); the
    replicates' (B, K, D), (B, K, D, D) with component k matched to the fit's k (the bootstrap's order)."""
    k = means.shape[0]
    out = np.ones((rep_means.shape[0], k), dtype=bool)
    if k == 1:
        return out
    others = ~np.eye(k, dtype=bool)
    for b in range(rep_means.shape[0]):
        d = component_distances(means, covariances, rep_means[b], rep_covs[b])  # (K fit, K replicate)
        own = MARGIN * np.diag(d)
        near_fit = np.where(others, d, np.inf).min(axis=0)  # (K,) replicate j's nearest other fit component
        near_rep = np.where(others, d, np.inf).min(axis=1)  # (K,) fit k's nearest other replicate component
        out[b] = (own < near_fit) & (own < near_rep)
    return out


def identifiability(
    data: np.ndarray,
    fitted: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: FitConfig,
    replicates: int = IDENTIFIABILITY_REPLICATES,
    kind: str = "nonparametric",
    seed: int = 0,
    weights: np.ndarray | None = None,
    cancel: CancelToken | None = None,
) -> Identifiability:
    """The identifiability of the fit `fitted` = (weights (K,), means (K, D), covariances (K, D, D)) of config to
    data (N, D) (frequency weights (N,) or None): `replicates` bootstrap replicates of `kind` from seed."""
    boot = bootstrap(data, fitted, config, replicates, kind, seed, weights, cancel)
    means, covs = (np.asarray(a, dtype=np.float64) for a in fitted[1:])
    hits = identified(means, covs, boot.means, boot.covariances)
    used = hits.shape[0]
    return Identifiability(hits.mean(axis=0), float(hits.all(axis=1).mean()), used, boot.failed, replicates, kind, seed)


def gallery_identifiability(
    data: np.ndarray,
    solutions: list[Solution],
    config: FitConfig,
    replicates: int = IDENTIFIABILITY_REPLICATES,
    kind: str = "nonparametric",
    weights: np.ndarray | None = None,
    cancel: CancelToken | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Identifiability]:
    """Each optimum's identifiability by its label (plateaus and unconverged groups are no answers: left out),
    every one from config.seed, so that replicate b weighs the same points for every solution (common random
    numbers: the solutions' shares differ by their components, not by their draws). progress(done, total) is
    called before each solution."""
    optima = [s for s in solutions if s.kind == OPTIMUM]
    out, errors = {}, []
    for i, s in enumerate(optima):
        if progress is not None:
            progress(i, len(optima))
        fitted = (s.weights, s.means, s.covariances)
        try:
            out[s.label] = identifiability(data, fitted, config, replicates, kind, config.seed, weights, cancel)
        except UserError as exc:  # this solution's replicates failed: the others may not
            errors.append(exc)
            unknown = np.full(len(s.weights), np.nan)
            out[s.label] = Identifiability(unknown, math.nan, 0, replicates, replicates, kind, config.seed, str(exc))
    if optima and len(errors) == len(optima):
        raise errors[0]  # every one: the data, the settings or the request, not one solution
    return out


def describe_identifiability(found: dict[str, Identifiability]) -> str:
    """'identifiable (every component, in 50 nonparametric bootstrap replicates of each optimum): solution A 100%
    (components 100%, 100%, 100%); solution B 42% (...)', in words."""
    if not found:
        return "identifiable: no optimum to bootstrap (only plateaus or restarts that did not converge)"
    first = next(iter(found.values()))
    parts = []
    for label, ident in found.items():
        if ident.reason:
            parts.append(f"solution {label} unknown ({ident.reason})")
            continue
        each = ", ".join(f"{share:.0%}" for share in ident.components)
        failed = f"; {ident.failed} replicates failed, left out" if ident.failed else ""
        parts.append(f"solution {label} {ident.solution:.0%} (components {each}{failed})")
    how = f"{first.requested} {first.kind} bootstrap replicates of each optimum"
    return f"identifiable (every component, in {how}): " + "; ".join(parts)
