"""Parameters out and back in: JSON (self-describing, versioned), CSV and NPZ; labels and responsibilities
as CSV; an equivalent fitted scikit-learn GaussianMixture. Every file is written atomically (a temporary
file in the same folder, then a rename) and parameters round-trip bit for bit.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import COVARIANCE_TYPES, InitParams
from ..errors import ParamsError, UserError
from ..fixed import free_parameters
from ..model.covariances import SKLEARN_TYPES
from ..model.predict import responsibilities
from ..snapshot import Snapshot
from .data import check_mixture
from .outputs import atomic_write

FORMAT = "gmm-studio-params"
PARAMS_FORMATS = (".json", ".csv", ".npz")  # what write_params writes and read_params reads
FORMAT_VERSION = 1


@dataclass(frozen=True)
class MixtureParams:
    """Weights (K,), means (K, D), full covariances (K, D, D) and what is known of the fit."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    covariance_type: str = "full"
    meta: dict = field(default_factory=dict)

    def as_init(self) -> InitParams:
        return InitParams.from_arrays(self.weights, self.means, self.covariances)


def versions() -> dict:
    import pyro
    import torch

    from ..version import __version__

    return {
        "gmm_studio": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": torch.__version__,
        "pyro": pyro.__version__,
    }


def information_criteria(
    log_likelihood: float, n_samples: float, k: int, d: int, cov_type: str, n_params: int | None = None
) -> tuple[float, float]:
    """(BIC, AIC) with scikit-learn's sign: lower is better (n_samples: sum w with frequency weights); n_params: the
    free parameters, when some are pinned."""
    p = COVARIANCE_TYPES[cov_type].n_parameters(k, d) if n_params is None else n_params
    return -2.0 * log_likelihood + p * math.log(n_samples), -2.0 * log_likelihood + 2.0 * p


def params_from_snapshot(
    snap: Snapshot, columns: tuple[str, ...] = (), data_sha256: str = "", weights_column: str | None = None
) -> MixtureParams:
    """The snapshot's parameters with the metadata the JSON export carries (weights_column: the file's column that
    held the points' frequency weights, for a weighted fit)."""
    cfg = snap.config
    k, d = snap.means.shape
    n_params = free_parameters(cfg, k, d)  # pinned parameters are not estimated: BIC and AIC count the free ones
    bic, aic = information_criteria(snap.log_likelihood, snap.n_counted, k, d, cfg.covariance_type, n_params)
    meta = {
        "log_likelihood": snap.log_likelihood,
        "mean_log_likelihood": snap.mean_log_likelihood,
        "bic": bic,
        "aic": aic,
        "n_iter": snap.restart_iterations,  # the chosen restart's own (the gallery's n_iter of that restart)
        "batch_iterations": snap.iteration,  # the batch's: its slowest restart's
        "converged": snap.restart_converged,
        "status": snap.status,
        "algorithm": cfg.algorithm,
        "model": COVARIANCE_TYPES[cfg.covariance_type].model,  # mclust's name of the covariance type
        "prior": cfg.prior,  # "default": mclust's default conjugate prior, MAP EM; None: maximum likelihood
        "init": cfg.init,
        "seed": cfg.seed,
        "restarts": cfg.restarts,
        "chosen_restart": snap.restart,
        "select_by": cfg.select_by,
        "tol": cfg.tol,
        "max_iter": cfg.max_iter,
        "reg_covar": cfg.reg_covar,
        "reg_covar_units": cfg.reg_covar_units,  # relative: times each column's variance; data: as it is
        "reg_floor": [float(v) for v in snap.reg_floor],  # what it added to each column's variance (data units)
        "dtype": cfg.dtype,
        "n_samples": snap.n_samples,
        "n_effective": snap.n_counted,  # sum w, the n of BIC (n_samples without weights)
        "weights_column": weights_column,
        "data_sha256": data_sha256,
        "columns": list(columns),
        "warnings": list(snap.warnings),
    }
    if cfg.fixed is not None:  # what stayed at the init file's values, by component
        meta["fixed"] = cfg.fixed.as_dict()
    return MixtureParams(snap.weights.copy(), snap.means.copy(), snap.covariances.copy(), cfg.covariance_type, meta)


# ------------------------------------------------------------------------------------------------ writing
def finite_or_none(value) -> float | None:
    """The value as a float, or None when it is NaN or infinite: no NaN ever reaches an exported file."""
    value = float(value)
    return value if math.isfinite(value) else None


def _check_finite(params: MixtureParams) -> None:
    for name in ("weights", "means", "covariances"):
        if not np.all(np.isfinite(getattr(params, name))):
            raise UserError(f"refusing to export: the {name} contain a non-finite value (the fit failed)")


def to_json_dict(params: MixtureParams) -> dict:
    meta = {
        k: v for k, v in params.meta.items() if not (isinstance(v, float) and not math.isfinite(v))
    }  # no NaN/inf in an exported file
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "weights": params.weights.tolist(),
        "means": params.means.tolist(),
        "covariances": params.covariances.tolist(),
        "covariance_type": params.covariance_type,
        **meta,
        "versions": versions(),
    }


