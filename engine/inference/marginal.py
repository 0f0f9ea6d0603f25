"""Maximum marginal likelihood by gradient: the assignment z is summed out exactly by Pyro's
enumeration (TraceEnum_ELBO over the shared model, with an empty guide), and Adam steps the parameters.
"""

from __future__ import annotations

import pyro
import torch
from pyro.infer import TraceEnum_ELBO, config_enumerate

from ..model.model import pyro_section
from .adam_procedure import AdamProcedure


def _empty_guide(data: torch.Tensor) -> None:
    """No latent variables left to guide: z is enumerated, all parameters are point estimates."""


class MarginalSVI(AdamProcedure):
    """marginal: x (N, D) in working units; params batched over R restarts."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.model = config_enumerate(self.module.model, default="parallel")
        self.elbo = TraceEnum_ELBO(max_plate_nesting=2)
        self._per_restart: torch.Tensor | None = None

    def evaluate(self) -> torch.Tensor:
        """The enumerated ELBO (here exactly minus the log-likelihood); returns mean log-likelihood (R,)."""
        with pyro_section(self.rng, self.device_rng):
            self._loss = self.elbo.differentiable_loss(self.model, _empty_guide, self.x)
            with torch.no_grad(), pyro.poutine.block():
                # per-restart values for selection and display, from the same model's distributions
                log_lik = torch.logsumexp(self.module.log_joint(self.x), dim=-1)
        self._per_restart = -log_lik.sum(-1)
        return log_lik.mean(-1)

    def initial_loss(self) -> torch.Tensor:
        """Minus the total log-likelihood (R,)."""
        return self._per_restart
