"""The bootstrap of a fit that stopped on a plateau (a third new user's try, 2026-12-05): `fit forum.csv -k 3
--bootstrap 50` of 2e4 forum points at the defaults (one restart, tol 1e-6 per point) stops at log-likelihood
-92205.7, on the way to -92053.1 (plain EM on the data from there, at tol 1e-12, goes on for 1,221 iterations). Its
replicates' own rule (1e-4 in the total log-likelihood) takes each on from there; each accelerator's replicates
against plain EM's from the fit, batched, at tol 1e-12 per point (the bootstrap's own exact EM, its accelerator
replaced by no step): how many replicates end more than 0.1 from plain EM's end in some mean, the total
log-likelihood they lack against it (SciPy's), and the standard errors of the means over plain EM's.

    .venv/bin/python bench/bench_bootstrap_plateau.py [--n 20000] [--b 50] [--max-iter 1000]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch
from common import forum_data, parse_args, scipy_total_ll, squarem_alone, table

from engine import FitConfig, run_to_end
from engine.selection import bootstrap as boot_module
from engine.selection.bootstrap import bootstrap, replicate_weights

HEADERS = [
    "accelerator",
    "seconds",
    "stopped at max-iter",
    "ends > 0.1 from plain EM's",
    "lacks: median",
    "lacks: largest",
    "SE of the means / plain EM's",
]


def _no_step(setup, cfg, source, first_sums, gain, cancel):
    """bootstrap._accelerated's stand-in: every replicate at the fit, none ended (plain EM takes them all on)."""
    fit = boot_module.starts(setup, cfg)
    rows = cfg.restarts
    params = tuple(p[0:1].expand(rows, *p.shape[1:]).clone().to(torch.float64) for p in fit)
    return params, torch.zeros(rows, dtype=torch.bool), 0


def run(x, fitted, cfg, b: int, accelerator=None, plain: bool = False):
    """The bootstrap (B = b, nonparametric, seed 0) with accelerator in place of Anderson's (None: the shipped one;
    plain: plain EM from the fit to tol 1e-12 per point); the result and its seconds."""
    saved = boot_module.accelerate, boot_module._accelerated
    if accelerator is not None:
        boot_module.accelerate = accelerator
    if plain:
        boot_module._accelerated = _no_step
    try:
        start = time.perf_counter()
        result = bootstrap(x, fitted, cfg, b, "nonparametric", seed=0, tol=1e-12 if plain else None)
        assert result.failed == 0, "a replicate failed: its rows no longer line up with plain EM's"
        return result, time.perf_counter() - start
    finally:
        boot_module.accelerate, boot_module._accelerated = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--b", type=int, default=50)
    parser.add_argument("--max-iter", type=int, default=1000, help="the fit's (the replicates' budget)")
    args = parse_args(parser, n=2000, b=4, max_iter=30)
    x = forum_data(args.n, 0)
    cfg = FitConfig(n_components=3, covariance_type="full", seed=0, max_iter=args.max_iter)
    snap = run_to_end(x, cfg)
    fitted = (snap.weights, snap.means, snap.covariances)
    print(f"fit: {snap.status} after {snap.iteration} iterations, log-likelihood {snap.log_likelihood:.6f}")
    rows = replicate_weights("nonparametric", len(x), args.b, np.random.default_rng(0))  # the seed's first draw
    reference, seconds = run(x, fitted, replace(cfg, max_iter=50000), args.b, plain=True)
    print(f"plain EM from the fit: {seconds:.1f} s, {reference.not_converged} of {args.b} stopped at 50,000 iterations")
    ends = [(reference.weights[i], reference.means[i], reference.covariances[i]) for i in range(args.b)]
    plain_ll = np.array([scipy_total_ll(x, rows[i], *ends[i]) for i in range(args.b)])
    out = []
    for label, accelerator in (("Anderson, SQUAREM where it stalls", None), ("SQUAREM alone", squarem_alone)):
        result, seconds = run(x, fitted, cfg, args.b, accelerator)
        far = np.abs(result.means - reference.means).max(axis=(1, 2)) > 0.1
        lacks = plain_ll - [
            scipy_total_ll(x, rows[i], result.weights[i], result.means[i], result.covariances[i]) for i in range(args.b)
        ]
        ratios = (result.means.std(0, ddof=1) / reference.means.std(0, ddof=1)).ravel()
        out.append(
            [
                label,
                seconds,
                result.not_converged,
                int(far.sum()),
                float(np.median(lacks)),
                float(lacks.max()),
                f"{ratios.min():.2f}-{ratios.max():.2f}",
            ]
        )
    print(table(HEADERS, out))


if __name__ == "__main__":
    main()
