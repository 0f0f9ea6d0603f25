"""What every inference procedure provides to `fitting.fit`: the Procedure protocol.

Shapes: R restarts (a batch dimension everywhere), N points, K components, D dimensions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch

    from .config import FitConfig

# A batch of mixtures, R restarts of K components in D dimensions: weights (R, K), means (R, K, D), covariances
# (R, K, D, D). Named by strings: this module (the registry's contract) imports no torch.
Params = tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]


class Procedure(Protocol):
    """A fit's state, batched over R restarts, stepped by `fitting.fit`."""

    failed: torch.Tensor  # (R,) bool, on the CPU: restarts stopped for good; they drop out of the batch
    failures: dict[int, int]  # failed restart -> the component whose covariance failed
    reseeded: list[list[int]]  # per restart: components re-seeded at the last step
    empty: list[list[int]]  # per restart: components that had no points at the last step

    @classmethod
    def create(
        cls, x: torch.Tensor, params: Params, cfg: FitConfig, reg: torch.Tensor, rng: torch.Generator
    ) -> Procedure:
        """The procedure at initial parameters (R, K, ...) for points x (N, D) in working units; reg (D,) is
        reg_covar in those units, rng the sampling stream of restart 0 (the chosen one when one trains)."""
        ...

    def evaluate(self) -> torch.Tensor:
        """The objective at the current parameters: mean per-point log-likelihood (R,), on the CPU."""
        ...

    def initial_loss(self) -> torch.Tensor:
        """The procedure's loss at the initial parameters (R,); call after the first evaluate()."""
        ...

    def step(self, active: torch.Tensor) -> None:
        """One update of the restarts where active (R,) is True; the others keep their parameters."""
        ...

    def params(self) -> Params:
        """weights (R, K), means (R, K, D), covariances (R, K, D, D), in working units."""
        ...
