"""Where the bootstrap's replicates start and how they get near their answers (selection/bootstrap.py).

Each replicate b is EM on the data with its own weights w_b (B, N) (or its own points, parametric), started from
the fit. In the space of the E-step's sums s (K, P) EM is the map T_b(s) = S_b(m(s)) (m: the M-step, S_b: replicate
b's E-step sums); a replicate's answer is its fixed point. From the fit EM creeps there at the rate of the largest
eigenvalue of T's Jacobian (the fraction of missing information: 0.99 on overlapping components, hundreds of
iterations), so:
- every replicate's first sums are one product: the responsibilities r at the fit are the same for all of them,
  so S_b(fit) = w_b @ [r, r x, r x x^T] (N, K P) (mclust's first M-step, from the fit's responsibilities): one
  batched E-step of B x N saved;
- SQUAREM cycles (Varadhan and Roland 2008) on each replicate's sums, monotone in its log-likelihood; exact EM then
  runs to the replicates' stopping rule: the answer is still each replicate's EM fixed point, reached sooner.
A Newton step on the fixed point with the fit's Jacobian (Louis's acceleration) was tried and dropped: it reached
other maxima than EM from the fit for 2 of 50 replicates on 2,000 forum points and 5 of 100 on Old Faithful
(weighted, full covariances), where SQUAREM alone kept every one on 2,000 points and all but one (at a higher
log-likelihood) there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..inference.init import Params
from ..inference.sources import HOST
from ..model import gaussian
from ..snapshot import CancelToken

SHARED_ELEMENTS = 2**20  # a chunk of the shared sums' (c, K P) products holds about this many numbers


@dataclass(frozen=True)
class Model:
    """What the M-step needs, in the working units: covariance type, reg (D,), the fit's covariances (K, D, D) (an
    iterative type's inner start), its prior and pins (or None), and the points' count."""

    type_name: str
    reg: torch.Tensor
    previous: torch.Tensor
    prior: object | None
    pins: object | None
    n: int

    def m_step(self, stats: torch.Tensor) -> Params:
        """Weights (R, K), means (R, K, D), covariances (R, K, D, D) float64 from sums (R, K, P) float64."""
        previous = self.previous.expand(stats.shape[0], *self.previous.shape)
        return gaussian.m_step(stats, self.n, self.type_name, self.reg.double(), previous, self.prior, self.pins)


def coefficients(params: Params) -> torch.Tensor:
    """The log-joint's coefficients (K, P) float64 of one parameter set (K,), (K, D), (K, D, D)."""
    w, m, c = (p.to(HOST, torch.float64)[None] for p in params)
    chol, _ = gaussian.cholesky(c)
    return gaussian.log_joint_coefficients(torch.log(w), m, chol)[0]


