"""Session files (.gmmsession, JSON): the data reference and hash, every setting, the chosen fit and its history.

Fits are deterministic (restart r draws from a generator seeded seed + r), so `replay` re-runs the saved
settings on the same data and reproduces the saved numbers. The data is referenced by path and SHA-256 (a
file), by its recipe (generated), or stored inline (drawn by hand, or when asked).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from ..config import FitConfig, InitParams
from ..errors import UserError
from ..fixed import FixedParams
from ..history import History
from ..runtime.limits import MAX_FEATURES, check_fit_memory, check_generate_memory, check_seed
from ..snapshot import Snapshot
from .data import check_mixture, first_non_number
from .dataref import DataRef, chunked_ref, file_ref, generated_ref, inline_ref  # noqa: F401 - the session's names
from .export import finite_or_none, read_json_file, versions
from .outputs import atomic_write
from .session_parts import (  # noqa: F401 - the session's names
    bootstrap_differences,
    bootstrap_part,
    information_differences,
    information_part,
    session_bootstrap,
    session_information,
)
from .session_parts import field as _field

FORMAT = "gmm-studio-session"
FORMAT_VERSION = 1
HISTORY_ENTRIES = 200  # parameter history entries stored (the log-likelihood trace is stored whole)


def config_to_dict(cfg: FitConfig) -> dict:
    out = {f.name: getattr(cfg, f.name) for f in fields(FitConfig) if f.name != "extra"}
    if cfg.init_params is not None:
        out["init_params"] = asdict(cfg.init_params)
    if cfg.fixed is not None:
        out["fixed"] = asdict(cfg.fixed)
    return json.loads(json.dumps(out))  # tuples to lists


def config_from_dict(d: dict) -> FitConfig:
    known = {f.name for f in fields(FitConfig)} - {"extra"}
    unknown = set(d) - known
    if unknown:
        raise UserError(f"session settings {sorted(unknown)} are unknown: the file is from a newer version")
    d = dict(d)
    # sessions written before reg_covar had units meant scikit-learn's (the data's units): they replay as saved
    d.setdefault("reg_covar_units", "data")
    if d.get("init_params") is not None:
        p = d["init_params"]
        if not isinstance(p, dict):
            raise UserError("config: init_params must be an object with weights, means and covariances")
        w, m, c = check_mixture(p.get("weights"), p.get("means"), p.get("covariances"), "config: init_params")
        d["init_params"] = InitParams.from_arrays(w, m, c)
    if d.get("fixed") is not None:
        try:
            d["fixed"] = FixedParams.from_dict(d["fixed"])
        except ValueError as exc:
            raise UserError(f"config: {exc}") from None
    if d.get("betas") is not None:
        if not isinstance(d["betas"], list):
            raise UserError(f"config: betas must be a list of two numbers, got {d['betas']!r:.60}")
        d["betas"] = tuple(d["betas"])
    return FitConfig(**d)


def session_dict(
    data: DataRef,
    config: FitConfig,
    snap: Snapshot,
    history: History | None,
    log_likelihood_trace: np.ndarray | None = None,
    bootstrap: dict | None = None,
    information: dict | None = None,
) -> dict:
    """The session as JSON-ready data; bootstrap: the fit's bootstrap (session_bootstrap), information: its observed
    information (session_information), each replayed after it."""
    fit = {
        "status": snap.status,
        "iteration": snap.iteration,  # the batch's (its slowest restart's)
        "restart_iterations": snap.restart_iterations,  # the chosen restart's own
        "restart_converged": snap.restart_converged,
        "restart": snap.restart,
        "mean_log_likelihood": snap.mean_log_likelihood,
        "log_likelihood": snap.log_likelihood,
        "weights": snap.weights.tolist(),
        "means": snap.means.tolist(),
        "covariances": snap.covariances.tolist(),
        "restart_mean_log_likelihood": [finite_or_none(v) for v in snap.restarts.mean_log_likelihood],
    }
    hist = {}
    if history is not None:
        kept = history.kept()
        step = max(1, math.ceil(len(kept) / HISTORY_ENTRIES))
        chosen = kept[::step] + ([kept[-1]] if (len(kept) - 1) % step else [])
        # the fit's answer is one restart: its own run, not each iteration's best restart (another, in a batch)
        r = snap.restart
        trace = history.log_likelihoods(r) if log_likelihood_trace is None else log_likelihood_trace
        trace = np.asarray(trace)
        hist = {
            "restart": r,
            "log_likelihood": trace[np.isfinite(trace[:, 1])].tolist() if trace.size else [],
            "params": [
                {
                    "iteration": e.iteration,
                    "weights": e.restart_weights[r].tolist(),
                    "means": e.restart_means[r].tolist(),
                    "covariances": e.restart_covariances[r].tolist(),
                }
                for e in chosen
            ],
        }
    out = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "data": asdict(data),
        "config": config_to_dict(config),
        "fit": fit,
        "history": hist,
        "versions": versions(),
    }
    parts = {"bootstrap": bootstrap, "information": information}
    return out | {name: part for name, part in parts.items() if part is not None}


def write_session(
    path: str | Path,
    data: DataRef,
    config: FitConfig,
    snap: Snapshot,
    history: History | None = None,
    log_likelihood_trace: np.ndarray | None = None,
    bootstrap: dict | None = None,
    information: dict | None = None,
) -> None:
    """Write the session atomically. log_likelihood_trace (T, 2): every iteration's mean log-likelihood when
    the history holds only some of them; bootstrap: the fit's bootstrap (session_bootstrap), information: its
    observed information (session_information)."""
    if Path(path).suffix.lower() != ".gmmsession":
        raise UserError(f"{path}: name the session file *.gmmsession")
    doc = session_dict(data, config, snap, history, log_likelihood_trace, bootstrap, information)
    text = json.dumps(doc, allow_nan=False) + "\n"
    atomic_write(path, text.encode())


@dataclass(frozen=True)
class Session:
    data: DataRef
    config: FitConfig
    fit: dict
    history: dict
    versions: dict = field(default_factory=dict)  # what wrote the file: gmm_studio, python, torch, ...
    bootstrap: dict | None = None  # the fit's bootstrap (B, type, seed, standard errors), replayed after it
    information: dict | None = None  # the fit's observed information (method, standard errors), replayed after it


def read_session(path: str | Path) -> Session:
    """Read and validate a session file: every field's type, shape and range, and what it would cost, before
    any work (UserError naming the field)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such session file")
    d = read_json_file(path, "session file")
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise UserError(f"{path}: is not a GMM Studio session file (no 'format': '{FORMAT}')")
    version = d.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise UserError(f"{path}: format_version must be a whole number, got {version!r}")
    if version > FORMAT_VERSION:
        raise UserError(
            f"{path}: session format {version} is newer than this GMM Studio reads "
            f"({FORMAT_VERSION}): update GMM Studio"
        )
    try:
        data = _data_ref(_field(d, "data", dict))
        config = config_from_dict(_field(d, "config", dict))
        resolved = config.resolved()  # every setting checked, as a fit would
        fit = _field(d, "fit", dict)
        _check_fit(fit, resolved, data)
        history = d.get("history", {})
        versions_ = d.get("versions", {})
        if not isinstance(history, dict) or not isinstance(versions_, dict):
            raise UserError("'history' and 'versions' must be JSON objects")
        boot = bootstrap_part(d.get("bootstrap"), resolved, data)
        info = information_part(d.get("information"), resolved, data)
        if not data.chunked:  # data read by chunks is never held whole: a pass per iteration
            check_fit_memory(
                data.n_samples,
                data.n_features,
                resolved.n_components,
                resolved.restarts,
                factor=resolved.memory_factor,
            )
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise UserError(f"{path}: the session file is damaged ({type(exc).__name__}: {exc}): save it again") from None
    return Session(data, config, fit, history, versions_, boot, info)


