"""Pinned parameters (issue 25): which components' weights, means and covariances exact EM keeps at the values of
the init file (`fit --init params.json --fix means=0,2`), the settings' checks, and the pinned values in data units.

The fit works on standardised data (model/scaling.py), where a pinned mean or covariance is the file's value mapped
there (its last bits may change); EM keeps that working value fixed, and every snapshot puts the file's own value,
bit for bit, back in its place (`put_pinned`). Shapes: K components, D dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model.covariances import COVARIANCE_TYPES

KINDS = ("weights", "means", "covariances")
# The models whose components share no part of their covariances: a pin on some components' covariances leaves the
# others' update exact. Every other model shares a volume, shape or orientation, so only all of them can be pinned.
INDEPENDENT_MODELS = ("VII", "VVI", "VVV")
# A pinned covariance must be of the model's form already: its projection onto the model may differ by rounding alone.
FORM_RTOL = 1e-12
WEIGHT_SUM_TOL = 1e-12  # as pipeline.exact_start: pinned weights must sum with the others to 1 within this


@dataclass(frozen=True)
class FixedParams:
    """The components (numbers as in the init file) whose weights, means or covariances stay at their start."""

    weights: tuple[int, ...] = ()
    means: tuple[int, ...] = ()
    covariances: tuple[int, ...] = ()

    @classmethod
    def from_dict(cls, d: dict) -> FixedParams:
        """From {"means": [0, 2], ...} (an export's or a session's "fixed"); ValueError for anything else."""
        if not isinstance(d, dict) or set(d) - set(KINDS):
            raise ValueError(f"fixed must be an object with {', '.join(KINDS)}, got {d!r:.60}")
        out = {}
        for kind, comps in d.items():
            if not isinstance(comps, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in comps):
                raise ValueError(f"fixed {kind} must be a list of component numbers, got {comps!r:.60}")
            out[kind] = tuple(sorted(set(comps)))
        return cls(**out)

    def as_dict(self) -> dict[str, list[int]]:
        """{"means": [0, 2], ...}: the kinds that pin something (the export's "fixed")."""
        return {kind: list(getattr(self, kind)) for kind in KINDS if getattr(self, kind)}

    def masks(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boolean masks (K,) of the pinned weights, means and covariances."""
        out = []
        for kind in KINDS:
            mask = np.zeros(k, dtype=bool)
            mask[list(getattr(self, kind))] = True
            out.append(mask)
        return tuple(out)

    def completed(self, k: int) -> FixedParams:
        """Every weight but one pinned pins that one too (the weights sum to 1: it has no freedom left)."""
        if len(self.weights) == k - 1 and all(0 <= c < k for c in self.weights):
            return FixedParams(tuple(range(k)), self.means, self.covariances)
        return self


def fixed_checks(cfg) -> list[tuple[bool, str]]:
    """(allowed, the message if not) for cfg.fixed: an init file, exact EM without a prior, components in range, a
    covariance pin the model allows, pinned weights that leave the free ones some."""
    fixed = cfg.fixed
    if fixed is None:
        return []
    if cfg.init_params is None:
        return [(False, "--fix pins values of the start: give the start as a parameters file, --init params.json")]
    k = len(cfg.init_params.weights)
    model = COVARIANCE_TYPES[cfg.covariance_type].model if cfg.covariance_type in COVARIANCE_TYPES else ""
    out_of_range = [
        f"--fix {kind}: component {c} is out of range" for kind in KINDS for c in getattr(fixed, kind) if not 0 <= c < k
    ]
    checks = [
        (
            cfg.algorithm == "em",
            f"--fix needs exact EM (its M-step keeps the pins): use --algorithm em, not {cfg.algorithm}",
        ),
        (cfg.prior is None, "--fix fits maximum likelihood: drop --prior"),
        (
            not out_of_range,
            f"{(out_of_range or [''])[0]}: the init file has components 0 to {k - 1}",
        ),
        (
            cfg.restarts == 1,
            "--fix starts every restart from the init file, so every restart would be the same fit: use --restarts 1",
        ),
        (
            not fixed.covariances or len(fixed.covariances) == k or model in INDEPENDENT_MODELS,
            f"--fix covariances: {model} covariances share a part (a volume, shape or orientation), so pin every "
            f"component's or none; only {', '.join(INDEPENDENT_MODELS)} pin some",
        ),
    ]
    if all(ok for ok, _ in checks) and model:
        checks += _value_checks(cfg, k)
    return checks


def _value_checks(cfg, k: int) -> list[tuple[bool, str]]:
    """The init file's values can be pinned: its weights sum to 1 and leave the free components some weight, its
    pinned covariances are of the model's form."""
    fixed, p = cfg.fixed, cfg.init_params
    weights = np.asarray(p.weights, dtype=np.float64)
    pinned = float(weights[list(fixed.weights)].sum())
    free = k - len(fixed.weights)
    checks = [
        (
            not fixed.weights or abs(weights.sum() - 1.0) <= WEIGHT_SUM_TOL,
            f"--fix weights: the init file's weights sum to {weights.sum():.17g}, not 1: make them sum to 1",
        ),
        (
            free == 0 or pinned < 1.0,
            f"--fix weights: the pinned weights sum to {pinned:.6g}, leaving none to the free components",
        ),
    ]
    bad = _off_form(cfg, fixed.covariances)
    model = COVARIANCE_TYPES[cfg.covariance_type].model
    checks.append(
        (
            bad is None,
            f"--fix covariances: component {bad}'s covariance in the init file is not of the {model} "
            "form: pin a covariance the model can hold",
        )
    )
    return checks


def _off_form(cfg, comps: tuple[int, ...]) -> int | None:
    """The first pinned component whose covariance the model's projection changes by more than rounding; None."""
    if not comps:
        return None
    import torch

    cov = torch.as_tensor(cfg.init_params.covariances, dtype=torch.float64)
    weights = torch.as_tensor(cfg.init_params.weights, dtype=torch.float64)
    projected = COVARIANCE_TYPES[cfg.covariance_type].project(cov, weights)
    for c in comps:
        scale = float(cov[c].abs().max())
        if float((projected[c] - cov[c]).abs().max()) > FORM_RTOL * scale:
            return c
    return None


def put_pinned(cfg, params: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """params (weights (R, K), means (R, K, D), covariances (R, K, D, D)) in data units with every pinned value
    replaced by the init file's own, bit for bit (the fit kept it fixed in its working units)."""
    if cfg.fixed is None:
        return params
    p = cfg.init_params
    given = (np.asarray(p.weights), np.asarray(p.means), np.asarray(p.covariances))
    out = []
    for mask, value, arr in zip(cfg.fixed.masks(len(p.weights)), given, params, strict=True):
        if mask.any():
            arr = arr.copy()
            arr[:, mask] = value[mask]
        out.append(arr)
    return tuple(out)


def free_parameters(cfg, k: int, d: int) -> int:
    """The number of free parameters of cfg's K-component mixture in D dimensions with its pins (BIC, AIC): a pinned
    mean takes D away, a pinned covariance its component's share (all of them: the model's count), the free weights
    are one fewer than the free components when none is pinned, else as many as the free ones less one (their sum
    is fixed) or none."""
    cov_type = COVARIANCE_TYPES[cfg.covariance_type]
    total = cov_type.n_parameters(k, d)
    fixed = cfg.fixed
    if fixed is None:
        return total
    if len(fixed.covariances) == k:
        total -= cov_type.n_cov_parameters(k, d)
    else:  # only the independent models pin some: each component holds 1/K of their count
        total -= len(fixed.covariances) * cov_type.n_cov_parameters(k, d) // k
    total -= d * len(fixed.means)
    if fixed.weights:
        total -= (k - 1) - max(k - len(fixed.weights) - 1, 0)
    return total
