"""The parametric bootstrap's replicates (issue 25): each replicate's own points drawn from the fitted mixture, and
their E-step, a pass over each replicate's points (ReplicatePoints, SimulatedMissing), while the M-step and the
bookkeeping stay batched.

Complete data: each replicate draws N points from the fit (round(sum w) with frequency weights w: the expanded
data's size).

Data with missing values (a fit with missing="em"): each replicate draws the same number of points, then blanks in
its simulated row i exactly the cells missing in data row i: the missingness pattern is kept as observed, the values
are new. That is exact when cells go missing completely at random (MCAR: which cells are missing does not depend on
any value), and the usual approximation when they go missing at random (MAR: it depends on observed values, which
differ in a replicate, so the pattern that goes with them would too). Each replicate is then exact missing-values EM
over its own points (inference/missing.py's E-step); as every replicate misses the same cells, SimulatedMissing sorts
them by pattern once and batches the patterns' algebra over the replicates. With frequency weights a data row of
weight w stands for w rows, so its pattern goes to w of the round(sum w) simulated points (pattern_counts): for whole
weights the patterns of the expanded data, row for row; fractional weights are apportioned to whole counts by
largest remainders.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from ..inference.init import Params
from ..inference.missing import MissingPoints, filled_points
from ..inference.pipeline import Setup, working_points
from ..inference.sources import HOST, PointsInMemory
from ..io.data import sample_mixture
from ..model import gaussian
from ..snapshot import CancelToken


def pattern_counts(base: np.ndarray, size: int) -> np.ndarray:
    """How many of a replicate's `size` simulated points take each data row's missingness pattern (N,) int64, for
    frequency weights base (N,): w_i for whole weights that sum to size; else each row's floor(size w_i / sum w)
    and the points left over one each to the rows of largest remainder (the first of equal ones), so that the counts
    sum to size."""
    share = np.asarray(base, dtype=np.float64) * (size / float(np.sum(base)))
    counts = np.floor(share).astype(np.int64)
    left = size - int(counts.sum())
    if left > 0:  # 0 <= left < N: the remainders are each below 1 and sum to left
        counts[np.argsort(-(share - counts), kind="stable")[:left]] += 1
    return counts


def simulated_holes(missing: np.ndarray, base: np.ndarray | None, size: int) -> np.ndarray:
    """Which cells of a replicate's `size` simulated points (size, D) bool are missing, from the data's missing
    cells (N, D) bool: data row i's for simulated row i; with frequency weights base (N,) row i's pattern repeated
    pattern_counts times, in the data's order."""
    return missing if base is None else np.repeat(missing, pattern_counts(base, size), axis=0)


def simulated_sources(
    setup: Setup,
    fitted: tuple[np.ndarray, ...],
    replicates: int,
    size: int,
    rng: np.random.Generator,
    holes: np.ndarray | None = None,
    cancel: CancelToken | None = None,
) -> ReplicatePoints | SimulatedMissing:
    """The replicates' E-step over each one's `size` points drawn from the fitted mixture (weights (K,), means
    (K, D), covariances (K, D, D) in data units), in the fit's working units: ReplicatePoints (a PointsInMemory a
    replicate), or with holes (size, D) those cells missing (NaN) in every replicate and SimulatedMissing over them.
    Both check cancel before each chunk of an E-step."""
    seeds = rng.integers(0, 2**63 - 1, size=replicates)

    def drawn():  # one replicate's points at a time: only its kept form stays
        for s in seeds:
            points, _ = sample_mixture(*fitted, size, int(s))
            if holes is not None:
                points[holes] = np.nan
            yield working_points(points, setup.scaling, setup.dtype, setup.device)

    if holes is None:
        return ReplicatePoints([PointsInMemory(x, None, cancel) for x in drawn()])
    return SimulatedMissing(drawn(), np.log(setup.scaling.scale), cancel)