def write_params(path: str | Path, params: MixtureParams) -> None:
    """Export by suffix: .json, .csv or .npz."""
    _check_finite(params)
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        data = (json.dumps(to_json_dict(params), indent=2, allow_nan=False) + "\n").encode()
    elif suffix == ".csv":
        data = _params_csv(params).encode()
    elif suffix == ".npz":
        buf = io.BytesIO()
        np.savez(
            buf,
            weights=params.weights,
            means=params.means,
            covariances=params.covariances,
            covariance_type=np.array(params.covariance_type),
            meta=np.array(json.dumps(to_json_dict(params))),
        )
        data = buf.getvalue()
    else:
        raise UserError(f"{path}: unknown export format {suffix!r}: use {', '.join(PARAMS_FORMATS)}")
    atomic_write(path, data)


def _params_csv(params: MixtureParams) -> str:
    k, d = params.means.shape
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["component", "weight", *[f"mean_{i}" for i in range(d)], *[f"cov_{i}{j}" for i in range(d) for j in range(d)]]
    )
    for j in range(k):
        row = [params.weights[j], *params.means[j], *params.covariances[j].ravel()]
        writer.writerow([j, *(repr(float(v)) for v in row)])
    return out.getvalue()


def write_labels(path: str | Path, points: np.ndarray, params: MixtureParams) -> None:
    """Per-point CSV: the point's coordinates (named as the data's columns, as the window names them; x0, x1, ...
    when unknown), most likely component and the responsibilities of every component. Data with missing values
    (NaN): the responsibilities given each point's observed coordinates, a missing coordinate an empty field, and
    every point again with its missing coordinates imputed (imputed_<column>: E[x_m | x_o] under the mixture)."""
    if np.isnan(points).any():
        atomic_write(path, _imputed_label_csv(points, params))
        return
    atomic_write(path, b"".join(label_csv(iter([points]), params)))


def _label_names(params: MixtureParams) -> list[str]:
    """The columns' names (D,): the data's, or x0, x1, ... when unknown."""
    d = params.means.shape[1]
    names = [str(c) for c in params.meta.get("columns") or ()]
    return names if len(names) == d else [f"x{i}" for i in range(d)]


def _imputed_label_csv(points: np.ndarray, params: MixtureParams) -> bytes:
    """write_labels' CSV of points (N, D) with missing values (NaN)."""
    return b"".join(label_csv(iter([points]), params, missing=True))


def _imputed_rows(points: np.ndarray, params: MixtureParams) -> list[list]:
    """The labels' rows of points (c, D) with missing values (NaN): a missing coordinate an empty field, the label
    and responsibilities given the observed ones, then the point with its missing coordinates imputed."""
    from ..model.conditional import impute  # torch: only for data with missing values

    resp, filled, _ = impute(points, params.weights, params.means, params.covariances)
    return [
        [*("" if np.isnan(v) else repr(float(v)) for v in p), int(np.argmax(r)), *(f"{v:.17g}" for v in r)]
        + [repr(float(v)) for v in f]
        for p, r, f in zip(points, resp, filled, strict=True)
    ]


def label_csv(chunks: Iterator[np.ndarray], params: MixtureParams, missing: bool = False) -> Iterator[bytes]:
    """write_labels' CSV as bytes, a header and then a piece per chunk of points (c, D): data read by chunks gets
    its labels in one more pass, never all in memory. missing: the points may miss values (NaN): the imputed
    columns follow (write_labels)."""
    k = params.means.shape[0]
    names = _label_names(params)
    imputed = [f"imputed_{n}" for n in names] if missing else []
    yield _csv_text([[*names, "label", *[f"resp_{j}" for j in range(k)], *imputed]])
    for points in chunks:
        if missing:
            yield _csv_text(_imputed_rows(np.asarray(points, dtype=np.float64), params))
            continue
        resp = responsibilities(points, params.weights, params.means, params.covariances)
        yield _csv_text(
            [*(repr(float(v)) for v in p), int(np.argmax(r)), *(f"{v:.17g}" for v in r)]
            for p, r in zip(points, resp, strict=True)
        )


def _csv_text(rows) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


