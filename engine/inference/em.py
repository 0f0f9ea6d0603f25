"""Exact EM over the mixture model, batched over restarts.

The E-step evaluates the model's log-joint log w_k + log N(x | mu_k, Sigma_k) for every point and k (the
same quantity MixtureModel.log_joint computes through Pyro's distributions; tests check they agree) as one
matrix product, normalises it (responsibilities), and the M-step is the weighted maximum likelihood update of
the covariance type (a closed form, or an inner loop started from the previous covariances) with reg_covar on the
diagonal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from ..config import FitConfig
from ..errors import UserError
from ..model import gaussian
from ..model.covariances import COVARIANCE_TYPES
from ..model.pinned import Pins
from ..model.prior import Prior
from .init import Params
from .sources import HOST, PointsInMemory, SumSource

# A component with less than one point's worth of responsibility has "lost all its points".
EMPTY_NK = 1.0
__all__ = ["EMPTY_NK", "HOST", "ExactEM", "all_failed_error", "failure_warning"]


class ExactEM:
    """State and steps of exact EM over N points in D dimensions; params batched over R restarts. The E-step's
    sums come from a SumSource (engine/inference/sources.py): points in memory, or a pass over data read by chunks
    here or held by a Dask cluster; the M-step, the re-seeding and the failures are the same for every source.

    Only restarts still running are computed: a converged restart drops out of the batch, so one slow
    restart does not keep the finished ones busy.

    The data and the E-step live on the data's device; the parameters and their algebra (M-step, Cholesky, the
    E-step's coefficients: arrays of R*K*D*D numbers) always live on the CPU. On a GPU that turns ~60 tiny
    kernel launches and several synchronisations per iteration into one copy each way.
    """

    def __init__(
        self,
        x: torch.Tensor | SumSource,
        params: Params,
        covariance_type: str | Sequence[str],
        reg: torch.Tensor,
        empty_policy: str = "reseed",
        n_components: Sequence[int] | None = None,
        priors: Callable[[str, int], Prior] | None = None,
        pins: Pins | None = None,
    ) -> None:
        """x: the points (N, D) in working units, or where the E-step's sums come from. covariance_type: one for
        every restart, or one per restart (R,); n_components (R,): how many of the K components each restart
        really has (model selection batches a grid of K padded to the largest: a padded component has weight 0,
        so it takes no responsibility and stays out of every update). priors: (covariance type, K) -> the prior in
        the working units, for MAP EM (pipeline.priors_for); None: maximum likelihood. pins: the parameters the
        M-step keeps (model/pinned.py; one covariance type, no padding, no prior)."""
        self.source: SumSource = PointsInMemory(x) if isinstance(x, torch.Tensor) else x
        self.n_samples, self.n_features, self.dtype = self.source.n_samples, self.source.n_features, self.source.dtype
        self.weights, self.means, self.cov = (p.to(HOST) for p in params)
        r, k = self.weights.shape
        types = [covariance_type] * r if isinstance(covariance_type, str) else list(covariance_type)
        self.type_names = sorted(set(types))
        self.type_of = torch.tensor([self.type_names.index(t) for t in types])  # (R,) index into type_names
        self.real = None if n_components is None else torch.arange(k) < torch.tensor(n_components)[:, None]
        self.reg = reg.to(HOST)
        self.priors = priors
        self.pins = pins
        # with a prior a component that lost its points keeps the prior's covariance (positive definite): it stays,
        # as in mclust's MAP EM, and is reported; re-seeding it would restart the climb it ended (and never settle)
        self.empty_policy = "report" if priors is not None else empty_policy
        # restarts stopped because a covariance lost positive definiteness (reg_covar 0 and a component
        # collapsed onto repeated values): they drop out of the batch, the others go on
        self.failed = torch.zeros(r, dtype=torch.bool)
        self.failures: dict[int, int] = {}  # restart -> the component whose covariance failed
        all_rows = torch.arange(r)
        chol, ok = self._factor(all_rows, self.cov)
        # a restart that failed at once is never evaluated; identity factors keep the tensor finite
        eye = torch.eye(self.n_features, dtype=self.dtype)
        self.chol = torch.where(ok[:, None, None, None], chol, eye.expand_as(chol))
        self._rows = all_rows[ok]  # restarts computed at the next evaluate()
        self._mean_ll = torch.full((r,), float("nan"), dtype=torch.float64)
        self._stats: torch.Tensor | None = None  # (len(rows), K, P) float64, on the CPU
        self.reseeded: list[list[int]] = [[] for _ in range(r)]
        self.empty: list[list[int]] = [[] for _ in range(r)]
        self._flagged: set[int] = set()  # restarts whose empty/reseeded lists are not empty
        self._plan: tuple[bytes, _GroupPlan] | None = None  # the M-step's groups for the rows last stepped

    @classmethod
    def create(
        cls, x: torch.Tensor, params: Params, cfg: FitConfig, reg: torch.Tensor, rng: torch.Generator
    ) -> ExactEM:
        """The Procedure protocol's constructor (exact EM draws nothing: rng is unused)."""
        return cls(x, params, cfg.covariance_type, reg, cfg.empty_policy, pins=pins_of(cfg, params))

    @property
    def n_restarts(self) -> int:
        return self.means.shape[0]

    def params(self) -> Params:
        return self.weights, self.means, self.cov

    def evaluate(self) -> torch.Tensor:
        """E-step at the current parameters of the running restarts; mean per-point log-likelihood (R,),
        on the CPU."""
        rows = self._rows
        if len(rows) == 0:  # the last running restart has just failed: nothing to evaluate
            return self._mean_ll.clone()
        weights, means, chol = (self._take(p, rows) for p in (self.weights, self.means, self.chol))
        if getattr(self.source, "per_row", False):  # one weight vector a row (the bootstrap's): say which rows
            self.source.use_rows(rows)
        self._stats, mean_ll = self.source.e_step(torch.log(weights), means, chol)
        self._mean_ll = self._mean_ll.index_copy(0, rows, mean_ll)
        return self._mean_ll

    def initial_loss(self) -> torch.Tensor:
        """EM's loss at the initial parameters: minus the total log-likelihood (R,), by restart number; +inf for a
        restart that failed at its start (never evaluated: never the lowest). Call after the first evaluate."""
        return self._by_restart(self.source.total_ll())

    def _by_restart(self, evaluated: torch.Tensor | None) -> torch.Tensor:
        """Values of the restarts evaluated last (len(self._rows),) spread to every restart (R,), +inf elsewhere: the
        batch is indexed by restart number everywhere, also when restarts failed at their start."""
        loss = torch.full((self.n_restarts,), float("inf"), dtype=torch.float64)
        if evaluated is not None and len(self._rows):
            loss[self._rows] = -evaluated.to(torch.float64)
        return loss

    def step(self, active: torch.Tensor) -> None:
        """M-step from the last E-step for the restarts where active (R,) is True; the others keep theirs."""
        keep = torch.nonzero(active.to(HOST)[self._rows]).flatten()  # of the rows evaluated, those still running
        rows = self._take(self._rows, keep, len(self._rows))
        stats = self._take(self._stats, keep, len(self._rows))
        # the M-step in float64 (the statistics are float64), the parameters back in the working dtype
        weights, means, cov = (p.to(self.dtype) for p in self._m_step(rows, stats))
        weights, means, cov = self._handle_empty(rows, keep, stats[..., 0], weights, means, cov)
        chol, ok = self._factor(rows, cov)  # a restart that failed here keeps its last valid parameters
        if not bool(ok.all()):
            rows, weights, means, cov, chol = rows[ok], weights[ok], means[ok], cov[ok], chol[ok]
        # new tensors, never in-place: the previous ones may still be read (params() is handed out)
        self.weights, self.means, self.cov, self.chol = (
            self._put(old, rows, new)
            for old, new in ((self.weights, weights), (self.means, means), (self.cov, cov), (self.chol, chol))
        )
        self._rows = rows

    def _m_step(self, rows: torch.Tensor, stats: torch.Tensor) -> Params:
        """The M-step (float64) for restarts rows (M,) from their statistics (M, K, P), each restart with its
        covariance type (the groups: _plan_of); padded components get weight 0, mean 0 and an identity covariance."""
        n, d, reg = self.n_samples, self.n_features, self.reg.double()
        # the covariances before this step (the last update's own answer, of the type's form): where an iterative
        # M-step's inner loop starts, so that it cannot end worse than they were (EM stays monotone)
        previous = self._take(self.cov, rows).double()
        if len(self.type_names) == 1 and self.real is None:
            prior = self._prior(0, stats.shape[1])
            return _contained_m_step(stats, n, self.type_names[0], reg, previous, prior, self.pins)
        plan = self._plan_of(rows, stats.shape[1])
        parts = [
            _contained_m_step(
                stats if at is None else stats[at, :k],
                n,
                self.type_names[kind],
                reg,
                previous if at is None else previous[at, :k],
                self._prior(kind, k),
            )
            for at, kind, k in plan.groups
        ]
        if plan.order is None:  # one group of every row, unsliced: its answer as it is
            weights, means, cov = parts[0]
        elif plan.whole:  # every group unsliced: the parts in group order, put back in row order by one gather
            weights, means, cov = (torch.cat(p)[plan.order] for p in zip(*parts, strict=True))
        else:
            weights, means, cov = _scattered(plan, parts, stats, d)
        if self.real is None:
            return weights, means, cov
        real = plan.real  # (M, K): a pad-safe group's padded components back to weight 0, mean 0, identity
        return (
            torch.where(real, weights, 0.0),
            torch.where(real[..., None], means, 0.0),
            torch.where(real[..., None, None], cov, plan.eye),
        )

    def _plan_of(self, rows: torch.Tensor, k_max: int) -> _GroupPlan:
        """The M-step's groups for restarts rows (M,) (the same until a restart stops or fails: kept till then).

        A padded batch (the grid's) runs each pad-safe type's update once, padded (CovarianceType.pad_safe: a
        component with N_k = 0 changes no shared part); any other type runs each (type, K) group on its real
        components only, since a part it shares (a volume, a shape, an orientation) might take in the empty
        padded ones. One call per type instead of one per (type, K): ~9x fewer updates per iteration on a grid."""
        key = rows.numpy().tobytes()
        if self._plan is not None and self._plan[0] == key:
            return self._plan[1]
        groups = self.type_of[rows] * (k_max + 1)
        if self.real is not None:
            # a prior depends on K (its scale is the data's spread shared among K components, and an empty component
            # would bring that scale into the shared sums): one group per K
            pad_safe = [COVARIANCE_TYPES[name].pad_safe and self.priors is None for name in self.type_names]
            sliced = ~torch.tensor(pad_safe)[self.type_of[rows]]
            groups = groups + torch.where(sliced, self.real[rows].sum(-1), k_max)
        plan = _GroupPlan.of(groups, k_max, sliced_k=self.real is not None)
        d = self.n_features
        real = None if self.real is None else self.real[rows]
        plan = plan._replace(real=real, eye=torch.eye(d, dtype=torch.float64))
        self._plan = (key, plan)
        return plan

    def _real_of(self, rows: torch.Tensor) -> torch.Tensor:
        """real[rows] (M, K): from the M-step's plan when it was made for these rows (no index per iteration)."""
        if self._plan is not None and self._plan[0] == rows.numpy().tobytes():
            return self._plan[1].real
        return self.real[rows]

    def _prior(self, kind: int, k: int) -> Prior | None:
        """The prior of the type_names[kind] components at K = k (None without one)."""
        return None if self.priors is None else self.priors(self.type_names[kind], k)

    def _take(self, t: torch.Tensor, rows: torch.Tensor, n: int | None = None) -> torch.Tensor:
        """t[rows] for rows (M,), a sorted subset of range(n) (default: every restart); t itself when the
        subset is everything. Most iterations run every restart, and each avoided copy counts here."""
        return t if len(rows) == (self.n_restarts if n is None else n) else t[rows]

    def _put(self, old: torch.Tensor, rows: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """A copy of old (R, ...) with rows (M,) replaced by new (M, ...); new itself when rows are all R."""
        return new if len(rows) == self.n_restarts else old.index_copy(0, rows, new)

    def _handle_empty(
        self,
        rows: torch.Tensor,
        evaluated: torch.Tensor,
        nk: torch.Tensor,
        weights: torch.Tensor,
        means: torch.Tensor,
        cov: torch.Tensor,
    ) -> Params:
        """Re-seed (or only record) components with fewer than EMPTY_NK points of responsibility.

        A re-seeded component moves to the worst-explained point, takes the average covariance of the
        others and an equal share 1/K of the weight (the others shrink in proportion), so that it can
        win points at the next E-step. rows (M,) are the restarts the other arguments (M, ...) belong to,
        evaluated (M,) their places in the last E-step's log p(x_n).
        """
        empty = nk < EMPTY_NK
        if self.real is not None:
            empty &= self._real_of(rows)
        stepped = self._flagged.intersection(rows.tolist()) if self._flagged else ()
        for r in stepped:  # the last step's verdicts, for the restarts stepped now
            self.empty[r], self.reseeded[r] = [], []
            self._flagged.discard(r)
        if not bool(empty.any()):
            return weights, means, cov
        weights, means, cov = weights.clone(), means.clone(), cov.clone()
        for i, r in enumerate(rows.tolist()):
            k_total = means.shape[1] if self.real is None else int(self.real[r].sum())
            comps = torch.nonzero(empty[i]).flatten().tolist()
            self.empty[r] = comps
            if comps:
                self._flagged.add(r)
            if not comps or len(comps) == k_total or self.empty_policy != "reseed":
                continue
            if self.pins is not None:
                self.reseeded[r] = self._reseed_pinned(i, int(evaluated[i]), comps, weights, means, cov)
                continue
            worst = self.source.worst_points(int(evaluated[i]), len(comps))  # the worst-explained points
            full = [k for k in range(k_total) if k not in comps]
            avg_cov = cov[i, full].mean(0)
            for point, k in zip(worst, comps, strict=True):
                means[i, k] = point
                cov[i, k] = avg_cov
            weights[i, full] *= (1.0 - len(comps) / k_total) / weights[i, full].sum()
            weights[i, comps] = 1.0 / k_total
            self.reseeded[r] = comps
        return weights, means, cov

    def _reseed_pinned(
        self, i: int, evaluated: int, comps: list[int], weights: torch.Tensor, means: torch.Tensor, cov: torch.Tensor
    ) -> list[int]:
        """_handle_empty's re-seeding with pins, in place on row i of weights (M, K), means (M, K, D), cov (M, K, D, D):
        a component with any pinned parameter never moves (it is only reported empty); the others move as without
        pins, their weight an equal share of what the pinned weights leave, the other free weights shrinking in
        proportion. Returns the components re-seeded."""
        pinned = self.pins.component.tolist()
        moved = [k for k in comps if not pinned[k]]
        if not moved:
            return []
        k_total = means.shape[1]
        worst = self.source.worst_points(evaluated, len(moved))
        full = [k for k in range(k_total) if k not in comps]
        avg_cov = cov[i, full].mean(0)
        for point, k in zip(worst, moved, strict=True):
            means[i, k] = point
            cov[i, k] = avg_cov
        free = [k for k in range(k_total) if not bool(self.pins.weight[k]) and k not in moved]
        left = float(1.0 - self.pins.weights[self.pins.weight].sum())  # what the pinned weights leave
        share = left / (len(free) + len(moved))
        if free:
            weights[i, free] *= (left - share * len(moved)) / weights[i, free].sum()
        weights[i, moved] = share
        return moved

    def _factor(self, rows: torch.Tensor, cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cholesky factors of cov (M, K, D, D) for restarts rows (M,), and which rows succeeded (M,). A
        restart whose factor fails is marked failed, with the component that failed."""
        chol, bad = gaussian.cholesky(cov)
        bad_rows = bad.any(-1)
        if not bool(bad_rows.any()):
            return chol, ~bad_rows
        for i in torch.nonzero(bad_rows).flatten().tolist():
            r = int(rows[i])
            self.failed[r] = True
            self.failures[r] = int(torch.nonzero(bad[i])[0])
        return chol, ~bad_rows


class _GroupPlan(NamedTuple):
    """The M-step's groups for M restarts: (rows (G,), or None for all M; the type's index; its components k), the
    place of each restart in the groups' concatenation (M,) (None: one group of every restart, unsliced), whether
    every group has all K components; the restarts' real components (M, K) (None without padding) and I (D, D)."""

    groups: list[tuple[torch.Tensor | None, int, int]]
    order: torch.Tensor | None
    whole: bool
    real: torch.Tensor | None = None
    eye: torch.Tensor | None = None

    @staticmethod
    def of(groups: torch.Tensor, k_max: int, sliced_k: bool) -> _GroupPlan:
        """The plan of group labels (M,) = type index * (k_max + 1) + components (+ k_max where not sliced_k)."""
        made = []
        for group in torch.unique(groups).tolist():
            kind, k = divmod(group, k_max + 1)
            made.append((torch.nonzero(groups == group).flatten(), kind, k if sliced_k else k_max))
        whole = all(k == k_max for _, _, k in made)
        if len(made) == 1 and whole:
            return _GroupPlan([(None, made[0][1], k_max)], None, True)
        return _GroupPlan(made, torch.argsort(torch.cat([at for at, _, _ in made])), whole)


def _scattered(plan: _GroupPlan, parts: list[Params], stats: torch.Tensor, d: int) -> Params:
    """The groups' answers parts [(weights (G, k), means (G, k, D), cov (G, k, D, D))] written into the rows and
    components they belong to (stats (M, K, P) gives the shapes); the components a group lacks: weight 0, mean 0,
    identity covariance."""
    weights, means = stats.new_zeros(stats.shape[:2]), stats.new_zeros((*stats.shape[:2], d))
    cov = torch.eye(d, dtype=stats.dtype).repeat(*stats.shape[:2], 1, 1)
    for (at, _, k), part in zip(plan.groups, parts, strict=True):
        for out, value in zip((weights, means, cov), part, strict=True):
            out[at, :k] = value
    return weights, means, cov


def pins_of(cfg: FitConfig, params: Params) -> Pins | None:
    """The parameters cfg pins (engine/fixed.py) at their start params (weights (R, K), ...) in the working units;
    None without pins."""
    if cfg.fixed is None:
        return None
    return Pins.of(cfg.fixed.masks(params[0].shape[1]), params)


def _contained_m_step(
    stats: torch.Tensor,
    n: int,
    type_name: str,
    reg: torch.Tensor,
    previous: torch.Tensor,
    prior: Prior | None,
    pins: Pins | None = None,
) -> Params:
    """gaussian.m_step for restarts (M, K, P); a restart whose update cannot be computed (an iterative model's
    eigendecomposition of a collapsed component's scatter, with reg_covar 0) gets NaN covariances, so that it fails
    alone (ExactEM._factor) as a restart whose covariance lost positive definiteness does, and the others go on."""
    try:
        return gaussian.m_step(stats, n, type_name, reg, previous, prior, pins)
    except torch.linalg.LinAlgError:
        if stats.shape[0] == 1:
            weights, means, cov = gaussian.m_step(stats, n, "full", reg, pins=pins)  # the weights and means stand
            return weights, means, torch.full_like(cov, float("nan"))
        parts = [
            _contained_m_step(stats[r : r + 1], n, type_name, reg, previous[r : r + 1], prior, pins)
            for r in range(len(stats))
        ]
        return tuple(torch.cat(p) for p in zip(*parts, strict=True))


def failure_warning(restart: int, component: int) -> str:
    """What a snapshot says about a restart that stopped on a covariance that is not positive definite."""
    return (
        f"restart {restart} stopped: component {component} has a covariance that is not positive definite "
        "(it collapsed onto too few distinct points)"
    )


def all_failed_error(restart: int, component: int) -> UserError:
    """The error when every restart of a fit stopped so (restart, component: the last one to fail)."""
    return UserError(
        f"component {component} (restart {restart}) has a covariance that is not positive definite (it collapsed "
        "onto too few distinct points), and so did every other restart: decrease the number of components, "
        "increase reg_covar, or check the data for repeated values"
    )