class SimulatedMissing(MissingPoints):
    """The parametric bootstrap's E-step on data with missing values: each restart row r over its own points, all
    missing the same cells (simulated_holes), so ONE sort by pattern serves them all and each E-step's patterns'
    algebra (pattern_algebra.PatternAlgebra) is batched over the rows; only the fused pass over the
    points runs row by row, over each row's own. ExactEM says which rows each E-step is for (use_rows)."""

    per_row = True

    def __init__(self, sets: Iterable[torch.Tensor], log_scale: np.ndarray, cancel: CancelToken | None = None) -> None:
        """sets: each replicate's points (N, D) in working units, NaN where missing (the same cells in each), taken
        one at a time (each kept sorted by pattern, its missing cells at 0; the one given dropped)."""
        given = iter(sets)
        super().__init__(next(given), None, log_scale, cancel=cancel)
        order = self.order.to(HOST).numpy()
        self.xs = [self.x] + [filled_points(x, order, self.dtype, None) for x in given]
        self._features = [self.features] + [gaussian.features_of(x) for x in self.xs[1:]]
        self._lifted = [self.lifted] + [gaussian.lifted_of(x) for x in self.xs[1:]]
        self._rows = list(range(len(self.xs)))

    def use_rows(self, rows: torch.Tensor) -> None:
        self._rows = rows.tolist()

    def _pattern_sums(self, whitened: bool, per_pattern: tuple) -> torch.Tensor:
        """MissingPoints' sums (n_pat, M, K, P), row i over its replicate's points with its parameters' slice."""
        parts = [
            self._sums_over(self._features[r], self._lifted[r], whitened, tuple(a[:, i : i + 1] for a in per_pattern))
            for i, r in enumerate(self._rows)
        ]
        self._log_norm = torch.cat([p[1] for p in parts])
        return torch.cat([p[0].to(HOST) for p in parts], dim=1)

    def first_sums(self, one: Params) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every replicate's E-step sums (B, K, P), log-likelihood (B,) float64 and point count (B,) at one parameter
        set (K,), (K, D), (K, D, D) float64 (replicate_start.first_points): one batched E-step."""
        b, n = len(self.xs), self.n_samples
        w, m, c = (p.to(self.dtype).expand(b, *p.shape) for p in one)
        self.use_rows(torch.arange(b))
        stats, mean_ll = self.e_step(torch.log(w), m, gaussian.cholesky(c)[0])
        return stats, mean_ll * n, torch.full((b,), float(n), dtype=torch.float64)

    def worst_points(self, row: int, count: int) -> torch.Tensor:
        """The count points of lowest log p(x_o) under row `row` (of the E-step's rows), in its replicate's points,
        missing coordinates at their column's mean (0), worst first."""
        return self.xs[self._rows[row]][self._log_norm[row].argsort()[:count]].to(HOST)

    def lowest(self, count: int):
        raise TypeError("the parametric replicates are held in memory, not read by passes: no lowest points")


class ReplicatePoints:
    """The parametric bootstrap's E-step: each restart row r over its own points (N, D), sets[r] (a PointsInMemory
    or a MissingPoints a replicate, unweighted); ExactEM says which rows each E-step is for (use_rows), as for
    per-row weights."""

    per_row = True

    def __init__(self, sets: list[PointsInMemory | MissingPoints]) -> None:
        self.sets = sets
        self.n_samples, self.n_features = sets[0].n_samples, sets[0].n_features
        self.dtype = sets[0].dtype
        self._rows = list(range(len(sets)))

    def use_rows(self, rows: torch.Tensor) -> None:
        self._rows = rows.tolist()

    def first_sums(self, one: Params) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every replicate's E-step sums (B, K, P), log-likelihood (B,) float64 and point count (B,) at one parameter
        set (K,), (K, D), (K, D, D) float64 (replicate_start.first_points)."""
        b, n = len(self.sets), self.n_samples
        w, m, c = (p.to(self.dtype).expand(b, *p.shape) for p in one)
        self.use_rows(torch.arange(b))
        stats, mean_ll = self.e_step(torch.log(w), m, gaussian.cholesky(c)[0])
        return stats, mean_ll * n, torch.full((b,), float(n), dtype=torch.float64)

    def e_step(
        self, log_weights: torch.Tensor, means: torch.Tensor, chol: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [
            self.sets[r].e_step(log_weights[i : i + 1], means[i : i + 1], chol[i : i + 1])
            for i, r in enumerate(self._rows)
        ]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def total_ll(self) -> torch.Tensor | None:
        lls = [self.sets[r].total_ll() for r in self._rows]
        return None if any(ll is None for ll in lls) else torch.cat(lls)

    def worst_points(self, row: int, count: int) -> torch.Tensor:
        return self.sets[self._rows[row]].worst_points(0, count)
