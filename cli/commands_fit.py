"""fit and generate: a fit of data in memory (a fit by chunks or on a cluster is in commands_stream), and points
drawn from a mixture."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from engine.errors import UserError
from engine.io import data as data_mod
from engine.io.export import params_from_snapshot, read_params
from engine.io.outputs import atomic_write, check_outputs, staged_writes
from engine.runtime.limits import (
    available_memory,
    check_fit_memory,
    check_generate_memory,
    check_seed,
    fit_bytes,
    human,
    restarts_that_fit,
)

from .bootstrapping import check_bootstrap, check_bootstrap_memory, run_bootstrap, run_identifiability
from .commands_stream import fit_on_cluster, fit_streamed
from .informing import check_information, run_information
from .inputs import fit_config, gallery_config, load_data, say_sample, stream_source
from .output import check_suffixes, fit_line, warning_lines, write_fit_outputs
from .progress import run_fit


def cmd_generate(args) -> int:
    suffix = Path(args.output).suffix.lower()
    check_outputs([args.output], [args.params] if args.params else [])
    if suffix not in data_mod.TABLE_FORMATS:
        raise UserError(
            f"{args.output}: unknown data format {suffix or '(no extension)'!r}: name the file "
            f"{' or '.join(data_mod.TABLE_FORMATS)}"
        )
    check_seed(args.seed, "--seed")
    if args.n < 1:
        raise UserError(f"--n must be a whole number >= 1, got {args.n}")
    if args.preset:
        spec = data_mod.FORUM_PRESET
        w, m, c = spec["weights"], spec["means"], spec["covariances"]
    else:
        p = read_params(args.params)
        w, m, c = p.weights, p.means, p.covariances
    check_generate_memory(args.n, len(m[0]))
    points, labels = data_mod.sample_mixture(w, m, c, args.n, args.seed)
    atomic_write(args.output, data_mod.table_bytes(points, labels, suffix))
    print(f"wrote {args.n} points to {args.output}")
    return 0


def cmd_fit(args) -> int:
    outputs = [args.output, args.labels, args.session, args.gallery]
    check_outputs(outputs, [args.data] + ([args.init] if args.init and Path(args.init).exists() else []))
    check_suffixes(args)
    source = stream_source(args)
    check_bootstrap(args, source is not None)
    check_information(args, source is not None)
    if source is not None:  # read by chunks, or on a cluster: the settings (and an --init file) read once, here
        cfg = gallery_config(args, fit_config(args)).resolved()
        return fit_on_cluster(args, source, cfg) if args.dask else fit_streamed(args, source, cfg)
    ds = load_data(args)
    cfg = gallery_config(args, fit_config(args)).resolved()
    per_batch = restarts_per_batch(args, ds.points.shape, cfg)
    check_bootstrap_memory(args, ds.points.shape, cfg)
    check_information(args, False, cfg)
    if not args.quiet:
        say_sample(cfg, len(ds.points))
    last, history = run_fit(ds.points, cfg, not args.quiet, per_batch, args.weight_values, args.missing)
    params = params_from_snapshot(last, ds.columns, ds.sha256, args.weights_name)
    if args.missing:  # the export says how the fit took the data's missing values, and how many there were
        params.meta.update(missing=args.missing, missing_values=int(np.isnan(ds.points).sum()))
    print(fit_line(cfg, last, params, per_batch))
    for line in warning_lines(last, ds.columns):
        print(line, file=sys.stderr)
    identifiable = None
    if args.bootstrap is not None:
        print("\n".join(run_bootstrap(args, ds, cfg, last, params)))
        if args.gallery:  # the gallery's optima bootstrapped too: how often their components are identifiable
            identifiable, lines = run_identifiability(args, ds, cfg, last)
            print("\n".join(lines))
    if args.information:
        print("\n".join(run_information(args, ds, cfg, last, params)))
    with staged_writes():  # every output of the run, or none
        said = write_fit_outputs(args, ds, cfg, last, history, params, identifiable)
    for line in said:  # once every file is in its place
        print(line)
    return 0


def restarts_per_batch(args, shape: tuple[int, int], cfg) -> int:
    """The restarts run at once so that their working arrays stay within --memory-limit and the memory available
    (all of them when they fit; refused when not even one does); said on stderr when they are split."""
    n, d = shape
    limit = min(args.limit_bytes, available_memory())
    factor = cfg.memory_factor
    per_batch = restarts_that_fit(n, d, cfg.n_components, cfg.restarts, limit, factor)
    check_fit_memory(n, d, cfg.n_components, max(per_batch, 1), factor=factor)
    if per_batch == 0:  # the memory available holds one (checked above): the flag's limit does not
        one = human(fit_bytes(n, d, cfg.n_components, 1, factor))
        raise UserError(
            f"--memory-limit {human(limit)} is less than one restart of K={cfg.n_components} on {n:,} points needs "
            f"(about {one}): raise --memory-limit"
        )
    if per_batch >= cfg.restarts or cfg.select_by == "initial":
        check_fit_memory(n, d, cfg.n_components, cfg.restarts, factor=factor)  # select-by initial: every start at once
        return cfg.restarts
    if not args.quiet:
        need = human(fit_bytes(n, d, cfg.n_components, cfg.restarts, factor))
        print(
            f"{cfg.restarts:,} restarts need about {need} of memory, more than {human(limit)} (--memory-limit or the "
            f"memory available): {-(-cfg.restarts // per_batch):,} batches of at most {per_batch:,} restarts, one "
            "after the other (the same restarts and answer)",
            file=sys.stderr,
        )
    return per_batch
