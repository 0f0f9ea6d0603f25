"""The bootstrap of a fit (issue 25): standard errors and percentile intervals of its weights, means and covariances.

B replicates run as the B rows of ONE batched exact EM, each started from the fit's parameters (as mclust's
MclustBootstrap starts each replicate's EM from the fit's responsibilities: the same first M-step):
- nonparametric: the data resampled with replacement, as multinomial counts: each row's frequency weights (N,);
- weighted: the Bayesian bootstrap (Rubin; mclust's "wlbs"): each row's weights N g / sum g, g ~ Exp(1), i.e.
  Dirichlet(1, ..., 1) times N;
- parametric: N points drawn from the fitted mixture for each replicate: every row has its own points, so the
  E-step runs row by row over them (replicate_simulated.py) while the M-step and the bookkeeping stay
  batched.
With frequency weights w on the data (a point of weight w stands for w repeated rows) each kind is its bootstrap of
the expanded data, the rows repeated w times (tests/engine/test_bootstrap_frequency.py): nonparametric, counts ~
Multinomial(round(sum w), w / sum w); weighted, g ~ Gamma(w) (the sum of w rows' Exp(1); 0 where w = 0) scaled to
sum w; parametric, round(sum w) simulated points each.

Each replicate's components are matched to the fit's (the Hungarian algorithm on the Bhattacharyya distance,
solutions.match_components) before the spread is taken: a replicate started from the fit rarely switches labels,
but nothing else guarantees it. A replicate whose EM fails (a covariance no longer positive definite) is left out
and counted (mclust draws another in its place).

Data with missing values (NaN: a fit with missing="em") is bootstrapped the same way, each replicate exact
missing-values EM: nonparametric and weighted on the data with its weights (replicate_missing.py), a row drawn keeping
its missing cells, as resampling the data's rows does; parametric on points drawn from the fit with the data's
missingness pattern kept, row by row (replicate_simulated.py: exact when cells go missing completely at random, the
usual approximation when they go missing at random; mclust has no missing values).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..config import FitConfig, InitParams
from ..errors import UserError
from ..inference.em import ExactEM, pins_of
from ..inference.init import Params
from ..inference.missing import check_missing, has_missing
from ..inference.pipeline import (
    Setup,
    Stopping,
    begin,
    check_weights,
    checked_data,
    iterations,
    prepare_points,
    starts,
)
from ..inference.sources import HOST, PointsInMemory
from ..model import gaussian
from ..snapshot import CancelToken
from .replicate_anderson import accelerate
from .replicate_missing import ReplicateMissing
from .replicate_simulated import simulated_holes, simulated_sources
from .replicate_start import END_GAIN, Model, coefficients, first_points, shared_sums
from .solutions import match_components

KINDS = ("nonparametric", "parametric", "weighted")
LEVEL = 0.95  # the percentile intervals' coverage: the 2.5% and 97.5% quantiles of the replicates
MIN_REPLICATES = 2  # a standard deviation needs two
REPLICATE_TOL = 1e-4  # the replicates stop when their total log-likelihood changes by less (replicate_tol)
NO_PRIOR_MISSING = "--prior default needs complete data (its scale is the data's covariance matrix): drop it"


@dataclass(frozen=True)
class Bootstrap:
    """The replicates that ended, components matched to the fit's: weights (B', K), means (B', K, D), covariances
    (B', K, D, D) in data units; requested B, how many failed (left out) and how many stopped at max_iter; the
    batch's iterations: its E-steps, the accelerator's and plain EM's (its slowest replicate's)."""

    kind: str
    seed: int
    requested: int
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    failed: int
    not_converged: int
    iterations: int = 0

    def standard_errors(self) -> dict[str, np.ndarray]:
        """The replicates' standard deviations (divided by B' - 1, as R's sd): weights (K,), means (K, D),
        covariances (K, D, D)."""
        return {name: arr.std(axis=0, ddof=1) for name, arr in self._arrays().items()}

    def intervals(self, level: float = LEVEL) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Percentile intervals (lower, upper) of each parameter (the shapes of standard_errors), at `level`; the
        quantiles interpolate linearly (NumPy's default, R's type 7: mclust's summary(..., what = "ci"))."""
        tail = (1.0 - level) / 2.0
        return {name: tuple(np.quantile(arr, [tail, 1.0 - tail], axis=0)) for name, arr in self._arrays().items()}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "means": self.means, "covariances": self.covariances}

    def meta(self) -> dict:
        """What the parameters' export carries: standard_errors, intervals (level, then lower and upper of each
        parameter) and bootstrap (B, type, seed, the replicates used, failed and not converged, the iterations)."""
        se = {k: v.tolist() for k, v in self.standard_errors().items()}
        ci: dict = {"level": LEVEL}
        ci.update({k: {"lower": lo.tolist(), "upper": hi.tolist()} for k, (lo, hi) in self.intervals().items()})
        run = {
            "B": self.requested,
            "type": self.kind,
            "seed": self.seed,
            "used": int(self.weights.shape[0]),
            "failed": self.failed,
            "not_converged": self.not_converged,
            "iterations": self.iterations,
        }
        return {"standard_errors": se, "intervals": ci, "bootstrap": run}