def _data_ref(d: dict) -> DataRef:
    """The 'data' part, checked: kind, hash, sizes, and the recipe or points of that kind."""
    kind = _field(d, "kind", str, "data: ")
    if kind not in ("file", "generated", "inline"):
        raise UserError(f"data: kind {kind!r} is unknown: the file is damaged or from a newer version")
    sha = _field(d, "sha256", str, "data: ")
    n_samples = _field(d, "n_samples", int, "data: ")
    if n_samples < 1:
        raise UserError(f"data: n_samples must be >= 1, got {n_samples}")
    columns = tuple(d.get("columns") or ())
    if any(isinstance(c, bool) or not isinstance(c, (int, str)) for c in columns):
        raise UserError(f"data: columns must be indices or names, got {list(columns)!r:.60}")
    d_features = d.get("n_features", 2)
    # generated data is made here: as many columns as generate makes; a file's or inline data's are theirs (a fit of
    # a 100-column file wrote a session that replay refused)
    most = MAX_FEATURES if kind == "generated" else sys.maxsize
    if isinstance(d_features, bool) or not isinstance(d_features, int) or not 1 <= d_features <= most:
        limit = f"from 1 to {MAX_FEATURES}" if kind == "generated" else ">= 1"
        raise UserError(f"data: n_features must be a whole number {limit}, got {d_features!r:.60}")
    chunked = d.get("chunked", False)
    if not isinstance(chunked, bool) or (chunked and kind != "file"):
        raise UserError(f"data: chunked must be true or false (true for a file only), got {chunked!r:.60}")
    ref = DataRef(kind, sha, n_samples, columns=columns, n_features=d_features, chunked=chunked)
    if kind == "file":
        return replace(ref, path=_field(d, "path", str, "data: "), **_weights_ref(d), missing=_missing_flag(d, kind))
    _missing_flag(d, kind)
    if kind == "generated":
        mixture = _field(d, "mixture", dict, "data: ")
        n = _field(d, "n", int, "data: ")
        if n != n_samples:
            raise UserError(f"data: n ({n}) and n_samples ({n_samples}) differ")
        seed = check_seed(_field(d, "seed", int, "data: "), "data: seed")
        w, m, c = check_mixture(
            mixture.get("weights"), mixture.get("means"), mixture.get("covariances"), "data: mixture"
        )
        if m.shape[1] != d_features:
            raise UserError(f"data: the mixture is {m.shape[1]}-D but n_features is {d_features}")
        check_generate_memory(n, d_features)
        return replace(
            ref, mixture={"weights": w.tolist(), "means": m.tolist(), "covariances": c.tolist()}, n=n, seed=seed
        )
    points = _field(d, "points", list, "data: ")
    if len(points) != n_samples:
        raise UserError(f"data: holds {len(points)} points but n_samples is {n_samples}")
    bad = next(
        (
            p
            for p in points
            if not (
                isinstance(p, list)
                and len(p) == d_features
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)
            )
        ),
        None,
    )
    if bad is not None:
        raise UserError(f"data: every point must be {d_features} finite numbers (n_features), found {bad!r:.60}")
    return replace(ref, points=points)


