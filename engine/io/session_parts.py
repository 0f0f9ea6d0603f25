"""What a session keeps beside its fit (issue 25): the standard errors of the fit's bootstrap (its B, type and
seed) and of its observed information (the method that computed them), each flattened with its shape, a value
that is not finite stored as null. `replay` runs them again from the replayed fit and compares (to 1e-9 relative);
the field checker every part of a session file uses."""

from __future__ import annotations

import math

import numpy as np

from ..config import FitConfig
from ..errors import UserError
from ..runtime.limits import check_seed
from .dataref import DataRef
from .export import finite_or_none

BOOTSTRAP_TYPES = ("nonparametric", "parametric", "weighted")
# selection/information.py's Information.method: Louis's closed forms, autograd's (the eight constrained models),
# autograd's of the observed-data log-likelihood (missing values)
INFORMATION_METHODS = ("louis", "autograd", "autograd_missing")
SE_NAMES = ("weights", "means", "covariances")
RELATIVE = 1e-9  # replay's tolerance on a standard error: the same fit gives the same numbers to rounding


def field(d: dict, name: str, kind: type, where: str = ""):
    """d[name] if it is of the kind (bool is not a number), else UserError naming it."""
    if name not in d:
        raise UserError(f"{where}'{name}' is missing")
    value = d[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float, (int, float))):
        raise UserError(f"{where}'{name}' must be {_KIND_NAMES.get(kind, kind)}, got {value!r:.60}")
    return value


_KIND_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a whole number", (int, float): "a number"}


def _flattened(standard_errors: dict) -> tuple[dict, dict]:
    """Each standard error array flattened to a list (not finite: None), and its shape."""
    errors, shapes = {}, {}
    for name, values in standard_errors.items():
        v = np.asarray(values, dtype=np.float64)
        errors[name], shapes[name] = [finite_or_none(x) for x in v.ravel()], list(v.shape)
    return errors, shapes


def session_bootstrap(meta: dict) -> dict:
    """What a session keeps of a fit's bootstrap (an export's meta: Bootstrap.meta()): its replicates B, type and
    seed, and the standard errors replay compares, each flattened with its shape (a value that is not finite: null)."""
    errors, shapes = _flattened(meta["standard_errors"])
    run = meta["bootstrap"]
    return {"B": run["B"], "type": run["type"], "seed": run["seed"], "standard_errors": errors, "shapes": shapes}


def session_information(meta: dict) -> dict:
    """What a session keeps of a fit's observed information (an export's meta: Information.meta()): the method
    that computed it and the standard errors replay compares, flattened as the bootstrap's."""
    errors, shapes = _flattened(meta["standard_errors_information"])
    return {"method": meta["information"]["method"], "standard_errors": errors, "shapes": shapes}


def bootstrap_differences(saved: dict, meta: dict) -> list[str]:
    """What differs between a session's saved bootstrap and a replayed one's export meta ([] when reproduced: the
    standard errors to 1e-9 relative, the same ones not finite)."""
    return _differences(saved, session_bootstrap(meta), "bootstrap")


def information_differences(saved: dict, meta: dict) -> list[str]:
    """What differs between a session's saved information and a replayed one's export meta ([] when reproduced:
    the same method, the standard errors to 1e-9 relative, the same ones not finite)."""
    again = session_information(meta)
    method, saved_method = again["method"], saved["method"]
    out = [] if method == saved_method else [f"information method {method} (saved {saved_method})"]
    return out + _differences(saved, again, "information")


def _differences(saved: dict, again: dict, what: str) -> list[str]:
    """'WHAT standard errors of the NAME differ by up to X relative' for each of SE_NAMES that differs."""
    out = []
    for name in SE_NAMES:
        a = _array(saved["standard_errors"][name])
        b = _array(again["standard_errors"].get(name, []))
        same = a.shape == b.shape and np.array_equal(np.isfinite(a), np.isfinite(b))
        worst = float(np.nanmax(np.abs(a - b) / np.maximum(np.abs(a), 1e-300), initial=0.0)) if same else np.inf
        if not worst <= RELATIVE:
            out.append(f"{what} standard errors of the {name} differ by up to {worst:.3g} relative")
    return out


def _array(values: list) -> np.ndarray:
    """A flattened list of standard errors (None: not finite) as float64, None as NaN."""
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


def bootstrap_part(d, config: FitConfig, data: DataRef) -> dict | None:
    """The session's 'bootstrap' part, checked (None: the fit had none)."""
    if d is None:
        return None
    if not isinstance(d, dict):
        raise UserError("'bootstrap' must be a JSON object")
    b, kind = field(d, "B", int, "bootstrap: "), field(d, "type", str, "bootstrap: ")
    if b < 2 or kind not in BOOTSTRAP_TYPES:
        raise UserError(f"bootstrap: B must be >= 2 and type one of {', '.join(BOOTSTRAP_TYPES)}, got {b}, {kind!r}")
    check_seed(field(d, "seed", int, "bootstrap: "), "bootstrap: seed")
    _check_standard_errors(d, "bootstrap: ", config.n_components, data.n_features)
    _check_refused("bootstrap", ((data.chunked, "data read by chunks"),))
    return d


def information_part(d, config: FitConfig, data: DataRef) -> dict | None:
    """The session's 'information' part, checked (None: the fit had none): its method, its standard errors, and a
    fit that fit --information takes (data in memory, no prior, no pinned parameters)."""
    if d is None:
        return None
    if not isinstance(d, dict):
        raise UserError("'information' must be a JSON object")
    method = field(d, "method", str, "information: ")
    if method not in INFORMATION_METHODS:
        raise UserError(f"information: 'method' must be one of {', '.join(INFORMATION_METHODS)}, got {method!r:.60}")
    _check_standard_errors(d, "information: ", config.n_components, data.n_features)
    reasons = (
        (data.chunked, "data read by chunks"),
        (config.prior is not None, "a prior"),
        (config.fixed is not None, "pinned parameters"),
    )
    _check_refused("information", reasons)
    return d


def _check_refused(part: str, reasons: tuple[tuple[bool, str], ...]) -> None:
    """UserError when the fit has what `fit --PART` refuses (reasons: (whether it has it, what it is))."""
    refused = [why for on, why in reasons if on]
    if refused:
        raise UserError(f"{part}: the fit has {' and '.join(refused)}, which fit --{part} refuses: the file is damaged")


def _check_standard_errors(d: dict, where: str, k: int, dim: int) -> None:
    """A part's 'standard_errors' and 'shapes': the weights (K,), means (K, D) and covariances (K, D, D), each a
    flat list of numbers >= 0 or null (not finite) with its shape."""
    errors, shapes = field(d, "standard_errors", dict, where), field(d, "shapes", dict, where)
    for name, shape in zip(SE_NAMES, ((k,), (k, dim), (k, dim, dim)), strict=True):
        values = field(errors, name, list, f"{where}standard_errors: ")
        shape_ok = field(shapes, name, list, f"{where}shapes: ") == list(shape)
        if not shape_ok or len(values) != math.prod(shape) or not all(map(_is_error, values)):
            raise UserError(
                f"{where}standard_errors: '{name}' must be {math.prod(shape)} numbers >= 0 or null, its shapes "
                f"entry {list(shape)} (K = {k}, D = {dim}), got {values!r:.60}"
            )


def _is_error(v) -> bool:
    """A stored standard error: a finite number >= 0, or None (one that was not finite)."""
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0)