def bootstrap(
    data: np.ndarray,
    fitted: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: FitConfig,
    replicates: int,
    kind: str = "nonparametric",
    seed: int = 0,
    weights: np.ndarray | None = None,
    cancel: CancelToken | None = None,
    tol: float | None = None,
) -> Bootstrap:
    """Bootstrap the fit of config to data (N, D) (frequency weights (N,) or None) whose parameters are fitted =
    (weights (K,), means (K, D), covariances (K, D, D)) in data units: `replicates` rows of one exact EM with the
    fit's settings (covariance type, reg_covar, prior, max_iter; the replicates' own stopping rule replicate_tol,
    or tol per point if given), drawn from seed, each from its accelerated start (replicate_start.py). Data with
    missing values (NaN) is that of a fit with missing="em": its replicates are missing-values EM (parametric: over
    simulated points missing the data's cells). UserError for a kind it does not know, fewer than two replicates
    asked for, or fewer than two that did not fail. Once cancel is set the replicates' E-steps raise
    errors.Cancelled at their next chunk, as a fit's do; between two E-steps the iterations stop."""
    if kind not in KINDS:
        raise UserError(f"unknown bootstrap type {kind!r}: use one of {', '.join(KINDS)}")
    if replicates < MIN_REPLICATES:
        raise UserError(f"--bootstrap needs at least {MIN_REPLICATES} replicates, got {replicates}")
    incomplete = has_missing(data)
    if incomplete and config.prior is not None:  # as the fit of such data refuses a prior
        raise UserError(NO_PRIOR_MISSING)
    x_data, moments = check_missing(data) if incomplete else checked_data(data)
    base = check_weights(weights, x_data.shape[0])
    if incomplete and base is not None:  # the fit's standardisation: the observed cells' weighted moments
        moments = check_missing(x_data, base)[1]
    cfg = _replicate_config(config.resolved(), fitted, replicates)
    work = x_data.shape[0] * cfg.n_components * replicates
    setup = prepare_points(x_data, moments, cfg, work, x_data.shape[0], None if incomplete else base)
    rng = np.random.default_rng(seed)
    size = drawn_size(x_data.shape[0], base)
    source, first_sums = _source(setup, fitted, kind, replicates, rng, base, incomplete, cancel)
    end = _end_gain(tol is None)
    tol = replicate_tol(cfg.tol, size) if tol is None else tol
    params, settled, spent = _accelerated(setup, cfg, source, first_sums, tol * size * end, cancel)
    # each replicate's last EM step gained less than gain (<= the rule): each meets the rule already, and exact EM's
    # check is spared: two batched E-steps of B x N (the first at the accelerator's last parameters again; at
    # mclust's rule on 1e5 points 2 of 4) that moved each replicate one EM step past where mclust's me() ends it
    if bool(settled.all()):
        ended, not_converged = np.ones(replicates, dtype=bool), 0
    else:
        params, ended, not_converged, steps = _checked(setup, cfg, source, params, tol, spent, cancel)
        spent += steps
    w, m, c = (_to_numpy(p) for p in params)
    m, c = setup.scaling.means_to_data(m), setup.scaling.cov_to_data(c)
    matched = _matched(fitted, w[ended], m[ended], c[ended])
    return Bootstrap(kind, seed, replicates, *matched, int((~ended).sum()), not_converged, spent)


