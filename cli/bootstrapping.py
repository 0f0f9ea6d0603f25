"""fit --bootstrap B: the checks before the fit, the replicates after it, and the short table it prints."""

from __future__ import annotations

import sys
import time

import numpy as np

from engine.config import FitConfig
from engine.errors import UserError
from engine.runtime.limits import available_memory, fit_bytes, human

MIN_REPLICATES = 2


def check_bootstrap(args, streamed: bool) -> None:
    """Refuse --bootstrap before the fit runs: fewer than two replicates, or data not held in memory. (Pinned
    parameters stay pinned in every replicate: their standard errors are nil; with --missing em each replicate is
    missing-values EM: selection/replicate_missing.py, and for the parametric type selection/replicate_simulated.py,
    simulated points missing the data's cells.)"""
    if args.bootstrap is None:
        if args.bootstrap_type is not None:  # a flag that alone would do nothing: the user meant a bootstrap
            raise UserError(
                f"--bootstrap-type {args.bootstrap_type} says how bootstrap replicates are drawn, and no --bootstrap B "
                "asks for them: add --bootstrap 200, say, or drop --bootstrap-type"
            )
        return
    args.bootstrap_type = args.bootstrap_type or "nonparametric"
    if args.bootstrap < MIN_REPLICATES:
        raise UserError(f"--bootstrap needs at least {MIN_REPLICATES} replicates, got {args.bootstrap}")
    if streamed:
        other = "fit without --dask" if getattr(args, "dask", None) else "raise --memory-limit"
        raise UserError(f"--bootstrap needs the data in memory (its replicates weigh every point): {other}")


def check_bootstrap_memory(args, shape: tuple[int, int], cfg: FitConfig) -> None:
    """Refuse replicates whose working arrays (B rows of the E-step and one weight a point and replicate, or B
    simulated data sets, each of round(sum w) points with frequency weights) would not fit in the memory available,
    naming the most that would."""
    if args.bootstrap is None:
        return
    from engine.selection.replicate_anderson import state_bytes

    n, d = shape
    limit = min(args.limit_bytes, available_memory())
    parametric = args.bootstrap_type == "parametric"
    weights = getattr(args, "weight_values", None)
    points = f"{n:,} points"
    if parametric and weights is not None:  # a replicate simulates round(sum w) points: the weighted data's size
        from engine.selection.bootstrap import drawn_size

        n = drawn_size(n, weights)
        points = f"{n:,} simulated points a replicate (the sum of the weights)"

    # with --missing em a replicate's weights are kept in the pattern order and taken for the rows still running, in
    # the working dtype and in float64: at most four copies (selection/replicate_missing.py); a parametric replicate
    # holds what a complete one does, its points with their features and a row of log p (the sort by pattern is
    # shared: selection/replicate_simulated.py)
    copies = 4 if getattr(args, "missing", None) and not parametric else 1

    def need(b: int) -> int:
        per_row = 8 * n * (copies + (d + 1 + d * (d + 1) // 2 if parametric else 0))
        per_row += state_bytes(cfg.n_components, d)  # the accelerator's steps: K (1 + D + D (D + 1) / 2) sums each
        return fit_bytes(n, d, cfg.n_components, b, cfg.memory_factor) + b * per_row

    if need(args.bootstrap) <= limit:
        return
    most = (limit - need(0)) // (need(1) - need(0))  # the need grows linearly with the replicates
    what = f"use at most {most} replicates" if most >= MIN_REPLICATES else "raise --memory-limit, or fit fewer points"
    raise UserError(
        f"--bootstrap {args.bootstrap} on {points} needs about {human(need(args.bootstrap))} of memory, more than "
        f"{human(limit)} (--memory-limit or the memory available): {what}"
    )


def run_bootstrap(args, ds, cfg: FitConfig, last, params) -> list[str]:
    """The replicates of the fit `last` of ds (its weights args.weight_values); their standard errors, intervals
    and settings go into params.meta (the export's); the lines to print."""
    from engine.selection.bootstrap import bootstrap

    if not args.quiet:
        print(f"bootstrap: {args.bootstrap} {args.bootstrap_type} replicates ...", file=sys.stderr)
    fitted = (last.weights, last.means, last.covariances)
    start = time.perf_counter()
    boot = bootstrap(
        ds.points, fitted, cfg, args.bootstrap, args.bootstrap_type, seed=cfg.seed, weights=args.weight_values
    )
    elapsed = time.perf_counter() - start
    params.meta.update(boot.meta())
    return bootstrap_table(boot, fitted, ds.columns, elapsed)


def run_identifiability(args, ds, cfg: FitConfig, last) -> tuple[dict, list[str]]:
    """--gallery with --bootstrap B: each optimum of the gallery bootstrapped B times (of --bootstrap-type, from the
    fit's seed), how often its components are identifiable; (label -> Identifiability, the lines to print)."""
    from engine.selection.gallery import build_gallery
    from engine.selection.identifiability import describe_identifiability, gallery_identifiability

    def say(done: int, total: int) -> None:
        print(f"identifiability: optimum {done + 1} of {total}, {args.bootstrap} replicates ...", file=sys.stderr)

    solutions = build_gallery(last).solutions
    found = gallery_identifiability(
        ds.points,
        solutions,
        cfg,
        args.bootstrap,
        args.bootstrap_type,
        args.weight_values,
        progress=None if args.quiet else say,
    )
    return found, [describe_identifiability(found)]


def bootstrap_table(boot, fitted: tuple[np.ndarray, ...], columns: tuple[str, ...], elapsed: float) -> list[str]:
    """What the command line prints: one line on the replicates, then each component's weight, means and
    variances with their standard errors and 95% percentile intervals (the covariances' other entries: in the
    export)."""
    used = boot.weights.shape[0]
    head = (
        f"bootstrap: {boot.requested} {boot.kind} replicates (seed {boot.seed}) in {elapsed:.2f}s, {used} used"
        f"{f', {boot.failed} failed (left out)' if boot.failed else ''}"
        f"{f', {boot.not_converged} stopped at max-iter' if boot.not_converged else ''}; standard errors (SE) and "
        "95% percentile intervals:"
    )
    se, ci = boot.standard_errors(), boot.intervals()
    names = [columns[i] if i < len(columns) else str(i) for i in range(fitted[1].shape[1])]
    rows = []  # (component, label, (estimate, SE, 2.5%, 97.5%))
    for k in range(len(fitted[0])):
        entries = [("weight", "weights", ())]
        entries += [(f"mean {name}", "means", (i,)) for i, name in enumerate(names)]
        entries += [(f"variance {name}", "covariances", (i, i)) for i, name in enumerate(names)]
        for label, name, at in entries:
            where = (k, *at)
            value = fitted[("weights", "means", "covariances").index(name)][where]
            rows.append((k, label, (value, se[name][where], ci[name][0][where], ci[name][1][where])))
    width = max(len("parameter"), *(len(label) for _, label, _ in rows))
    lines = [head, f"  {'component':>9}  {'parameter':<{width}} {'estimate':>12} {'SE':>12} {'2.5%':>12} {'97.5%':>12}"]
    for k, label, values in rows:
        lines.append(f"  {k:>9}  {label:<{width}} " + " ".join(f"{v:>12.6g}" for v in values))
    return lines