# ------------------------------------------------------------------------------------------------ reading
def read_params(path: str | Path) -> MixtureParams:
    """Import parameters from a .json (ours, or hand-written with weights, means, covariances), .csv or .npz."""
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise ParamsError(f"{path}: is a folder, not a parameters file: give the file (.json, .csv or .npz)")
        if path.exists():
            raise ParamsError(f"{path}: is not a regular file (a pipe or a device): give a parameters file")
        raise ParamsError(f"{path}: no such parameters file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_json(path)
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".npz":
        return _read_npz(path)
    raise ParamsError(f"{path}: unknown parameters format {suffix!r}: use {', '.join(PARAMS_FORMATS)}")


def read_json_file(path: Path, what: str) -> object:
    """A JSON document, or a ParamsError naming the line: bad JSON, too deeply nested, or numbers too long."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", "?")
        raise ParamsError(f"{path}: line {line}: not valid JSON ({exc}): fix the {what}") from None
    except RecursionError:
        raise ParamsError(f"{path}: the JSON is nested too deeply to be a {what}") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise ParamsError(f"{path}: {exc}: not a {what}") from None


def _read_json(path: Path) -> MixtureParams:
    doc = read_json_file(path, "parameters file")
    if not isinstance(doc, dict):
        raise ParamsError(f"{path}: expected a JSON object with weights, means and covariances")
    missing = [k for k in ("weights", "means", "covariances") if k not in doc]
    if missing:
        raise ParamsError(
            f"{path}: missing {', '.join(missing)}: a parameters file needs weights (K), "
            "means (K x D) and covariances (K x D x D)"
        )
    version = doc.get("format_version", 1)
    if (
        doc.get("format", FORMAT) != FORMAT
        or isinstance(version, bool)
        or not isinstance(version, int)
        or version > FORMAT_VERSION
    ):
        raise ParamsError(
            f"{path}: format {doc.get('format')!r} version {version!r} is not one this version "
            f"reads ({FORMAT} {FORMAT_VERSION})"
        )
    cov_type = doc.get("covariance_type", "full")
    if cov_type not in COVARIANCE_TYPES:
        raise ParamsError(f"{path}: covariance_type {cov_type!r} is not one of {', '.join(COVARIANCE_TYPES)}")
    w, m, c = check_mixture(doc["weights"], doc["means"], doc["covariances"], where=str(path))
    meta = {k: v for k, v in doc.items() if k not in ("weights", "means", "covariances", "covariance_type")}
    return MixtureParams(w, m, c, cov_type, meta)


def _read_csv(path: Path) -> MixtureParams:
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    if len(rows) < 2:
        raise ParamsError(f"{path}: no component rows")
    header, body = rows[0], rows[1:]
    d = sum(h.startswith("mean_") for h in header)
    try:
        values = np.array([[float(v) for v in row[1:]] for row in body])
    except ValueError as exc:
        raise ParamsError(f"{path}: {exc}: every field after the component number must be a number") from None
    if d == 0 or values.shape[1] != 1 + d + d * d:
        raise ParamsError(f"{path}: expected columns component, weight, mean_*, cov_* as GMM Studio writes them")
    w, m, c = check_mixture(values[:, 0], values[:, 1 : 1 + d], values[:, 1 + d :].reshape(-1, d, d), str(path))
    return MixtureParams(w, m, c, "full", {})


def _read_npz(path: Path) -> MixtureParams:
    try:
        z = np.load(path, allow_pickle=False)
        w, m, c = z["weights"], z["means"], z["covariances"]
        cov_type = str(z["covariance_type"]) if "covariance_type" in z else "full"
        meta = json.loads(str(z["meta"])) if "meta" in z else {}
    except (ValueError, KeyError, OSError) as exc:
        raise ParamsError(f"{path}: not a GMM Studio parameters archive ({exc})") from None
    check_mixture(w, m, c, str(path))
    return MixtureParams(w.astype(np.float64), m.astype(np.float64), c.astype(np.float64), cov_type, meta)


# ------------------------------------------------------------------------------------------- scikit-learn
def to_sklearn(params: MixtureParams):
    """An equivalent fitted sklearn.mixture.GaussianMixture (scikit-learn must be installed)."""
    try:
        from sklearn.mixture import GaussianMixture
    except ImportError:
        raise UserError("to_sklearn needs scikit-learn: pip install scikit-learn") from None
    k, d = params.means.shape
    # the ten mclust models scikit-learn lacks become its "full" type (their stored form is full matrices too)
    ct = params.covariance_type if params.covariance_type in SKLEARN_TYPES else "full"
    full = params.covariances
    cov = COVARIANCE_TYPES[ct].export(full)
    gm = GaussianMixture(n_components=k, covariance_type=ct)
    gm.weights_ = params.weights.copy()
    gm.means_ = params.means.copy()
    gm.covariances_ = cov
    if ct == "full":
        gm.precisions_cholesky_ = np.stack([np.linalg.inv(np.linalg.cholesky(c)).T for c in full])
    elif ct == "tied":
        gm.precisions_cholesky_ = np.linalg.inv(np.linalg.cholesky(cov)).T
    else:
        gm.precisions_cholesky_ = 1.0 / np.sqrt(cov)
    gm.precisions_ = {"full": lambda: np.linalg.inv(full), "tied": lambda: np.linalg.inv(cov)}.get(
        ct, lambda: 1.0 / cov
    )()
    gm.converged_ = bool(params.meta.get("converged", True))
    gm.n_iter_ = int(params.meta.get("n_iter", 0))
    gm.lower_bound_ = float(params.meta.get("mean_log_likelihood", float("nan")))
    gm.n_features_in_ = d
    return gm