def _source(
    setup: Setup,
    fitted: tuple[np.ndarray, ...],
    kind: str,
    replicates: int,
    rng: np.random.Generator,
    base: np.ndarray | None,
    incomplete: bool,
    cancel: CancelToken | None = None,
):
    """The replicates' E-step (a SumSource with one weight vector or one point set a row) and their first_sums
    (replicate_start.first_points): simulated points (parametric; with missing values (incomplete) each missing the
    data's cells, replicate_simulated.py), the points with each row's weights (complete data: the first sums one
    shared product), or, with missing values, the missing-values E-step with each row's weights
    (replicate_missing.py). Each checks cancel before each chunk of its E-steps (errors.Cancelled)."""
    n = setup.points.shape[0]
    if kind == "parametric":
        size = drawn_size(n, base)
        holes = simulated_holes(torch.isnan(setup.points).to(HOST).numpy(), base, size) if incomplete else None
        source = simulated_sources(setup, fitted, replicates, size, rng, holes, cancel)
        return source, source.first_sums
    rows = torch.as_tensor(replicate_weights(kind, n, replicates, rng, base))
    on_device = rows.to(setup.dtype).to(setup.device)
    if incomplete:
        source = ReplicateMissing(setup.points, on_device, np.log(setup.scaling.scale), cancel)
        return source, source.first_sums
    return PointsInMemory(setup.points, on_device, cancel), _shared(setup.points.to(HOST, torch.float64), rows)


def _enough_ended(ended: np.ndarray) -> None:
    """UserError when fewer than two of the replicates (B,) ended without failing."""
    if ended.sum() < MIN_REPLICATES:
        raise UserError(
            f"{int((~ended).sum())} of {len(ended)} bootstrap replicates failed (a covariance no longer positive "
            "definite), too many for a standard error: raise --reg-covar, or fit fewer components"
        )


def _end_gain(default_rule: bool) -> float:
    """The fraction of the stopping rule below which the accelerator ends a replicate (its EM step's gain):
    END_GAIN for the replicates' own rule (its purpose: their ends, not where EM creeps slowest); 1 for a given tol
    (the caller's rule, as plain EM's: mclust's, say)."""
    return END_GAIN if default_rule else 1.0


def replicate_tol(tol: float, n: float) -> float:
    """The replicates' stopping rule, in the mean log-likelihood per point: the fit's tol, or REPLICATE_TOL in the
    total log-likelihood (over n points) where that is tighter. A replicate's error in its slowest direction, in units
    of its standard error, is sqrt(2 gap) with gap the total log-likelihood it still lacks, whatever N: the fit's
    per-point tol leaves that gap growing with N (1e-6 on 1e5 points: 0.1 per iteration at a rate of 0.99, a gap of
    about 10). The replicates run in float64 (_replicate_config): float32's log-likelihoods are not that exact."""
    return min(tol, REPLICATE_TOL / n)


def _accelerated(
    setup: Setup, cfg: FitConfig, source, first_sums, gain: float, cancel: CancelToken | None
) -> tuple[Params, torch.Tensor, int]:
    """The replicates from their accelerated starts (replicate_start.py: EM's first step from the fit, then Anderson
    acceleration, SQUAREM where it stalls (replicate_anderson.py), to each replicate's end, an EM step gaining less
    than gain): their parameters (B rows), which of them ended so
    (B,) and the batched E-steps spent."""
    fit = starts(setup, cfg)
    one = tuple(p[0].to(HOST, torch.float64) for p in fit)
    prior = setup.priors(cfg.covariance_type, cfg.n_components) if setup.priors is not None else None
    model = Model(cfg.covariance_type, setup.reg.to(HOST), one[2], prior, pins_of(cfg, fit), setup.n_samples)

    passes = [0]

    def e_step(rows: torch.Tensor, params: Params) -> tuple[torch.Tensor, torch.Tensor]:
        passes[0] += 1
        source.use_rows(rows)
        w, m, c = params
        return source.e_step(torch.log(w), m, gaussian.cholesky(c)[0])

    point, totals = first_points(one, first_sums)
    # a fit's max_iter bounds its replicates' accelerated E-steps too
    params, settled = accelerate(point, model, e_step, totals, gain, setup.dtype, cfg.max_iter, cancel)
    return params, settled, passes[0]


def _checked(
    setup: Setup, cfg: FitConfig, source, params: Params, tol: float, spent: int, cancel: CancelToken | None
) -> tuple[Params, np.ndarray, int, int]:
    """Exact EM of the replicates from params until each meets the rule tol (per point), fails or reaches max_iter
    (less the spent E-steps: a replicate that never settles costs about max_iter of them): its parameters, the
    replicates that did not fail (B,), how many stopped at max_iter, and its E-steps (the first evaluation's, then
    one an iteration). For replicates the accelerator left before their end: a failed M-step, a cancel, its E-steps
    used up."""
    proc = _em(source, params, cfg, setup, pins_of(cfg, starts(setup, cfg)))
    _enough_ended(~proc.failed.numpy())  # before begin, whose error would speak of restarts
    stopping = Stopping(proc.n_restarts, tol, proc.failed)
    tick = None
    for tick in iterations(proc, stopping, begin(proc), max(1, cfg.max_iter - spent), cancel, fail_together=False):  # noqa: B007
        pass
    ended = ~proc.failed.numpy()
    _enough_ended(ended)
    not_converged = int((~stopping.converged.numpy() & ended).sum())
    return proc.params(), ended, not_converged, 1 + tick.iteration


