"""The bootstrap of a fit with missing values (issue 25, `fit --missing em --bootstrap B`): the replicates' E-step.

Each replicate is exact missing-values EM (inference/missing.py: each point's E-step on its observed coordinates, the
completed sums) on the data with its own frequency weights (B, N): ONE MissingPoints over the points, sorted by
missingness pattern once, whose E-step weighs each restart row's responsibilities with that row's weights (the fused
pass takes weights (R, c) per chunk as it takes (c,)). The replicates' first sums are one batched E-step at the fit
(first_sums), not complete data's shared product (replicate_start.shared_sums): a point's completed statistics
depend on its pattern's conditional algebra, and one E-step of the B rows is a few percent of the replicates' time
(docs/performance.md, 'The bootstrap').
"""

from __future__ import annotations

import numpy as np
import torch

from ..inference.init import Params
from ..inference.missing import MissingPoints
from ..inference.sources import HOST
from ..model import gaussian
from ..snapshot import CancelToken


class ReplicateMissing(MissingPoints):
    """MissingPoints (a SumSource) over points x (N, D) in working units (NaN: missing) with one frequency weight
    vector per restart row, rows (B, N) in x's dtype and device; ExactEM says which rows each E-step is for
    (use_rows), as for PointsInMemory's per-row weights. log_scale (D,) and cancel: as MissingPoints'."""

    per_row = True

    def __init__(
        self, x: torch.Tensor, rows: torch.Tensor, log_scale: np.ndarray, cancel: CancelToken | None = None
    ) -> None:
        super().__init__(x, None, log_scale, cancel=cancel)
        self._all = rows[:, self.order.to(rows.device)].contiguous()  # (B, N) in the points' pattern order
        self._all64 = self._all.to(torch.float64)
        self._taken: torch.Tensor | None = None
        self.use_rows(torch.arange(rows.shape[0]))

    def use_rows(self, rows: torch.Tensor) -> None:
        """The next E-step is for restart rows (M,) (sorted): their weights taken once per change of rows."""
        rows = rows.to(HOST)
        if self._taken is not None and torch.equal(rows, self._taken):
            return
        self._taken = rows
        at = rows.to(self._all.device)
        self._w = self._all[at]  # (M, N)
        self._w64 = self._w if self._all64 is self._all else self._all64[at]  # float64 points: one copy, not two
        self._total = self._w64.sum(1).to(HOST)  # (M,): e_step's mean log-likelihood per unit of weight

    def _weighted_sum(self) -> torch.Tensor:
        """sum_n w_mn log p(x_o,n) (M,) float64 on the CPU at the last E-step, each row with its own weights."""
        return torch.einsum("mn,mn->m", self._log_norm.to(torch.float64), self._w64).to(HOST)

    def worst_points(self, row: int, count: int) -> torch.Tensor:
        """The count points of lowest log p(x_o) under row `row` (of the E-step's rows) among those of weight > 0
        in it, missing coordinates at their column's mean (0), worst first."""
        log_norm = self._log_norm[row].masked_fill(self._w[row] == 0, float("inf"))
        return self.x[log_norm.argsort()[:count]].to(HOST)

    def first_sums(self, one: Params) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every replicate's E-step sums (B, K, P), total log-likelihood (B,) float64 and weight total (B,) at one
        parameter set (K,), (K, D), (K, D, D) float64 (replicate_start.first_points): one batched E-step."""
        b = self._all.shape[0]
        w, m, c = (p.to(self.dtype).expand(b, *p.shape) for p in one)
        self.use_rows(torch.arange(b))
        stats, mean_ll = self.e_step(torch.log(w), m, gaussian.cholesky(c)[0])
        return stats, mean_ll * self._total, self._total
