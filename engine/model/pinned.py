"""The constrained M-step of pinned parameters (engine/fixed.py says which), exact, so that EM stays monotone.

Shapes: R restarts, K components, D dimensions; the pinned values are the same for every restart (the start's),
in the working units. The M-step maximises the expected complete-data log-likelihood with the pins held:
- pinned weights keep their values; the free ones are the Lagrange solution, w_k = N_k / sum_free N_j times the
  weight the pinned ones leave, 1 - sum_pinned w_j;
- a pinned mean mu_k stays, and its component's covariance (if free) is fitted to the scatter about it,
  W_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T = second - s1 mu^T - mu s1^T + N_k mu mu^T. Every covariance update
  forms W_k as second - N_k outer (algebra.scatter, closed.full, closed.tied), so the update is given
  second' = second - s1 mu^T - mu s1^T + 2 N_k mu mu^T with outer = mu mu^T;
- a pinned covariance stays (the models with a shared part take all of them pinned or none: engine/fixed.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass(frozen=True)
class Pins:
    """Masks (K,) of the pinned weights, means, covariances, and their values: weights (K,), means (K, D),
    covariances (K, D, D), in the working units and float64."""

    weight: Tensor
    mean: Tensor
    cov: Tensor
    weights: Tensor
    means: Tensor
    covariances: Tensor

    @classmethod
    def of(cls, masks: tuple, start: tuple[Tensor, Tensor, Tensor]) -> Pins | None:
        """The pins of masks (three bool arrays (K,)) at the start of restart 0 (weights (R, K), means (R, K, D),
        covariances (R, K, D, D)); None when nothing is pinned."""
        weight, mean, cov = (torch.as_tensor(m, dtype=torch.bool) for m in masks)
        if not bool(weight.any() or mean.any() or cov.any()):
            return None
        weights, means, covariances = (p[0].detach().to("cpu", torch.float64).clone() for p in start)
        return cls(weight, mean, cov, weights, means, covariances)

    @property
    def component(self) -> Tensor:
        """Components (K,) with any pinned parameter."""
        return self.weight | self.mean | self.cov

    def weights_from(self, nk: Tensor) -> Tensor:
        """The weights (R, K) for responsibilities' sums nk (R, K): pinned ones kept, the free ones the Lagrange
        solution (their N_k shares of 1 - sum of the pinned weights)."""
        free = torch.where(self.weight, 0.0, nk)
        left = 1.0 - torch.where(self.weight, self.weights, 0.0).sum()
        return torch.where(self.weight, self.weights.to(nk), free / free.sum(-1, keepdim=True) * left)

    def centred(self, means: Tensor, second: Tensor, s1: Tensor, nk: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(means (R, K, D), second (R, K, D, D), outer (R, K, D, D)) for the covariance update: a pinned mean stays
        and its second moment becomes second' (the module's docstring), so that second' - N_k outer is the scatter
        about the pinned mean. s1 (R, K, D) = sum_n r x; nk (R, K) as the update receives it."""
        mu = self.means.to(means).expand_as(means)
        means = torch.where(self.mean[:, None], mu, means)
        outer = means.unsqueeze(-1) * means.unsqueeze(-2)
        cross = s1.unsqueeze(-1) * mu.unsqueeze(-2)  # s1 mu^T
        pinned_outer = mu.unsqueeze(-1) * mu.unsqueeze(-2)
        about = second - cross - cross.transpose(-1, -2) + 2.0 * nk[..., None, None] * pinned_outer
        return means, torch.where(self.mean[:, None, None], about, second), outer

    @property
    def all_covariances(self) -> bool:
        return bool(self.cov.all())

    def covariances_from(self, cov: Tensor | None, like: Tensor) -> Tensor:
        """The covariances (R, K, D, D): the update's cov with the pinned ones put back (cov None: all pinned; like
        (R, K, ...) gives the batch's shape and dtype)."""
        pinned = self.covariances.to(like.dtype).expand(*like.shape[:2], *self.covariances.shape[-2:])
        if cov is None:
            return pinned.clone()
        return torch.where(self.cov[:, None, None], pinned, cov)
