"""GMM Studio's engine: numpy + torch + pyro only (never Qt). The GUI and CLI use what is exported here.

Exports load on first use (PEP 562): the data and config parts need only NumPy, so the window can validate
and generate data at once, while the fit (torch, pyro: about 2 s to import) loads in a worker thread.
"""

from __future__ import annotations

import importlib

from .runtime import threads as _threads
from .version import __version__  # noqa: F401  (in exports and sessions: see version.py)

_threads.before_torch()  # before any engine module imports torch
_threads.blas_on_one_thread()  # once, before any fit: see threads.py


_EXPORTS = {
    "algorithms": ("ALGORITHMS", "Algorithm"),
    "model.covariances": ("COVARIANCE_TYPES", "CovarianceType"),
    "config": ("DTYPES", "INIT_METHODS", "REG_COVAR_UNITS", "FitConfig", "InitParams", "algorithm_defaults"),
    "errors": ("Cancelled", "DataError", "ParamsError", "UserError", "counted"),
    "io.outputs": ("atomic_write", "check_output"),
    "runtime.limits": ("available_memory", "check_fit_memory", "check_selection", "fit_bytes"),
    "snapshot": ("CancelToken", "RestartTable", "Snapshot"),
    "io.data": (
        "FORUM_PRESET",
        "Dataset",
        "check_mixture",
        "column_names",
        "load",
        "points_sha256",
        "sample_mixture",
        "unnamed_columns",
    ),
    # these import torch
    "inference.fitting": ("check_data", "fit", "run_to_end"),
    "inference.collapse": ("Collapse", "collapsed_components", "snapshot_collapses"),
    "model.predict": ("log_joint", "point_log_likelihood", "responsibilities"),
    "selection.solutions": ("group_restarts", "match_components", "summary"),
    "selection.gallery": ("Gallery", "build_gallery", "write_gallery"),
    "history": ("History", "HistoryEntry"),
    "io.dataref": ("DataRef", "chunked_ref", "file_ref", "generated_ref", "inline_ref"),
    "io.session": ("Session", "read_session", "write_session"),
    "selection.select": ("SelectionEntry", "best_entry", "select_models"),
    "io.export": (
        "MixtureParams",
        "information_criteria",
        "params_from_snapshot",
        "read_params",
        "versions",
        "write_labels",
        "write_params",
    ),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def load_compute() -> None:
    """Import the torch/pyro part of the engine (about 2 s): call it off the GUI thread."""
    for module in ("inference.fitting", "model.predict", "io.export"):
        importlib.import_module(f".{module}", __name__)
