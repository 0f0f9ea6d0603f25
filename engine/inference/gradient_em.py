"""The forum recipe as an inference procedure over the shared model: Monte-Carlo EM with an Adam M-step.

Each step: the guide samples z from its exact posterior under the current parameters, the model is
replayed at that z, and Adam takes one step on minus the complete-data log-probability. No Python loop
over components: the model is vectorised over components and restarts.
"""

from __future__ import annotations

import torch

from ..model.model import forum_loss, pyro_section
from .adam_procedure import AdamProcedure


class ForumGradientEM(AdamProcedure):
    """gradient-em: x (N, D) in working units; params batched over R restarts."""

    def evaluate(self) -> torch.Tensor:
        """Trace the guide and replay the model: keeps the loss (R,), returns the mean log-likelihood (R,)."""
        with pyro_section(self.rng, self.device_rng):
            self._loss, log_lik = forum_loss(self.module, self.x)
        return log_lik.mean(-1)

    def initial_loss(self) -> torch.Tensor:
        """The forum's selection criterion: the loss at one posterior sample of z (R,)."""
        return self._loss.detach()
