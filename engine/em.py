"""Exact EM over the mixture model, batched over restarts.

The E-step evaluates the model's log-joint log w_k + log N(x | mu_k, Sigma_k) for every point and k (the
same quantity MixtureModel.log_joint computes through Pyro's distributions; tests check they agree) as one
matrix product, normalises it (responsibilities), and the M-step is the closed-form weighted maximum
likelihood update with reg_covar on the diagonal.
"""

from __future__ import annotations

import torch

from . import gaussian
from .init import Params

# A component with less than one point's worth of responsibility has "lost all its points".
EMPTY_NK = 1.0


class ExactEM:
    """State and steps of exact EM. x (N, D) in working units; params batched over R restarts."""

    def __init__(self, x: torch.Tensor, params: Params, covariance_type: str, reg: torch.Tensor,
                 empty_policy: str = "reseed") -> None:
        self.x = x
        self.features = gaussian.quadratic_features(x)  # (N, P), computed once per fit
        self.weights, self.means, self.cov = params
        self.covariance_type = covariance_type
        self.reg = reg
        self.empty_policy = empty_policy
        self.chol = self._checked_cholesky(self.cov)
        self._resp: torch.Tensor | None = None
        self._log_norm: torch.Tensor | None = None
        self.reseeded: list[list[int]] = [[] for _ in range(self.n_restarts)]
        self.empty: list[list[int]] = [[] for _ in range(self.n_restarts)]

    @property
    def n_restarts(self) -> int:
        return self.means.shape[0]

    def params(self) -> Params:
        return self.weights, self.means, self.cov

    def evaluate(self) -> torch.Tensor:
        """E-step at the current parameters; returns the mean per-point log-likelihood (R,)."""
        coef = gaussian.log_joint_coefficients(torch.log(self.weights), self.means, self.chol)
        self._resp, self._log_norm = gaussian.e_step(self.features, coef)
        return self._log_norm.mean(-1)

    def initial_loss(self) -> torch.Tensor:
        """EM's loss at the current parameters: minus the total log-likelihood (R,). Call after evaluate."""
        return -self._log_norm.sum(-1)

    def step(self, active: torch.Tensor) -> None:
        """M-step from the last E-step; restarts where active (R,) is False keep their parameters."""
        stats = gaussian.sufficient_statistics(self.features, self._resp)
        weights, means, cov = gaussian.m_step(stats, self.x.shape[0], self.covariance_type, self.reg)
        weights, means, cov = self._handle_empty(stats[..., 0], weights, means, cov)
        keep = ~active
        self.weights = torch.where(keep[:, None], self.weights, weights)
        self.means = torch.where(keep[:, None, None], self.means, means)
        self.cov = torch.where(keep[:, None, None, None], self.cov, cov)
        self.chol = self._checked_cholesky(self.cov)

    def _handle_empty(self, nk: torch.Tensor, weights: torch.Tensor, means: torch.Tensor,
                      cov: torch.Tensor) -> Params:
        """Re-seed (or only record) components with fewer than EMPTY_NK points of responsibility.

        A re-seeded component moves to the worst-explained point, takes the average covariance of the
        others and an equal share 1/K of the weight (the others shrink in proportion), so that it can
        win points at the next E-step.
        """
        empty = nk < EMPTY_NK
        self.empty = [torch.nonzero(row).flatten().tolist() for row in empty]
        self.reseeded = [[] for _ in range(self.n_restarts)]
        if not bool(empty.any()) or self.empty_policy != "reseed":
            return weights, means, cov
        weights, means, cov = weights.clone(), means.clone(), cov.clone()
        worst = self._log_norm.argsort(dim=-1)  # (R, N): worst-explained points first
        k_total = means.shape[1]
        for r, comps in enumerate(self.empty):
            if not comps or len(comps) == k_total:
                continue
            full = [k for k in range(k_total) if k not in comps]
            avg_cov = cov[r, full].mean(0)
            for i, k in enumerate(comps):
                means[r, k] = self.x[worst[r, i]]
                cov[r, k] = avg_cov
            weights[r, full] *= (1.0 - len(comps) / k_total) / weights[r, full].sum()
            weights[r, comps] = 1.0 / k_total
            self.reseeded[r] = comps
        return weights, means, cov

    def _checked_cholesky(self, cov: torch.Tensor) -> torch.Tensor:
        chol, failed = gaussian.cholesky(cov)
        if bool(failed.any()):
            from .errors import UserError

            r, k = (int(v) for v in torch.nonzero(failed)[0])
            raise UserError(
                f"component {k} (restart {r}) has a covariance that is not positive definite (it collapsed "
                "onto too few distinct points): decrease the number of components, increase reg_covar, "
                "or check the data for repeated values"
            )
        return chol
