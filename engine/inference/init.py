"""Initialisation strategies, batched over R restarts. Restart r draws from its own generator seeded
seed + r, so any restart can be reproduced alone with the same seed.

All functions take points x (N, D) in working units and return weights (R, K), means (R, K, D) and full
covariances (R, K, D, D) in those units. With frequency weights w (N,) (None: every point 1) each start is the one
the rows repeated w times would make where that is natural: k-means++ draws its first centre with probability
proportional to w and the next ones to w D^2, k-means' centres and the assignment's M-step are weighted means,
random-data draws distinct rows with probability proportional to w and the weighted covariance. The hierarchical
start agglomerates the sample's points of weight > 0, each once (mclust's hc has no weights: the merge cost of a
cluster of repeated points is not a weighted one), and its partition's M-step is weighted.

`hc` is deterministic: restart 0 is mclust's hierarchical start (engine/inference/hc.py), restarts r >= 1 are
k-means++ starts from generator seed + r (the same as `kmeans++`'s restart r).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..config import FitConfig
from ..errors import UserError
from ..model import gaussian
from ..model.covariances import COVARIANCE_TYPES
from ..model.prior import Prior
from ..model.scaling import Scaling
from ..procedure import Params
from ..runtime.memory import release_free_memory
from . import hc

LLOYD_STEPS = 10
Check = Callable[[], None] | None  # a fit's CancelToken.check: raises errors.Cancelled once cancelled; None: no token


def generators(seed: int, restarts: int) -> list[torch.Generator]:
    """One CPU generator per restart, seeded seed + r."""
    return [torch.Generator().manual_seed(seed + r) for r in range(restarts)]


def initial_points(x: torch.Tensor, seed: int) -> torch.Tensor:
    """The points (S, D) a start is drawn from: x (N, D) itself up to stream.SAMPLE_SIZE points, else the rows
    stream.sample_rows(seed, N, SAMPLE_SIZE) of it, ascending: the sample a fit of the same data read by chunks or
    on a Dask cluster gathers, so that the same seed starts the same way however the data is read."""
    from ..io import stream

    rows = stream.sample_rows(seed, x.shape[0], stream.SAMPLE_SIZE)
    if len(rows) == x.shape[0]:
        return x
    return x[torch.as_tensor(rows, device=x.device)]


def initial_weights(weights: torch.Tensor, seed: int) -> torch.Tensor:
    """The weights (S,) of initial_points' rows of the same points."""
    from ..io import stream

    return _rows_of(weights, seed, stream.SAMPLE_SIZE)


def initial_parameters(
    x: torch.Tensor,
    cfg: FitConfig,
    scaling: Scaling,
    reg: torch.Tensor,
    prior: Prior | None = None,
    weights: torch.Tensor | None = None,
    check: Check = None,
) -> Params:
    """Dispatch on cfg.init, drawing from the points x (S, D) (initial_points of the data). reg (D,) is reg_covar in
    working units; prior (working units): the starts' M-step is its MAP one (mclust's mstep with the prior);
    weights (S,): the points' frequency weights (see the module's docstring), None: all 1. check: called between
    blocks of points (a cancelled fit's starts end there with errors.Cancelled, not after all R restarts')."""
    k = cfg.n_components
    n = x.shape[0] if weights is None else int((weights > 0).sum())
    if cfg.init != "params" and n < k:
        counted = "points" if weights is None else "points of weight > 0"
        raise UserError(f"{n} {counted} cannot fit {k} components: use at most {n} components or more data")
    gens = generators(cfg.seed, cfg.restarts)
    if cfg.init == "params":
        return _explicit(x, cfg, scaling)
    if cfg.init == "forum":
        return _forum(x, k, gens, scaling)
    if cfg.init == "random-data":
        return _random_data(x, k, gens, cfg.covariance_type, weights)
    if cfg.init == "hc":
        return _hc(x, k, gens, cfg, reg, prior, weights, check)
    centers = kmeans_plus_plus(x, k, gens, weights, check)
    release_free_memory()  # its distance blocks (see engine/memory.py)
    if cfg.init == "kmeans":
        centers = lloyd(x, centers, LLOYD_STEPS, weights, check)
    return _from_hard_assignment(x, centers, cfg.covariance_type, reg, prior, weights, check)


