"""Session files (.gmmsession, JSON): the data reference and hash, every setting, the chosen fit and its history.

Fits are deterministic (restart r draws from a generator seeded seed + r), so `replay` re-runs the saved
settings on the same data and reproduces the saved numbers. The data is referenced by path and SHA-256 (a
file), by its recipe (generated), or stored inline (drawn by hand, or when asked).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from .config import FitConfig, InitParams
from .data import Dataset, load, points_sha256, sample_mixture
from .errors import UserError
from .export import atomic_write, finite_or_none, versions
from .history import History
from .snapshot import Snapshot

FORMAT = "gmm-studio-session"
FORMAT_VERSION = 1
HISTORY_ENTRIES = 200  # parameter history entries stored (the log-likelihood trace is stored whole)


@dataclass(frozen=True)
class DataRef:
    """Where the data comes from: kind "file" (path, columns), "generated" (mixture, n, seed) or "inline"."""

    kind: str
    sha256: str
    n_samples: int
    path: str = ""
    columns: tuple = ()
    mixture: dict | None = None
    n: int = 0
    seed: int = 0
    points: list | None = None

    def load(self) -> np.ndarray:
        """The points, checked against the saved hash; UserError naming what changed."""
        if self.kind == "file":
            points = load(self.path, list(self.columns) if self.columns else None).points
        elif self.kind == "generated":
            m = self.mixture
            points, _ = sample_mixture(m["weights"], m["means"], m["covariances"], self.n, self.seed)
        elif self.kind == "inline":
            points = np.asarray(self.points, dtype=np.float64).reshape(-1, 2)
        else:
            raise UserError(f"session data kind {self.kind!r} is unknown: the file is damaged or from a newer version")
        digest = points_sha256(points)
        if digest != self.sha256:
            where = self.path if self.kind == "file" else f"the {self.kind} data"
            raise UserError(f"{where} has changed since the session was saved (SHA-256 {digest[:12]}… but the "
                            f"session recorded {self.sha256[:12]}…): the fits would not be the same")
        return points


def file_ref(dataset: Dataset) -> DataRef:
    return DataRef("file", dataset.sha256, len(dataset.points), path=str(Path(dataset.source).resolve()),
                   columns=tuple(dataset.column_indices))


def generated_ref(mixture: dict, n: int, seed: int, points: np.ndarray) -> DataRef:
    m = {k: np.asarray(mixture[k]).tolist() for k in ("weights", "means", "covariances")}
    return DataRef("generated", points_sha256(points), n, mixture=m, n=n, seed=seed)


def inline_ref(points: np.ndarray) -> DataRef:
    return DataRef("inline", points_sha256(points), len(points), points=np.asarray(points).tolist())


def config_to_dict(cfg: FitConfig) -> dict:
    out = {f.name: getattr(cfg, f.name) for f in fields(FitConfig) if f.name != "extra"}
    if cfg.init_params is not None:
        out["init_params"] = asdict(cfg.init_params)
    return json.loads(json.dumps(out))  # tuples to lists


def config_from_dict(d: dict) -> FitConfig:
    known = {f.name for f in fields(FitConfig)} - {"extra"}
    unknown = set(d) - known
    if unknown:
        raise UserError(f"session settings {sorted(unknown)} are unknown: the file is from a newer version")
    d = dict(d)
    if d.get("init_params") is not None:
        p = d["init_params"]
        d["init_params"] = InitParams.from_arrays(p["weights"], p["means"], p["covariances"])
    if d.get("betas") is not None:
        d["betas"] = tuple(d["betas"])
    return FitConfig(**d)


def session_dict(data: DataRef, config: FitConfig, snap: Snapshot, history: History | None,
                 log_likelihood_trace: np.ndarray | None = None) -> dict:
    """The session as JSON-ready data."""
    fit = {"status": snap.status, "iteration": snap.iteration, "restart": snap.restart,
           "mean_log_likelihood": snap.mean_log_likelihood, "log_likelihood": snap.log_likelihood,
           "weights": snap.weights.tolist(), "means": snap.means.tolist(), "covariances": snap.covariances.tolist(),
           "restart_mean_log_likelihood": [finite_or_none(v) for v in snap.restarts.mean_log_likelihood]}
    hist = {}
    if history is not None:
        kept = history.kept()
        step = max(1, math.ceil(len(kept) / HISTORY_ENTRIES))
        chosen = kept[::step] + ([kept[-1]] if (len(kept) - 1) % step else [])
        trace = history.log_likelihoods() if log_likelihood_trace is None else log_likelihood_trace
        hist = {"log_likelihood": np.asarray(trace).tolist(),
                "params": [{"iteration": e.iteration, "weights": e.weights.tolist(), "means": e.means.tolist(),
                            "covariances": e.covariances.tolist()} for e in chosen]}
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "data": asdict(data),
            "config": config_to_dict(config), "fit": fit, "history": hist, "versions": versions()}


def write_session(path: str | Path, data: DataRef, config: FitConfig, snap: Snapshot,
                  history: History | None = None, log_likelihood_trace: np.ndarray | None = None) -> None:
    """Write the session atomically. log_likelihood_trace (T, 2): every iteration's mean log-likelihood when
    the history holds only some of them."""
    if Path(path).suffix.lower() != ".gmmsession":
        raise UserError(f"{path}: name the session file *.gmmsession")
    text = json.dumps(session_dict(data, config, snap, history, log_likelihood_trace), allow_nan=False) + "\n"
    atomic_write(path, text.encode())


@dataclass(frozen=True)
class Session:
    data: DataRef
    config: FitConfig
    fit: dict
    history: dict
    versions: dict = field(default_factory=dict)  # what wrote the file: gmm_studio, python, torch, ...


def read_session(path: str | Path) -> Session:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such session file")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: is not a session file ({exc})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise UserError(f"{path}: is not a GMM Studio session file (no 'format': '{FORMAT}')")
    if d.get("format_version", 0) > FORMAT_VERSION:
        raise UserError(f"{path}: session format {d['format_version']} is newer than this GMM Studio reads "
                        f"({FORMAT_VERSION}): update GMM Studio")
    try:
        data = DataRef(**{**d["data"], "columns": tuple(d["data"].get("columns", ()))})
        return Session(data, config_from_dict(d["config"]), d["fit"], d.get("history", {}), d.get("versions", {}))
    except (KeyError, TypeError) as exc:
        raise UserError(f"{path}: the session file is incomplete ({exc}): save it again") from None
