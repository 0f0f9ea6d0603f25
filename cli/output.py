"""What a fit prints and writes: its summary line and its output files (parameters, labels, session, gallery)."""

from __future__ import annotations

from pathlib import Path

from engine.config import FitConfig
from engine.errors import UserError
from engine.history import History
from engine.io import session as session_mod
from engine.io.export import PARAMS_FORMATS, write_labels, write_params
from engine.io.session import write_session
from engine.selection.gallery import GALLERY_FORMATS, build_gallery, write_gallery


def check_suffixes(args) -> None:
    """Refuse an output whose format is unknown before the fit runs, not after."""
    known = {"output": PARAMS_FORMATS, "labels": (".csv",), "session": (".gmmsession",), "gallery": GALLERY_FORMATS}
    for name, suffixes in known.items():
        path = getattr(args, name)
        if path and Path(path).suffix.lower() not in suffixes:
            raise UserError(f"{path}: --{name} writes {' or '.join(suffixes)}: name the file so")


def write_fit_outputs(args, ds, cfg: FitConfig, last, history: History, params, identifiable=None) -> list[str]:
    """Write the fit's outputs (inside staged_writes); the lines to print once they are all in place.
    identifiable: the gallery's optima's identifiability (label -> Identifiability) or None."""
    said = []
    if args.output:
        write_params(args.output, params)
        said.append(f"wrote parameters to {args.output}")
    if args.labels:
        write_labels(args.labels, ds.points, params)
        said.append(f"wrote labels and responsibilities to {args.labels}")
    if args.session:
        ref = session_mod.file_ref(ds, args.weight_values, args.weights_index)
        boot = session_mod.session_bootstrap(params.meta) if getattr(args, "bootstrap", None) else None
        info = session_mod.session_information(params.meta) if getattr(args, "information", False) else None
        write_session(args.session, ref, cfg, last, history, bootstrap=boot, information=info)
        said.append(session_line(args.session))
    if args.gallery:
        said += write_gallery_lines(args.gallery, last, cfg, identifiable)
    return said


def session_line(path: str) -> str:
    return f"wrote the session to {path} (reproduce it with: python3 main.py replay {path})"


def write_gallery_lines(path: str, last, cfg: FitConfig, identifiable=None) -> list[str]:
    """Every restart's answer, grouped into solutions (built from the fit's last snapshot: no data needed), with its
    optima's identifiability when computed (label -> Identifiability); the lines to print once it is in place."""
    gallery = build_gallery(last, identifiable)
    write_gallery(path, gallery)
    lines = [gallery.summary] + ([gallery.forum_choice] if gallery.forum_choice else [])
    return [*lines, f"wrote the gallery of {cfg.restarts} restarts to {path}"]


def fit_line(cfg: FitConfig, last, params, per_batch: int | None = None) -> str:
    m = params.meta
    own = last.restart_iterations
    status = "converged" if last.status != "cancelled" and last.restart_converged else last.status
    batch = f" (the batch of {cfg.restarts} restarts ran {last.iteration})" if own != last.iteration else ""
    if per_batch is not None and per_batch < cfg.restarts:
        batches = -(-cfg.restarts // per_batch)
        batch = f" ({batches:,} batches of at most {per_batch:,} restarts ran {last.iteration} in all)"
    how = f"{cfg.algorithm} (MAP, mclust's default prior)" if cfg.prior else cfg.algorithm
    return (
        f"{how} k={cfg.n_components} {cfg.covariance_type}: {status} after {own} "
        f"iteration{'' if own == 1 else 's'}{batch} in {last.elapsed:.2f}s; log-likelihood {m['log_likelihood']:.6f} "
        f"(mean {m['mean_log_likelihood']:.6f}), BIC {m['bic']:.3f}, AIC {m['aic']:.3f}"
        f"{'; restart ' + str(last.restart) + ' of ' + str(cfg.restarts) if cfg.restarts > 1 else ''}"
    )


def warning_lines(last, columns) -> list[str]:
    """The fit's warnings as printed: a collapse named by the fitted columns' names."""
    from engine.inference.collapse import named_warnings

    return [f"warning: {w}" for w in named_warnings(last, tuple(columns))]