def shared_sums(x: torch.Tensor, coef: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each weight row's E-step sums (B, K, P) and log-likelihood (B,), float64, at one parameter set (coef (K, P))
    for points x (N, D) and weights rows (B, N) float64: the responsibilities once, then one product per chunk."""
    n = x.shape[0]
    k, p = coef.shape
    chunk = max(1, SHARED_ELEMENTS // (k * p))
    stats = torch.zeros(rows.shape[0], k * p, dtype=torch.float64)
    ll = torch.zeros(rows.shape[0], dtype=torch.float64)
    for lo in range(0, n, chunk):
        f = gaussian.quadratic_features(x[lo : lo + chunk].to(HOST, torch.float64))  # (c, P)
        joint = f @ coef.T  # (c, K)
        log_p = torch.logsumexp(joint, dim=1)
        resp = torch.exp(joint - log_p[:, None])
        w = rows[:, lo : lo + chunk]
        stats += w @ (resp[:, :, None] * f[:, None, :]).reshape(-1, k * p)
        ll += w @ log_p
    return stats.view(-1, k, p), ll


def _valid(params: Params) -> torch.Tensor:
    """Rows (M,) whose weights are positive and covariances positive definite (by gaussian.cholesky's rule)."""
    finite = torch.isfinite(params[1]).flatten(1).all(-1)
    return (params[0] > 0).all(-1) & ~gaussian.cholesky(params[2])[1].any(-1) & finite


def _expand(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.view(-1, *([1] * (like.dim() - 1)))


def first_points(one: Params, first_sums) -> tuple[torch.Tensor, torch.Tensor]:
    """Every replicate's E-step sums at the fit one = (K,), (K, D), (K, D, D) float64 in working units, per unit of
    weight (B, K, P), and their weight totals (B,): where EM from the fit goes first (mclust's first M-step, from
    the fit's responsibilities). first_sums(params) -> the sums (B, K, P), log-likelihoods (B,) and weight totals
    (B,) at one parameter set."""
    first, _, totals = first_sums(one)
    return first / totals[:, None, None], totals


MAX_STEP = 4.0  # SQUAREM's step a starts bounded by -4, the bound 4 times wider after each jump at it that gains
CYCLES = 10  # at most this many SQUAREM cycles (three batched E-steps each); plain EM takes over from there


def _m_step(model: Model, point: torch.Tensor, totals: torch.Tensor) -> tuple[Params, torch.Tensor]:
    """The M-step (float64) of sums per unit of weight point (M, K, P) times totals (M,), and the valid rows (M,)."""
    try:
        params = model.m_step(point * totals[:, None, None])
    except torch.linalg.LinAlgError:
        return model.m_step(torch.ones_like(point)), torch.zeros(len(point), dtype=torch.bool)
    return params, _valid(params)


def squarem(
    point: torch.Tensor,
    model: Model,
    e_step,
    totals: torch.Tensor,
    gain: float,
    dtype: torch.dtype,
    cancel: CancelToken | None = None,
    cycles_at_most: int = CYCLES,
) -> tuple[Params, int]:
    """SQUAREM (Varadhan and Roland 2008) on each replicate's EM in the space of its sums per unit of weight, from
    point (B, K, P) (its M-step is the start; working units): two EM steps u1 = T(u0), u2 = T(u1), then the jump
    u0 - 2a r + a^2 v (r = u1 - u0, v = u2 - 2 u1 + u0, a = -|r| / |v| <= -1, bounded: MAX_STEP), kept only where
    its log-likelihood beats u1's (else u1, one EM step further). Exact in one cycle along a direction EM creeps
    along geometrically, as along EM's slowest (the fraction of missing information 0.99 on overlapping
    components: hundreds of EM iterations). A row stops once a cycle gains less than `gain` in its total
    log-likelihood, or where an M-step fails; all stop on cancel or after cycles_at_most cycles. Returns each
    row's best parameters (B rows, in dtype) and the cycles run."""
    start, _ = _m_step(model, point, totals)
    best = tuple(p.to(dtype) for p in start)
    active = torch.arange(len(totals))
    image, ll = e_step(active, best)
    u0 = point
    reach = torch.full((len(totals),), MAX_STEP)
    cycles = 0
    while len(active) and cycles < cycles_at_most and not (cancel is not None and cancel.cancelled):
        u1 = image / totals[active][:, None, None]
        p1, ok1 = _m_step(model, u1, totals[active])
        if not bool(ok1.all()):  # such a row keeps its best: exact EM's step fails it there, as it would have
            active, ll, u0, u1, p1 = active[ok1], ll[ok1], u0[ok1], u1[ok1], tuple(p[ok1] for p in p1)
            if not len(active):
                break
        per = totals[active]
        image1, ll1 = e_step(active, tuple(p.to(dtype) for p in p1))
        u2 = image1 / per[:, None, None]
        base = u0
        r, v = (u1 - base).flatten(1), (u2 - 2 * u1 + base).flatten(1)
        a = -r.norm(dim=1) / v.norm(dim=1).clamp_min(1e-300)
        bound = reach[active]
        a = torch.maximum(torch.clamp(a, max=-1.0), -bound)[:, None, None]
        jump = base - 2 * a * (u1 - base) + a * a * (u2 - 2 * u1 + base)
        pj, ok = _m_step(model, jump, per)
        imagej, llj = e_step(
            active, tuple(torch.where(_expand(ok, p), p, q).to(dtype) for p, q in zip(pj, p1, strict=True))
        )
        take = ok & (llj > ll1)
        reach[active] = torch.where(take & (a.flatten() <= -bound), bound * MAX_STEP, bound)
        new_ll = torch.where(take, llj, ll1)
        for old, pa, pb in zip(best, pj, p1, strict=True):
            old[active] = torch.where(_expand(take, pa), pa, pb).to(dtype)
        more = (new_ll - ll) * per >= gain
        u0 = torch.where(take[:, None, None], jump, u1)[more]
        image = torch.where(take[:, None, None], imagej, image1)[more]
        active, ll = active[more], new_ll[more]
        cycles += 1
    return best, cycles
