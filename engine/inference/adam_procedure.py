"""What the two gradient procedures (gradient-em, marginal) share: a MixtureModel and an Adam optimiser."""

from __future__ import annotations

import torch

from ..config import FitConfig
from ..model.model import MixtureModel, device_generator
from .init import Params


class AdamProcedure:
    """Parameters in a MixtureModel (batched over R restarts), stepped by Adam on a per-restart loss.

    Subclasses implement evaluate() (setting self._loss, a differentiable scalar or (R,) tensor) and
    initial_loss().
    """

    def __init__(
        self, x: torch.Tensor, params: Params, rng: torch.Generator, lr: float, betas: tuple[float, float]
    ) -> None:
        weights, means, cov = params
        self.x = x
        self.rng = rng
        self.device_rng = device_generator(rng, x.device)  # Pyro's draws on a GPU come from its generator
        self.module = MixtureModel(weights, means, torch.linalg.cholesky(cov))
        self.optim = torch.optim.Adam(self.module.parameters(), lr=lr, betas=betas)
        self._loss: torch.Tensor | None = None
        self.reseeded: list[list[int]] = [[] for _ in range(weights.shape[0])]
        self.empty: list[list[int]] = [[] for _ in range(weights.shape[0])]
        # a free Cholesky factor cannot fail: no restart ever stops early
        self.failed = torch.zeros(weights.shape[0], dtype=torch.bool)
        self.failures: dict[int, int] = {}

    @classmethod
    def create(
        cls, x: torch.Tensor, params: Params, cfg: FitConfig, reg: torch.Tensor, rng: torch.Generator
    ) -> AdamProcedure:
        """The Procedure protocol's constructor (reg_covar has no role in a gradient procedure)."""
        return cls(x, params, rng, cfg.lr, cfg.betas)

    def params(self) -> Params:
        """weights (R, K), means (R, K, D), covariances (R, K, D, D), detached."""
        with torch.no_grad():
            tril = self.module.scale_tril
            return self.module.weights.detach(), self.module.means.detach(), tril @ tril.transpose(-1, -2)

    def step(self, active: torch.Tensor) -> None:
        """One Adam step on the loss of the last evaluate(); restarts not active (R,) stay where they are."""
        before = None if bool(active.all()) else [p.detach().clone() for p in self.module.parameters()]
        self.optim.zero_grad(set_to_none=True)
        self._loss.sum().backward()
        self.optim.step()
        if before is not None:
            with torch.no_grad():
                for p, old in zip(self.module.parameters(), before, strict=True):
                    p.copy_(torch.where(active.to(p.device).reshape(-1, *([1] * (p.dim() - 1))), p, old))
