"""The check that a bootstrap replicate ends where its lone fit ends, shared by the missing-values bootstrap tests
(nonparametric and weighted replicates of the data, parametric replicates of simulated points)."""

from __future__ import annotations

import numpy as np


def assert_replicate_is_alone(boot, b: int, alone) -> None:
    """Replicate b of boot (weights (B, K), means (B, K, D), covariances (B, K, D, D)) equals the lone fit alone (a
    snapshot), its components matched by their second mean coordinate, to 1e-6 of each array's largest entry."""
    order = [int(np.argmin(np.abs(alone.means[:, 1] - m))) for m in boot.means[b, :, 1]]
    for got, want in zip(
        (boot.weights[b], boot.means[b], boot.covariances[b]),
        (alone.weights, alone.means, alone.covariances),
        strict=True,
    ):
        assert np.abs(got - want[order]).max() <= 1e-6 * np.abs(want).max()