def _em(source, params: Params, cfg: FitConfig, setup: Setup, pins=None) -> ExactEM:
    """Exact EM of the replicates from params, the fit's pinned parameters (pins_of) held at the fit's values."""
    return ExactEM(source, params, cfg.covariance_type, setup.reg, cfg.empty_policy, priors=setup.priors, pins=pins)


def _shared(x: torch.Tensor, rows: torch.Tensor):
    """first_sums for weight rows (B, N) float64 over points x (N, D) float64 (replicate_start.first_points)."""

    def first_sums(one: Params) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        stats, ll = shared_sums(x, coefficients(one), rows)
        return stats, ll, rows.sum(1)

    return first_sums


def _replicate_config(cfg: FitConfig, fitted: tuple[np.ndarray, ...], replicates: int) -> FitConfig:
    """The fit's settings with `replicates` rows, each started from the fitted parameters (exact EM), in float64
    whatever the fit's precision: the replicates' rule (1e-4 in the total log-likelihood) needs log-likelihoods that
    exact, and float32's are not (a float32 fit's replicates stopped at the fit's per-point rule: on 2e4 forum points,
    B = 50, SEs up to 13% small, 43% with SQUAREM alone, the intervals lopsided towards the fit)."""
    start = InitParams.from_arrays(*fitted)
    return replace(
        cfg, algorithm="em", init="params", init_params=start, restarts=replicates, select_by="final", dtype="float64"
    )


def drawn_size(n: int, base: np.ndarray | None) -> int:
    """How many points a replicate draws: N, or round(sum w) with frequency weights (at least 1)."""
    return n if base is None else max(1, int(round(float(base.sum()))))


def replicate_weights(
    kind: str, n: int, replicates: int, rng: np.random.Generator, base: np.ndarray | None = None
) -> np.ndarray:
    """Each replicate's frequency weights (B, N) float64: multinomial counts (nonparametric: N draws with
    replacement, or round(sum w) draws in proportion to the weights w), or the Bayesian bootstrap's N g / sum g,
    g ~ Exp(1) (weighted; with weights g ~ Gamma(w), scaled to sum w)."""
    if kind == "nonparametric":  # N draws with replacement, counted: NumPy's multinomial draws one binomial per
        # point, much slower (docs/performance.md, 'The bootstrap')
        size = drawn_size(n, base)
        cumulative = None if base is None else np.cumsum(base / base.sum())
        counts = np.empty((replicates, n))
        # int32 indices where they fit: the same draws as int64 (NumPy's bounded integers below 2^32 come from the
        # same 32-bit stream), a third of the time
        index = np.int32 if n < 2**31 else np.int64
        for b in range(replicates):  # a row at a time (the same stream as all at once): no (B, size) draws held
            if cumulative is None:
                drawn = rng.integers(0, n, size=size, dtype=index)
            else:  # np.minimum: a draw past the cumulative sum's rounded last value
                drawn = np.minimum(np.searchsorted(cumulative, rng.random(size), side="right"), n - 1)
            counts[b] = np.bincount(drawn, minlength=n)
        return counts
    if base is None:
        g = rng.standard_exponential((replicates, n))
    else:  # a point of weight w stands for w rows, each Exp(1): their sum is Gamma(w) (0 for w = 0), not w Exp(1)
        g = rng.standard_gamma(np.broadcast_to(base, (replicates, n)))
    total = float(n) if base is None else float(base.sum())
    return g * (total / g.sum(axis=1, keepdims=True))


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(HOST, torch.float64).numpy()


def _matched(
    fitted: tuple[np.ndarray, ...], w: np.ndarray, m: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The replicates' (B, K), (B, K, D), (B, K, D, D) with their components put in the fit's order (each
    replicate's permutation by match_components against the fit)."""
    _, ref_m, ref_c = (np.asarray(a, dtype=np.float64) for a in fitted)
    order = np.stack([match_components(ref_m, ref_c, m[b], c[b]) for b in range(len(w))])  # (B, K)
    rows = np.arange(len(w))[:, None]
    return w[rows, order], m[rows, order], c[rows, order]