def _missing_flag(d: dict, kind: str) -> bool:
    """The data's missing flag (a file read with missing values), checked: true for a file only."""
    missing = d.get("missing", False)
    if not isinstance(missing, bool) or (missing and kind != "file"):
        raise UserError(f"data: missing must be true or false (true for a file only), got {missing!r:.60}")
    return missing


def _weights_ref(d: dict) -> dict:
    """A file's weights' column (a place in the file, or none) and their hash, checked."""
    column, sha = d.get("weights_column"), d.get("weights_sha256", "")
    if column is not None and (isinstance(column, bool) or not isinstance(column, int) or column < 0):
        raise UserError(f"data: weights_column must be a column's place (a whole number >= 0), got {column!r:.60}")
    if not isinstance(sha, str):
        raise UserError(f"data: weights_sha256 must be a string, got {sha!r:.60}")
    return {"weights_column": column, "weights_sha256": sha}


def _check_fit(fit: dict, config: FitConfig, data: DataRef) -> None:
    """The 'fit' part: its status, counters and parameters of the config's K in the data's D, all finite."""
    _field(fit, "status", str, "fit: ")
    for name in ("iteration", "restart"):
        if _field(fit, name, int, "fit: ") < 0:
            raise UserError(f"fit: '{name}' must be >= 0")
    if fit["restart"] >= config.restarts:
        raise UserError(f"fit: restart {fit['restart']} but the settings ask for {config.restarts} restarts")
    for name in ("mean_log_likelihood", "log_likelihood"):
        if not math.isfinite(_field(fit, name, (int, float), "fit: ")):
            raise UserError(f"fit: '{name}' must be finite")
    k, d = config.n_components, data.n_features
    for name, shape in (("weights", (k,)), ("means", (k, d)), ("covariances", (k, d, d))):
        value = _field(fit, name, list, "fit: ")
        bad = first_non_number(value)
        arr = np.asarray(value, dtype=np.float64) if bad is None else None
        if arr is None or arr.shape != shape or not np.isfinite(arr).all():
            raise UserError(f"fit: '{name}' must be {' x '.join(map(str, shape))} finite numbers (K = {k})")


def replay_differences(saved: dict, last) -> list[str]:
    """What differs between a session's saved fit and the replayed snapshot ([] when it was reproduced)."""
    out = []
    if last.iteration != saved["iteration"]:
        out.append(f"iterations {last.iteration} (saved {saved['iteration']})")
    if last.restart != saved["restart"]:
        out.append(f"chosen restart {last.restart} (saved {saved['restart']})")
    # both log-likelihoods: the replay prints the saved total beside the mean, and a session edited by hand can
    # disagree in either (the total alone went unchecked: "reproduced" under a total that was not the fit's)
    for name, label in (("mean_log_likelihood", "mean log-likelihood"), ("log_likelihood", "log-likelihood")):
        ll, saved_ll = getattr(last, name), saved[name]
        if abs(ll - saved_ll) > 1e-12 * max(1.0, abs(saved_ll)):
            out.append(f"{label} {ll:.17g} (saved {saved_ll:.17g})")
    for name in ("weights", "means", "covariances"):
        diff = float(np.max(np.abs(np.asarray(saved[name]) - getattr(last, name))))
        if diff > 1e-9:
            out.append(f"{name} differ by up to {diff:.3g}")
    return out
