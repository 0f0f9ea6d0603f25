"""fit --information: the checks before the fit, Louis's observed information after it, and the table it prints."""

from __future__ import annotations

import numpy as np

from engine.config import FitConfig
from engine.errors import UserError


def check_information(args, streamed: bool, cfg: FitConfig | None = None) -> None:
    """Refuse --information before the fit runs: data read by chunks or on a cluster, pinned parameters, a prior, or
    (with cfg) a covariance type that is not one of mclust's fourteen models."""
    if not getattr(args, "information", False):
        return
    if streamed:
        raise UserError("--information needs the data in memory (it sums over every point): raise --memory-limit")
    if getattr(args, "fix", None):
        raise UserError(
            "--information does not take --fix: a pinned parameter is not estimated, so its information is not "
            "defined in the free parametrisation; fit without --fix"
        )
    if cfg is None:
        return
    if cfg.prior is not None:
        raise UserError(
            "--information is the likelihood's and --prior fits a posterior's maximum: fit without --prior, or use "
            "--bootstrap"
        )
    from engine.selection.information import check_covariance_type

    check_covariance_type(cfg.covariance_type)


def run_information(args, ds, cfg: FitConfig, last, params) -> list[str]:
    """Louis's observed information of the fit `last` of ds (its weights args.weight_values): the standard errors go
    into params.meta (the export's standard_errors_information); the lines to print."""
    from engine.selection.information import information

    fitted = (last.weights, last.means, last.covariances)
    info = information(ds.points, fitted, cfg.covariance_type, args.weight_values)
    params.meta.update(info.meta())
    return information_table(info.standard_errors(), fitted, ds.columns, info.method)


HOW = {
    "louis": "Louis's method",
    "autograd": "autograd's Hessian of the log-likelihood in lambda D A D^T",
    "autograd_missing": "autograd's Hessian of the observed-data log-likelihood (missing values) in lambda D A D^T",
}


def information_table(
    se: dict[str, np.ndarray], fitted: tuple[np.ndarray, ...], columns: tuple[str, ...], method: str = "louis"
) -> list[str]:
    """Each component's weight, means and variances with their standard errors (the covariances' other entries:
    in the export); method: how the information was computed (HOW)."""
    names = [columns[i] if i < len(columns) else str(i) for i in range(fitted[1].shape[1])]
    rows = []  # (component, label, estimate, SE)
    for k in range(len(fitted[0])):
        rows.append((k, "weight", fitted[0][k], se["weights"][k]))
        rows += [(k, f"mean {n}", fitted[1][k, i], se["means"][k, i]) for i, n in enumerate(names)]
        rows += [(k, f"variance {n}", fitted[2][k, i, i], se["covariances"][k, i, i]) for i, n in enumerate(names)]
    width = max(len("parameter"), *(len(label) for _, label, _, _ in rows))
    lines = [
        f"information: standard errors (SE) from the observed information ({HOW[method]}):",
        f"  {'component':>9}  {'parameter':<{width}} {'estimate':>12} {'SE':>12}",
    ]
    lines += [f"  {k:>9}  {label:<{width}} {v:>12.6g} {s:>12.6g}" for k, label, v, s in rows]
    return lines