def kmeans_plus_plus(
    x: torch.Tensor, k: int, gens: list[torch.Generator], weights: torch.Tensor | None = None, check: Check = None
) -> torch.Tensor:
    """k-means++ seeding (D^2 sampling, w D^2 with weights (N,)), batched: centres (R, K, D); check as in
    initial_parameters.

    Each restart draws its K uniforms up front from its own generator; the sampling itself is batched, a block of
    restarts at a time (each restart's numbers are its own: the same as all at once), so that the (R, N) distances
    and their cumulative sums of thousands of restarts are never whole (2,000 restarts on 50,000 points: 800 MB
    each, and seconds between two checks).
    """
    u = torch.stack([torch.rand(k, generator=g, dtype=torch.float64) for g in gens]).to(x.device)  # (R, K)
    per = max(1, DISTANCE_ELEMENTS // x.shape[0])  # restarts a block
    return torch.cat([_seeded(x, u[a : a + per], weights, check) for a in range(0, len(gens), per)])


def _seeded(x: torch.Tensor, u: torch.Tensor, weights: torch.Tensor | None, check: Check) -> torch.Tensor:
    """kmeans_plus_plus's centres (B, K, D) of a block of B restarts from their uniforms u (B, K)."""
    k, last = u.shape[1], x.shape[0] - 1
    if weights is None:
        first = (u[:, 0] * x.shape[0]).long().clamp_max(last)
    else:  # the first centre with probability w / sum w: the first row whose cumulative weight passes u sum w
        w64 = weights.double()
        cdf = torch.cumsum(w64, dim=0)
        first = torch.searchsorted(cdf, (u[:, 0] * cdf[-1]).contiguous(), right=True).clamp_max(last)
    centers = [x[first]]  # list of (B, D)
    d2 = _squared_distances(x, centers[0], check)  # (B, N)
    for j in range(1, k):
        cdf = torch.cumsum(d2.double() if weights is None else d2.double() * w64, dim=-1)
        target = u[:, j : j + 1] * cdf[:, -1:]
        idx = torch.searchsorted(cdf, target).squeeze(-1).clamp_max(last)
        centers.append(x[idx])
        d2 = torch.minimum(d2, _squared_distances(x, centers[-1], check))
    return torch.stack(centers, dim=1)


# Points per block of the squared distances: the (R, block, D) differences stay small whatever N and D; with many
# restarts fewer points a block, so that a block's arrays hold about DISTANCE_ELEMENTS numbers (2,000 restarts
# made (R, 50,000, D) differences of 1.6 GB, seconds a block, and a cancelled fit waited for them).
DISTANCE_BLOCK = 65536
DISTANCE_ELEMENTS = 2**22


def block_rows(columns: int) -> int:
    """Points per block for (columns, block) intermediates: DISTANCE_BLOCK, fewer when columns (restarts times
    dimensions or components) would make a block hold more than DISTANCE_ELEMENTS numbers."""
    return max(1, min(DISTANCE_BLOCK, DISTANCE_ELEMENTS // max(columns, 1)))


def _squared_distances(x: torch.Tensor, center: torch.Tensor, check: Check = None) -> torch.Tensor:
    """|x_n - c_r|^2 (R, N) for points x (N, D) and one centre per restart (R, D), block by block of points
    (the same numbers as in one go: each is its own point's); check before each block."""
    block = block_rows(center.numel())
    parts = []
    for lo in range(0, x.shape[0], block):
        if check is not None:
            check()
        parts.append(((x[lo : lo + block].unsqueeze(0) - center.unsqueeze(1)) ** 2).sum(-1))
    return torch.cat(parts, dim=1)


def nearest(x: torch.Tensor, centers: torch.Tensor, check: Check = None) -> torch.Tensor:
    """Index of the nearest centre (R, N) for points x (N, D) and centres (R, K, D), block by block of points:
    whole, x * x alone was another copy of the data (240 MB at N = 1e6, D = 30) and the distances three
    (R, N, K) arrays; check before each block."""
    c2 = (centers**2).sum(-1)[:, None, :]
    rows = block_rows(centers.shape[0] * centers.shape[1])
    out = []
    for lo in range(0, x.shape[0], rows):
        if check is not None:
            check()
        block = x[lo : lo + rows]
        d2 = (block * block).sum(-1)[None, :, None] - 2.0 * block @ centers.transpose(-1, -2) + c2
        out.append(d2.argmin(-1))
    return torch.cat(out, dim=1)


def lloyd(
    x: torch.Tensor, centers: torch.Tensor, steps: int, weights: torch.Tensor | None = None, check: Check = None
) -> torch.Tensor:
    """A few Lloyd iterations from centres (R, K, D), weighted means with weights (N,); a centre that loses its
    points (or keeps only points of weight 0) stays where it is; check as in initial_parameters."""
    k = centers.shape[1]
    for _ in range(steps):
        onehot = _assignment(nearest(x, centers, check), k, x.dtype, weights, check)  # (R, N, K)
        counts = onehot.sum(1)  # (R, K)
        sums = onehot.transpose(-1, -2) @ x
        centers = torch.where(counts.unsqueeze(-1) > 0, sums / counts.clamp_min(1).unsqueeze(-1), centers)
    return centers


def _assignment(
    labels: torch.Tensor, k: int, dtype: torch.dtype, weights: torch.Tensor | None, check: Check = None
) -> torch.Tensor:
    """The hard responsibilities (..., N, K) of labels (..., N), each point's row times its weight (N,): the ones
    written block by block of points (one_hot's 0 and 1 exactly, without its int64 copy), check before each."""
    onehot = torch.empty(*labels.shape, k, dtype=dtype, device=labels.device)  # zeroed block by block too: GBs
    rows = block_rows(labels[..., 0].numel() * k)
    for lo in range(0, labels.shape[-1], rows):
        if check is not None:
            check()
        onehot[..., lo : lo + rows, :].zero_().scatter_(-1, labels[..., lo : lo + rows, None], 1.0)
    return onehot if weights is None else onehot.mul_(weights.to(dtype)[:, None])


def _from_hard_assignment(
    x: torch.Tensor,
    centers: torch.Tensor,
    cov_type: str,
    reg: torch.Tensor,
    prior: Prior | None = None,
    weights: torch.Tensor | None = None,
    check: Check = None,
) -> Params:
    """scikit-learn's way: assign each point to its nearest centre, then one M-step (weighted with weights (N,));
    check as in initial_parameters."""
    k = centers.shape[1]
    assigned = nearest(x, centers, check)
    release_free_memory()
    onehot = _assignment(assigned, k, x.dtype, weights, check)
    stats = gaussian.sufficient_statistics(gaussian.features_of(x), onehot)
    return gaussian.m_step(stats, x.shape[0], cov_type, reg, prior=prior)


def hc_points(x: torch.Tensor, seed: int) -> torch.Tensor:
    """The points (S, D) the hierarchical start agglomerates: x (N, D) itself up to hc.sample_size(D) points,
    else the rows stream.sample_rows(seed, N, that size) of it, ascending (mclust's Mclust also runs hc on a
    random subset of its data above 2,000 points)."""
    return _rows_of(x, seed, hc.sample_size(x.shape[1]))


def _rows_of(t: torch.Tensor, seed: int, size: int) -> torch.Tensor:
    """t (N, ...) itself up to `size` rows, else its rows stream.sample_rows(seed, N, size), ascending."""
    from ..io import stream

    rows = stream.sample_rows(seed, t.shape[0], size)
    return t if len(rows) == t.shape[0] else t[torch.as_tensor(rows, device=t.device)]


def _hc(
    x: torch.Tensor,
    k: int,
    gens: list[torch.Generator],
    cfg: FitConfig,
    reg: torch.Tensor,
    prior: Prior | None = None,
    weights: torch.Tensor | None = None,
    check: Check = None,
) -> Params:
    """Restart 0: one M-step of the covariance type (mclust's mstep from its hclass) on the partition of
    hc_points into k clusters; restarts 1.. : k-means++ from generators seed + 1, ... With weights (N,): hc over
    the points of weight > 0 (see the module's docstring), the M-step weighted; check as in initial_parameters
    (also before each merge of the agglomeration)."""
    counted, w = (x, None) if weights is None else (x[weights > 0], weights[weights > 0])
    sample = hc_points(counted, cfg.seed)
    labels = torch.as_tensor(hc.hc_classes(sample.double().cpu().numpy(), k, check=check), device=x.device)
    sample_w = None if w is None else _rows_of(w, cfg.seed, hc.sample_size(x.shape[1]))
    onehot = _assignment(labels, k, x.dtype, sample_w).unsqueeze(0)  # (1, S, K)
    stats = gaussian.sufficient_statistics(gaussian.features_of(sample), onehot)
    first = gaussian.m_step(stats, sample.shape[0], cfg.covariance_type, reg, prior=prior)
    if len(gens) == 1:
        return first
    centers = kmeans_plus_plus(x, k, gens[1:], weights, check)
    rest = _from_hard_assignment(x, centers, cfg.covariance_type, reg, prior, weights, check)
    return tuple(torch.cat([a, b]) for a, b in zip(first, rest, strict=True))


def _random_data(
    x: torch.Tensor, k: int, gens: list[torch.Generator], cov_type: str, weights: torch.Tensor | None = None
) -> Params:
    """K distinct data points as means, uniform weights, the data's covariance for every component; with weights
    (N,) the rows drawn with probability proportional to w (without replacement) and the weighted covariance."""
    if weights is None:
        idx = torch.stack([torch.randperm(x.shape[0], generator=g)[:k] for g in gens]).to(x.device)
    else:
        w = weights.double().cpu()
        idx = torch.stack([torch.multinomial(w, k, replacement=False, generator=g) for g in gens]).to(x.device)
    means = x[idx]
    r, d = len(gens), x.shape[1]
    cov = (torch.cov(x.T) if weights is None else _weighted_cov(x, weights)).reshape(d, d).expand(r, k, d, d)
    cov = COVARIANCE_TYPES[cov_type].project(cov.clone(), None)
    return torch.full((r, k), 1.0 / k, dtype=x.dtype, device=x.device), means, cov


def _weighted_cov(x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The covariance (D, D) of points x (N, D) under frequency weights (N,), divided by sum w - 1 (torch.cov's
    N - 1 of the repeated rows; at most 1 in all, by sum w itself)."""
    total = weights.sum()
    dev = x - (weights @ x) / total
    return (dev.T * weights) @ dev / (total - 1.0 if total > 1.0 else total)


def _forum(x: torch.Tensor, k: int, gens: list[torch.Generator], scaling: Scaling) -> Params:
    """The forum recipe: uniform weights, standard-normal means and identity scales, in DATA units."""
    r, d = len(gens), x.shape[1]
    means = torch.stack([torch.randn(k, d, generator=g, dtype=torch.float64) for g in gens]).to(x)
    cov = torch.eye(d, dtype=x.dtype, device=x.device).expand(r, k, d, d)
    weights = torch.full((r, k), 1.0 / k, dtype=x.dtype, device=x.device)
    return weights, scaling.means_to_std(means), scaling.cov_to_std(cov)


def _explicit(x: torch.Tensor, cfg: FitConfig, scaling: Scaling) -> Params:
    """Given parameters (data units), projected onto the covariance type, the same for every restart."""
    p = cfg.init_params
    weights = torch.as_tensor(p.weights, dtype=x.dtype, device=x.device)
    means = torch.as_tensor(p.means, dtype=x.dtype, device=x.device)
    cov = torch.as_tensor(p.covariances, dtype=x.dtype, device=x.device)
    k, d = cfg.n_components, x.shape[1]
    if means.ndim == 2 and means.shape[-1] != d:
        raise UserError(
            f"initial parameters are {means.shape[-1]}-D but the data is {d}-D: choose {means.shape[-1]} columns "
            "(--columns) or use parameters fitted to these columns"
        )
    if weights.shape != (k,) or means.shape != (k, d) or cov.shape != (k, d, d):
        raise UserError(
            f"initial parameters have {weights.shape[0]} components in {means.shape[-1]} dimensions "
            f"but the fit asks for {k} components of {d}-D data: set -k {weights.shape[0]} or edit the file"
        )
    cov = COVARIANCE_TYPES[cfg.covariance_type].project(cov, weights)
    r = cfg.restarts
    return (
        (weights / weights.sum()).expand(r, k).clone(),
        scaling.means_to_std(means).expand(r, k, d).clone(),
        scaling.cov_to_std(cov).expand(r, k, d, d).clone(),
    )
