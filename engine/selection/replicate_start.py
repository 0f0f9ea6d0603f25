"""Where the bootstrap's replicates start and how they get near their answers (selection/bootstrap.py).

Each replicate b is EM on the data with its own weights w_b (B, N) (or its own points, parametric), started from
the fit. In the space of the E-step's sums s (K, P) EM is the map T_b(s) = S_b(m(s)) (m: the M-step, S_b: replicate
b's E-step sums); a replicate's answer is its fixed point. From the fit EM creeps there at the rate of the largest
eigenvalue of T's Jacobian (the fraction of missing information: 0.99 on overlapping components, hundreds of
iterations), so:
- every replicate's first sums are one product: the responsibilities r at the fit are the same for all of them,
  so S_b(fit) = w_b @ [r, r x, r x x^T] (N, K P) (mclust's first M-step, from the fit's responsibilities): one
  batched E-step of B x N saved;
- from there Anderson acceleration to each replicate's end (replicate_anderson.py), and SQUAREM (Varadhan and
  Roland 2008; squarem, cycles) for a replicate near a saddle, where Anderson's jumps lose: SQUAREM on each
  replicate's sums, monotone in its log-likelihood, until its EM step gains less than END_GAIN times the
  replicates' stopping rule (the rows that end leave the batch): an EM step into its end gained less than the rule,
  so it meets the rule there, and exact EM runs only where a replicate left otherwise (a failed M-step, its
  cycles used up, a cancel). The answer is each replicate's EM fixed point, reached sooner and nearer than plain
  EM's rule would stop it. At a given tol (mclust's rule, say) a replicate ends at the rule itself: one that the
  rule stops at its first check ends at EM's second M-step from the fit's responsibilities, where mclust's me()
  ends it (tests/engine/test_bootstrap_mclust_rule.py). squarem alone, from the first sums, was the accelerator
  before Anderson's (bench/bench_bootstrap_ends.py compares the two).
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


def expand_mask(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.view(-1, *([1] * (like.dim() - 1)))


def first_points(one: Params, first_sums) -> tuple[torch.Tensor, torch.Tensor]:
    """Every replicate's E-step sums at the fit one = (K,), (K, D), (K, D, D) float64 in working units, per unit of
    weight (B, K, P), and their weight totals (B,): where EM from the fit goes first (mclust's first M-step, from
    the fit's responsibilities). first_sums(params) -> the sums (B, K, P), log-likelihoods (B,) and weight totals
    (B,) at one parameter set."""
    first, _, totals = first_sums(one)
    return first / totals[:, None, None], totals


# SQUAREM ends a replicate once its EM step gains less than this fraction of the replicates' own rule
# (bootstrap._end_gain): at EM's rate lambda a step's gain g leaves about g lambda^2 / (1 - lambda^2) to gain
# (50 g at 0.99), so an end at the rule itself stopped 3e-3 short on Old Faithful, 2e-2 on 2,000 forum points
# (0.2 to 0.3 standard errors off) and 20 of 200 of those replicates on a plateau plain EM leaves; at 1/100 of it
# 4e-5 and 4e-4 (docs/performance.md, 'The bootstrap')
END_GAIN = 0.01
MAX_STEP = 4.0  # SQUAREM's step a starts bounded by -4, the bound 4 times wider after each jump at it that gains
# and 4 times narrower (down to -1, an EM step) after each jump that loses


def m_step_checked(model: Model, point: torch.Tensor, totals: torch.Tensor) -> tuple[Params, torch.Tensor]:
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
    cycles_at_most: int,
    cancel: CancelToken | None = None,
) -> tuple[Params, torch.Tensor]:
    """SQUAREM (Varadhan and Roland 2008) on each replicate's EM in the space of its sums per unit of weight, from
    point (B, K, P) (its M-step is the start; working units), to each replicate's end. A cycle: two EM steps
    u1 = T(u0), u2 = T(u1), the jump u0 - 2a r + a^2 v (r = u1 - u0, v = u2 - 2 u1 + u0, a = -|r| / |v| <= -1,
    bounded: MAX_STEP), kept where its log-likelihood beats u1's, then one EM step from it (the stabilising step:
    the next cycle's u0), or where the jump lost u2 (and the bound shrinks): monotone in the log-likelihood, three
    batched E-steps a cycle. Exact in one cycle along a direction EM creeps along geometrically, as along EM's
    slowest (the fraction of missing information 0.99 on overlapping components: hundreds of EM iterations); the
    stabilising step keeps the next cycle's r and v off the fast directions the jump disturbed (without it, jumps
    were lost every other cycle). A row ends once its EM step u0 -> u1 gains less than `gain` in its total
    log-likelihood (its end u1), or where an M-step fails: it leaves the batch; all stop on cancel
    or after cycles_at_most cycles. Returns each row's best parameters (B rows, in dtype) and which rows ended so
    (B,): their last EM step, into best, gained less than `gain` (a finite log-likelihood), the others left on a
    failed M-step, a cancel or cycles_at_most."""
    start, _ = m_step_checked(model, point, totals)
    best = tuple(p.to(dtype) for p in start)
    state = Cycle(torch.arange(len(totals)), point, *e_step(torch.arange(len(totals)), best))
    ended = torch.zeros(len(totals), dtype=torch.bool)
    cycles(state, model, e_step, totals, gain, dtype, best, ended, cycles_at_most, cancel)
    return best, ended


def cycles(
    state: Cycle,
    model: Model,
    e_step,
    totals: torch.Tensor,
    gain: float,
    dtype: torch.dtype,
    best: Params,
    ended: torch.Tensor,
    cycles_at_most: int,
    cancel: CancelToken | None = None,
) -> None:
    """SQUAREM's cycles (squarem) of the rows in state (M of the B rows) until each ends or leaves, all stop on
    cancel or after cycles_at_most: best (B rows) and ended (B,) updated in place."""
    reach = torch.full((len(totals),), MAX_STEP)
    done = 0
    while len(state.active) and done < cycles_at_most and not (cancel is not None and cancel.cancelled):
        state = _cycle(state, model, e_step, totals, gain, dtype, best, reach, ended)
        done += 1


@dataclass(frozen=True)
class Cycle:
    """The rows (M,) still cycling, their points u0 (M, K, P) (sums per unit of weight), the E-step's sums at
    M(u0) (M, K, P) and its mean log-likelihoods (M,)."""

    active: torch.Tensor
    u0: torch.Tensor
    image: torch.Tensor
    ll: torch.Tensor

    def subset(self, keep: torch.Tensor) -> Cycle:
        return Cycle(self.active[keep], self.u0[keep], self.image[keep], self.ll[keep])


def _cycle(state: Cycle, model: Model, e_step, totals, gain: float, dtype, best, reach, ended) -> Cycle:
    """One SQUAREM cycle of the rows in state (squarem): best (B rows), reach (B,) and ended (B,) updated in place;
    the rows that go on."""
    per = totals[state.active]
    u1 = state.image / per[:, None, None]
    p1, ok1 = m_step_checked(model, u1, per)
    if not bool(ok1.all()):  # such a row keeps its best: exact EM's step fails it there, as it would have
        state, u1, p1, per = state.subset(ok1), u1[ok1], tuple(p[ok1] for p in p1), per[ok1]
        if not len(state.active):
            return state
    p1 = tuple(p.to(dtype) for p in p1)
    image1, ll1 = e_step(state.active, p1)
    put_rows(best, state.active, p1)
    go = (ll1 - state.ll) * per >= gain  # the others' EM step from best gained less: their end
    ended[state.active[~go & torch.isfinite(ll1)]] = True
    if not bool(go.any()):
        return state.subset(go)
    state, u1, p1, image1, ll1, per = state.subset(go), u1[go], tuple(p[go] for p in p1), image1[go], ll1[go], per[go]
    active, u0 = state.active, state.u0
    u2 = image1 / per[:, None, None]
    r, v = (u1 - u0).flatten(1), (u2 - 2 * u1 + u0).flatten(1)
    bound = reach[active]
    a = -(r.norm(dim=1) / v.norm(dim=1).clamp_min(1e-300)).clamp(min=1.0)
    a = torch.maximum(a, -bound)[:, None, None]
    jump = u0 - 2 * a * (u1 - u0) + a * a * (u2 - 2 * u1 + u0)
    pj, ok = m_step_checked(model, jump, per)
    pj = tuple(torch.where(expand_mask(ok, p), p.to(dtype), q) for p, q in zip(pj, p1, strict=True))
    imagej, llj = e_step(active, pj)
    take = ok & (llj > ll1)
    grown = torch.where(a.flatten() <= -bound, bound * MAX_STEP, bound)
    reach[active] = torch.where(take, grown, (bound / MAX_STEP).clamp(min=1.0))
    # the next base: one EM step from the jump (Varadhan and Roland's stabilising step), or two from the cycle's
    # start where the jump lost; either is at least as good as u1 (EM is monotone)
    base = torch.where(take[:, None, None], imagej, image1) / per[:, None, None]
    p0, ok0 = m_step_checked(model, base, per)
    p0 = tuple(torch.where(expand_mask(ok0, p), p.to(dtype), q) for p, q in zip(p0, p1, strict=True))
    image0, ll0 = e_step(active, p0)
    put_rows(best, active, p0)
    return Cycle(active, torch.where(ok0[:, None, None], base, u1), image0, ll0)


def put_rows(best: Params, rows: torch.Tensor, params: Params) -> None:
    """best's rows (M,) (of B) set to params (M rows), in place."""
    for old, new in zip(best, params, strict=True):
        old[rows] = new
