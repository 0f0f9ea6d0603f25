"""GMM Studio's engine: numpy + torch + pyro only (never Qt). The GUI and CLI use what is exported here.

Exports load on first use (PEP 562): the data and config parts need only NumPy, so the window can validate
and generate data at once, while the fit (torch and pyro, the slow imports: docs/performance.md, 'The window')
loads in a worker thread.
"""

from __future__ import annotations

import importlib

from .runtime import threads as _threads
from .version import __version__  # noqa: F401  (in exports and sessions: see version.py)

_threads.before_torch()  # before any engine module imports torch
_threads.blas_on_one_thread()  # once, before any fit: see threads.py


_EXPORTS = {
    "algorithms": (
        "ALGORITHMS",
        "Algorithm",
    ),
    "model.covariances": (
        "COVARIANCE_TYPES",
        "CovarianceType",
        "MCLUST_MODELS",
        "SKLEARN_TYPES",
        "covariance_type",
    ),
    "config": (
        "DTYPES",
        "INIT_METHODS",
        "PRIORS",
        "REG_COVAR_UNITS",
        "FitConfig",
        "InitParams",
        "algorithm_defaults",
        "covariance_choices",
        "covariance_names",
    ),
    "fixed": ("FixedParams",),
    "selection.criteria": (
        "CRITERIA",
        "SIGN_CONVENTION",
    ),
    "errors": (
        "Cancelled",
        "DataError",
        "ParamsError",
        "UserError",
        "counted",
    ),
    "io.outputs": (
        "atomic_write",
        "check_output",
    ),
    "runtime.limits": (
        "MAX_FEATURES",
        "MEMORY_SHARE",
        "available_memory",
        "check_fit_memory",
        "check_selection",
        "chunk_rows_for",
        "default_memory_limit",
        "fit_bytes",
        "human",
        "parse_size",
    ),
    "runtime.threads": ("chunk_workers_on_this_thread",),
    "snapshot": (
        "CancelToken",
        "RestartTable",
        "Snapshot",
    ),
    "io.dataset": ("Dataset", "points_sha256", "unnamed_columns"),
    "io.data": (
        "FORUM_PRESET",
        "check_mixture",
        "column_names",
        "forum_sample",
        "load",
        "sample_mixture",
    ),
    "io.stream": (
        "chunked_source",
        "open_source",
        "survey",
    ),
    "io.weighted": ("load_weighted",),
    "io.columns": ("MISSING_HINT",),
    "io.observed": ("NoObservedValue",),
    "model.conditional": ("impute",),
    "model.prior": ("NO_PRIOR_MODELS", "PRIOR_MODELS"),
    "model.projection": (
        "View",
        "columns_view",
        "mixed_units",
        "moved_mean",
        "pca_view",
        "reshaped_covariance",
        "separating_view",
    ),
    "scale.density": ("bin_counts",),
    # these import torch
    "inference.fitting": (
        "check_data",
        "fit",
        "run_to_end",
    ),
    "inference.collapse": (
        "Collapse",
        "collapsed_components",
        "named_warnings",
        "snapshot_collapses",
    ),
    "model.predict": (
        "log_joint",
        "point_log_likelihood",
        "responsibilities",
    ),
    "selection.solutions": (
        "OPTIMUM",
        "PLATEAU",
        "group_restarts",
        "match_components",
        "summary",
    ),
    "selection.bootstrap": (
        "Bootstrap",
        "bootstrap",
    ),
    "selection.information": (
        "Information",
        "information",
        "observed_information",
    ),
    "selection.identifiability": (
        "IDENTIFIABILITY_REPLICATES",
        "Identifiability",
        "describe_identifiability",
        "gallery_identifiability",
        "identifiability",
    ),
    "selection.gallery": (
        "Gallery",
        "build_gallery",
        "with_identifiability",
        "write_gallery",
    ),
    "history": (
        "History",
        "HistoryEntry",
    ),
    "io.dataref": (
        "DataRef",
        "chunked_ref",
        "file_ref",
        "generated_ref",
        "inline_ref",
    ),
    "io.session": (
        "Session",
        "bootstrap_differences",
        "information_differences",
        "read_session",
        "replay_differences",
        "session_bootstrap",
        "session_information",
        "write_session",
    ),
    "selection.select": (
        "SelectionEntry",
        "best_entry",
        "select_models",
    ),
    "io.export": (
        "MixtureParams",
        "information_criteria",
        "label_csv",
        "params_from_snapshot",
        "read_params",
        "versions",
        "write_labels",
        "write_params",
    ),
    "inference.grid": ("Streamed",),
    "inference.spill": ("SpilledPasses",),
    "inference.streaming": (
        "check_streamable",
        "fit_stream",
        "local_pass",
    ),
}
# Modules the front ends use as namespaces (a Dask cluster; counting big data over a view), through this door too.
_MODULES = {"cluster": "scale.cluster", "density": "scale.density", "stream": "io.stream"}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted([*_WHERE, *_MODULES])


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f".{_MODULES[name]}", __name__)
    if name not in _WHERE:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def load_compute() -> None:
    """Import the torch/pyro part of the engine (seconds: docs/performance.md, 'The window'): call it off the GUI
    thread."""
    for module in ("inference.fitting", "model.predict", "io.export"):
        importlib.import_module(f".{module}", __name__)
