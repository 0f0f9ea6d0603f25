"""Anderson acceleration of the bootstrap's replicates to their ends (selection/bootstrap.py), SQUAREM where it
stalls (replicate_start.py).

Each replicate's EM is the map T_b(s) = S_b(m(s)) on its E-step sums per unit of weight s (K, P); its answer is T's
fixed point, which EM from the fit creeps to at the rate of T's slowest directions (0.98-0.99 on the forum preset:
several of them). Anderson acceleration (type II, depth DEPTH; Walker and Ni 2011; for EM, Henderson and Varadhan
2019) keeps each replicate's last DEPTH steps dx and the changes df of its residuals f = T(s) - s, and goes to
s + f - (dX + dF) g, g minimising |f - dF g|: the fixed point of T's secant model over those steps, all slow
directions at once (SQUAREM's jump extrapolates along one). One batched E-step a step, safeguarded:
- a jump whose log-likelihood is below its start's is lost: the row stays there, and its next step is EM's (from
  the same start, so every kept step gains: monotone, as EM);
- a jump whose M-step fails (an extrapolated sum is no covariance) is replaced by EM's step before the E-step;
- a row that loses HAND_OFF jumps in a row is near a saddle, where T pushes outwards (an eigenvalue above 1) and the
  secant model's fixed point lies behind it: it goes on by SQUAREM cycles from where it is (SQUAREM's jump goes
  along EM's step, outwards there). On 2,000 forum points Anderson alone ended two replicates of 200 on such a
  plateau, 0.05 and 0.81 short in the total log-likelihood; handed over, none (tests/engine/test_bootstrap_anderson.py).
A row ends where an EM step gains less than `gain` (its end: the EM step's image, as SQUAREM's), checked after each
EM step: the first from the start, one after a lost jump, and one after each jump that gained less than `gain`
itself. So at a given tol a replicate the rule stops at its first check ends at EM's second M-step from the fit's
responsibilities, where mclust's me() ends it, as before (tests/engine/test_bootstrap_mclust_rule.py).

Measured against SQUAREM alone (forum preset, K = 3, VVV, the same ends; docs/performance.md, 'The bootstrap'): row
E-steps 1e5 points B = 50 1,808 against 7,117; 2e4 B = 50 2,335 against 6,445; 2,000 points B = 200 12,608 against
19,894; the largest shortfall from the replicates' fixed points (SQUAREM run to 1e-11) about the same (5.0e-5 against
8.1e-5 on 1e5 points, 2.4e-4 against 2.3e-4 on 2,000), the median 20 to 150 times smaller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..inference.init import Params
from ..snapshot import CancelToken
from .replicate_start import Cycle, Model, cycles, expand_mask, m_step_checked, put_rows

EStep = Callable[[torch.Tensor, Params], tuple[torch.Tensor, torch.Tensor]]

DEPTH = 5  # the steps each row's secant model keeps (the slow directions it can take at once)
HAND_OFF = 5  # lost jumps in a row after which a row goes on by SQUAREM
RIDGE = 1e-10  # the least squares' Tikhonov term, relative to the trace of dF^T dF: collinear steps stay solvable


def state_bytes(k: int, d: int) -> int:
    """The accelerator's memory a replicate (bytes): its last DEPTH steps and residual changes, its point, residual,
    proposal and E-step sums, and a SQUAREM cycle's (u0, its image) where it stalls: sums (K, P) in float64."""
    return 8 * (2 * DEPTH + 6) * k * (1 + d + d * (d + 1) // 2)


@dataclass
class _Rows:
    """The Anderson state of every row (B of them): its point s (B, Q) (the sums per unit of weight, flattened), its
    residual f = T(s) - s (B, Q), its mean log-likelihood at m(s) (B,), the last DEPTH steps ds and changes df
    (B, DEPTH, Q) (a ring: row r's next goes to slot kept[r] % DEPTH), how many it holds, whether its next step is
    EM's (B,) and its lost jumps in a row (B,)."""

    s: torch.Tensor
    f: torch.Tensor
    ll: torch.Tensor
    ds: torch.Tensor
    df: torch.Tensor
    kept: torch.Tensor
    em_next: torch.Tensor
    lost: torch.Tensor


def accelerate(
    point: torch.Tensor,
    model: Model,
    e_step: EStep,
    totals: torch.Tensor,
    gain: float,
    dtype: torch.dtype,
    steps_at_most: int,
    cancel: CancelToken | None = None,
) -> tuple[Params, torch.Tensor]:
    """Each replicate from point (B, K, P) (its sums per unit of weight: its M-step is the start; working units) to
    its end by Anderson acceleration, rows that stall there by SQUAREM (module docstring); model: replicate_start.Model,
    e_step(rows (M,), params) -> the rows' E-step sums (M, K, P) and mean log-likelihoods (M,), totals (B,) the rows'
    weight totals. At most steps_at_most batched E-steps (SQUAREM's cycles three each); all stop on cancel. Returns
    each row's best parameters (B rows, in dtype) and which rows ended (B,): their last EM step, into best, gained
    less than `gain` (a finite log-likelihood); the others left on a failed EM step, a cancel or the budget."""
    b = len(totals)
    start, _ = m_step_checked(model, point, totals)
    best = tuple(p.to(dtype) for p in start)
    active = torch.arange(b)
    image, ll = e_step(active, best)
    s = point.flatten(1).clone()
    q = s.shape[1]
    zeros = torch.zeros(b, DEPTH, q, dtype=s.dtype)
    rows = _Rows(
        s,
        image.flatten(1) / totals[:, None] - s,
        ll.clone(),
        zeros,
        zeros.clone(),
        torch.zeros(b, dtype=torch.long),
        torch.ones(b, dtype=torch.bool),
        torch.zeros(b, dtype=torch.long),
    )
    ended = torch.zeros(b, dtype=torch.bool)
    handed: list[torch.Tensor] = []
    steps = 1
    while len(active) and steps < steps_at_most and not (cancel is not None and cancel.cancelled):
        active, out = _step(rows, active, model, e_step, totals, gain, dtype, best, ended, point.shape[1:])
        handed.append(out)
        steps += 1
    # in order: a source's use_rows takes its rows sorted (all B of them in another order were taken as 0..B-1, so
    # each replicate went on with another's weights)
    stalled = torch.sort(torch.cat(handed)).values if handed else active[:0]
    if len(stalled) and not (cancel is not None and cancel.cancelled):
        per = totals[stalled]
        s0 = rows.s[stalled].view(-1, *point.shape[1:])
        state = Cycle(stalled, s0, (s0 + rows.f[stalled].view_as(s0)) * per[:, None, None], rows.ll[stalled])
        cycles(state, model, e_step, totals, gain, dtype, best, ended, (steps_at_most - steps) // 3, cancel)
    return best, ended


def _step(
    rows: _Rows, active: torch.Tensor, model: Model, e_step: EStep, totals, gain: float, dtype, best, ended, shape
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batched step of the active rows (M,) (module docstring): rows updated, best (B rows) and ended (B,) in
    place; the rows that go on and those handed to SQUAREM."""
    per = totals[active]
    em_step = rows.em_next[active] | (rows.kept[active] == 0)
    s, f = rows.s[active], rows.f[active]
    proposal = s + f
    jumping = torch.nonzero(~em_step).flatten()
    if len(jumping):
        proposal[jumping] = _jumps(rows, active[jumping], s[jumping], f[jumping])
    params, ok = m_step_checked(model, proposal.view(-1, *shape), per)
    if not bool(ok.all()):  # a jump's sums that are no covariance: EM's step instead
        redo = ~ok & ~em_step
        proposal[redo] = s[redo] + f[redo]
        again, ok_again = m_step_checked(model, proposal.view(-1, *shape), per)
        params = tuple(torch.where(expand_mask(redo, p), a, p) for p, a in zip(params, again, strict=True))
        ok = torch.where(redo, ok_again, ok)
        em_step = em_step | redo
    # EM's own step failed: the row keeps its best, as exact EM's step fails it there (not ended)
    active, em_step, proposal, per, s = active[ok], em_step[ok], proposal[ok], per[ok], s[ok]
    params = tuple(p[ok].to(dtype) for p in params)
    if not len(active):
        return active, active
    image, ll = e_step(active, params)
    gained = (ll - rows.ll[active]) * per
    kept = em_step | (gained >= 0)
    lost = active[~kept]
    rows.em_next[lost] = True
    rows.lost[lost] += 1
    k = torch.nonzero(kept).flatten()
    rk = active[k]
    f_new = image[k].flatten(1) / per[k, None] - proposal[k]
    slot = rows.kept[rk] % DEPTH
    rows.ds[rk, slot] = proposal[k] - rows.s[rk]
    rows.df[rk, slot] = f_new - rows.f[rk]
    rows.kept[rk] += 1
    rows.s[rk], rows.f[rk], rows.ll[rk] = proposal[k], f_new, ll[k]
    put_rows(best, rk, tuple(p[k] for p in params))
    g, was_em = gained[k], em_step[k]
    rows.lost[rk[~was_em]] = 0
    finite = torch.isfinite(ll[k])
    done = was_em & ~(g >= gain)  # EM's step gained less than gain (or lost to rounding): its end, or a failure
    ended[rk[done & finite]] = True
    rows.em_next[rk] = ~was_em & ~(g >= gain)  # a jump that gained little: EM's step next, to check the end
    going = torch.ones(len(active), dtype=torch.bool)
    going[k[done]] = False
    stalled = going & (rows.lost[active] >= HAND_OFF)
    return active[going & ~stalled], active[stalled]


def _jumps(rows: _Rows, which: torch.Tensor, s: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """The Anderson points (J, Q) of rows which (J,) at s, f (J, Q): s + f - (dS + dF) g, g (DEPTH,) minimising
    |f - dF g| by the normal equations (unused ring slots: g 0)."""
    used = (torch.arange(DEPTH)[None, :] < rows.kept[which][:, None]).to(s.dtype)  # (J, DEPTH)
    df = rows.df[which] * used[..., None]  # (J, DEPTH, Q)
    ds = rows.ds[which] * used[..., None]
    gram = df @ df.transpose(1, 2)
    ridge = RIDGE * torch.diagonal(gram, dim1=1, dim2=2).sum(-1).clamp_min(torch.finfo(s.dtype).tiny)
    gram = gram + torch.diag_embed((1.0 - used) + ridge[:, None])
    g = torch.linalg.solve(gram, (df @ f[..., None]))  # (J, DEPTH, 1)
    return s + f - ((ds + df).transpose(1, 2) @ g)[..., 0]
