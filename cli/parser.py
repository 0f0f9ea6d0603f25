"""The command line's one parser: fit, select, generate, replay, screenshot and install-launcher, their options
declared once (the window's screenshot shares the data, column, scale and model options with fit)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.config import ALGORITHMS, PRIORS, REG_COVAR_UNITS, covariance_choices, covariance_names
from engine.errors import UserError
from engine.io import data as data_mod
from engine.model.covariances import SKLEARN_TYPES, covariance_type
from engine.selection.criteria import CRITERIA

USAGE = """GMM Studio: fit Gaussian mixture models and watch the fit happen.

  python3 main.py                             open the window on the demo data
  python3 main.py test [pytest args]          run the test suite
  python3 main.py generate --preset forum --n 1000 --seed 0 -o data.csv   (.csv, .tsv, .npy, .npz or .parquet)
  python3 main.py fit DATA -k 3 [--algorithm em|gradient-em|marginal] [-o params.json]
  python3 main.py select DATA -k 1-9 [-o selection.json]
  python3 main.py fit DATA --restarts 100 --gallery gallery.csv --session fit.gmmsession
  python3 main.py replay fit.gmmsession        re-run a saved session and compare

  python3 main.py screenshot OUT.png [--data FILE] [--columns 1,2] [-k 3] [--fit]
  python3 main.py install-launcher [--uninstall]

Run any subcommand with --help for all options.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors are user mistakes too: exit 2, one line
        raise UserError(f"{self.prog}: {message}")


def _columns(text: str | None) -> list[str] | None:
    """--columns: items separated by commas, each a 0-based index, a header name, a range 'a-b' or 'all'."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise UserError(
            f"--columns takes columns separated by commas (0-based indices, header names, ranges such as 1-4, or "
            f"all), got {text!r}: an item is empty"
        )
    return parts


MAX_GRID = 1000  # fits in one selection grid


def _k_range(text: str) -> list[int]:
    try:
        if "-" in text:
            lo, hi = (int(v) for v in text.split("-", 1))
            ks = range(lo, hi + 1)
        else:
            ks = [int(v) for v in text.split(",")]
    except ValueError:
        raise UserError(f"-k takes a number, a range like 1-9 or a list like 2,3,5; got {text!r}") from None
    if len(ks) > MAX_GRID:  # a range object: its length costs nothing, a list of 1e12 values would not fit
        raise UserError(
            f"-k {text} asks for {len(ks):,} values of K; a selection grid takes at most {MAX_GRID}: narrow the range"
        )
    if not ks or min(ks) < 1:
        raise UserError(f"-k must name component counts >= 1, got {text!r}")
    return list(ks)


def _covariance(text: str) -> str:
    """--covariance of fit: a registered type by its registry or mclust name, any case -> its registry name."""
    try:
        return covariance_type(text.strip()).name
    except KeyError:
        # argparse names the command and the option before this message
        message = f"unknown covariance type {text!r}: choose one of {covariance_choices()}"
        raise argparse.ArgumentTypeError(message) from None


def covariance_list(text: str) -> list[str]:
    """--covariance of select: 'all' (every registered type, in mclust's order) or names separated by commas, each
    a registry or mclust name in any case -> registry names, in the order given."""
    if text.strip().lower() == "all":
        return covariance_names()
    names = []
    for item in text.split(","):
        if not item.strip():
            raise UserError(f"--covariance takes names separated by commas, or all; got {text!r}: an item is empty")
        try:
            cov = covariance_type(item.strip())
        except KeyError:
            raise UserError(
                f"--covariance: unknown covariance type {item.strip()!r}: choose from {covariance_choices()}, or all"
            ) from None
        if cov.name in names:
            raise UserError(f"--covariance {text}: {item.strip()} ({cov.model}, {cov.name}) is named twice")
        names.append(cov.name)
    return names


# The one command main.py runs itself (it needs pytest); listed here so that --help shows every command.
OTHER_COMMANDS = {"test": "run the test suite headless (extra arguments go to pytest)"}


def program_name() -> str:
    """How the user started us, for usage lines: `main.py`, or `gmm-studio` when installed."""
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "main.py"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=program_name(),
        description="GMM Studio. With no command: open the window on the demo data.",
        epilog="Run any command with --help for its options.",
        formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=30, width=110),
    )
    sub = p.add_subparsers(
        dest="command", parser_class=_Parser, metavar="COMMAND", title="commands (none: open the window)"
    )

    _generate_parser(sub)
    _fit_parser(sub)
    _replay_parser(sub)
    _select_parser(sub)
    _screenshot_parser(sub)
    _launcher_parser(sub)
    for name, text in OTHER_COMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)
    return p


def _generate_parser(sub) -> None:
    """generate: points drawn from a preset or a parameters file."""
    g = sub.add_parser("generate", help="sample data from a mixture")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", choices=["forum"], help="a named mixture: forum (the forum recipe's three clusters)")
    src.add_argument("--params", help="parameters JSON (as `fit -o` writes)")
    g.add_argument("--n", type=int, default=1000, help="number of points (default 1000)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0): the same seed, the same points")
    g.add_argument(
        "-o",
        "--output",
        required=True,
        help="file to write, in the format its extension names: " + ", ".join(data_mod.TABLE_FORMATS),
    )


def _fit_parser(sub) -> None:
    """fit: the data, the model, the start, when to stop, the outputs and where it runs."""
    f = sub.add_parser("fit", help="fit a mixture to data")
    _data_args(f)
    f.add_argument("-k", "--components", type=int, help="number of components K (default: the --init file's K, else 3)")
    f.add_argument(
        "--covariance",
        type=_covariance,
        default="full",
        help="covariance model, by scikit-learn's or mclust's name in any case: full = VVV (default), tied = EEE, "
        "diag = VVI, spherical = VII, or another of mclust's (EII ... VVV)",
    )
    f.add_argument(
        "--algorithm", choices=ALGORITHMS, default="em", help="em (exact EM, default) or another registered procedure"
    )
    f.add_argument(
        "--init",
        default=None,
        help="the start: kmeans++ (default), kmeans, random-data, forum, hc (mclust's hierarchical start), or a "
        "parameters file (.json/.csv/.npz)",
    )
    f.add_argument("--restarts", type=int, default=1, help="restarts run as one batch, seeds SEED.. (default 1)")
    f.add_argument(
        "--select-by",
        choices=["final", "initial"],
        default=None,
        help="final: the restart with the best final log-likelihood (default); initial: the forum's way, the "
        "lowest initial loss, trained alone",
    )
    f.add_argument("--seed", type=int, default=0, help="random seed of the start (default 0)")
    f.add_argument(
        "--tol",
        type=float,
        default=None,
        help="stop when the mean log-likelihood per point changes by less (default: the algorithm's, 1e-6 for em)",
    )
    f.add_argument("--max-iter", type=int, default=None, help="the most iterations (default: the algorithm's)")
    _reg_args(f)
    _prior_arg(f)
    f.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    f.add_argument(
        "--dtype", choices=["float64", "float32"], default="float64", help="working precision (default float64)"
    )
    f.add_argument("-o", "--output", help="parameters file to write (.json, .csv or .npz)")
    f.add_argument("--labels", help="CSV of per-point labels and responsibilities")
    f.add_argument("--session", help="write a session file (.gmmsession) that `replay` reproduces")
    f.add_argument(
        "--gallery",
        help="the restarts table (.csv or .json): one row per restart with the solution "
        "it reached; restarts all run to the end (select-by final); with --bootstrap B, each optimum bootstrapped B "
        "times too, and how often its components are identifiable (column identifiable)",
    )
    _bootstrap_args(f)
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    _fit_only_args(f)
    _scale_args(f)


def _fit_only_args(f) -> None:
    """What fit takes and select does not (pinned parameters), and missing values."""
    f.add_argument(
        "--fix",
        action="append",
        metavar="KIND[=COMPONENTS]",
        help="keep weights, means or covariances of the listed components (0,2; none listed: all) at the --init "
        "file's values while exact EM fits the rest; repeatable: --fix means=0,2 --fix weights=1",
    )
    _missing_arg(f, "in memory, read by chunks or on a Dask cluster")


def _missing_arg(p: argparse.ArgumentParser, where: str) -> None:
    """fit's and select's --missing em."""
    p.add_argument(
        "--missing",
        choices=["em"],
        default=None,
        help="em: empty cells, NA/NaN/null and Parquet nulls are values missing at random, fitted by exact EM on each "
        f"point's observed coordinates ({where}; without it they are refused)",
    )


def _bootstrap_args(p: argparse.ArgumentParser) -> None:
    """fit's --bootstrap B and --bootstrap-type."""
    p.add_argument(
        "--bootstrap",
        type=int,
        metavar="B",
        help="after the fit, B bootstrap replicates (one batched exact EM started from the fit): standard errors and "
        "95%% percentile intervals of the weights, means and covariances, printed and in the .json/.npz export "
        "(standard_errors, intervals, bootstrap); seeded by --seed; data in memory",
    )
    p.add_argument(
        "--bootstrap-type",
        choices=("nonparametric", "parametric", "weighted"),
        help="with --bootstrap, how the replicates are drawn: nonparametric (default): the points resampled with "
        "replacement; weighted: the Bayesian bootstrap "
        "(exponential weights, mclust's wlbs); parametric: points drawn from the fitted mixture (with --missing em "
        "each simulated row missing the cells its data row misses: exact when values go missing completely at "
        "random, an approximation when missingness depends on observed values)",
    )
    p.add_argument(
        "--information",
        action="store_true",
        help="after the fit, standard errors of the weights, means and covariances from the observed information "
        "(Louis's method; autograd's Hessian for the eight models that constrain a shape or an orientation; data in "
        "memory): printed and in the .json/.npz export "
        "(standard_errors_information); one pass over the data, a fast alternative to --bootstrap",
    )


def _replay_parser(sub) -> None:
    """replay: a saved session run again."""
    r = sub.add_parser("replay", help="re-run a saved session's fit and say whether it reproduced")
    r.add_argument("session", help="a .gmmsession file")
    r.add_argument("--quiet", action="store_true", help="no progress bar")


def _select_parser(sub) -> None:
    """select: a grid of K and covariance types."""
    s = sub.add_parser("select", help="model selection over K and covariance models (BIC, ICL, AIC)")
    _data_args(s)
    s.add_argument(
        "-k", "--components", default="1-9", help="the K to try: a range or a list, 1-9 or 2,3,5 (default 1-9)"
    )
    s.add_argument(
        "--covariance",
        default=",".join(SKLEARN_TYPES),
        help=f"the covariance models to try, comma-separated, by scikit-learn's or mclust's name in any case, or all "
        f"(every registered model, in mclust's order) (default {','.join(SKLEARN_TYPES)}: scikit-learn's four, "
        "mclust's VVV, EEE, VVI, VII)",
    )
    s.add_argument(
        "--criterion",
        choices=CRITERIA,
        default="bic",
        help="what picks the best fit, lowest wins (default bic): bic = -2 log L + p log N (minus mclust's BIC), "
        "icl = bic - 2 sum_i log max_k z_ik (minus mclust's ICL), aic = -2 log L + 2 p",
    )
    s.add_argument("--restarts", type=int, default=5, help="restarts of each fit, best kept (default 5)")
    s.add_argument(
        "--init",
        choices=("kmeans++", "kmeans", "random-data", "hc"),
        default=None,
        help="the starts of each fit: kmeans++ (default), kmeans, random-data, or hc (restart 0 mclust's "
        "hierarchical start, the others k-means++)",
    )
    s.add_argument("--seed", type=int, default=0, help="random seed of the starts (default 0)")
    s.add_argument("--fix", action="append", help=argparse.SUPPRESS)  # refused with a line saying why
    for flag in ("--bootstrap", "--bootstrap-type"):  # fit's (standard errors of one fit): refused, saying so
        s.add_argument(flag, help=argparse.SUPPRESS)
    s.add_argument("--information", action="store_true", help=argparse.SUPPRESS)
    _missing_arg(s, "BIC with the observed-data log-likelihood and n = the rows")
    _reg_args(s)
    _prior_arg(s)
    s.add_argument("--max-iter", type=int, default=None, help="the most iterations of each fit (default em's)")
    s.add_argument(
        "--tol",
        type=float,
        default=None,
        help="stop each fit when its mean log-likelihood per point changes by less (default 1e-6)",
    )
    s.add_argument("-o", "--output", help="selection JSON to write")
    s.add_argument("--quiet", action="store_true", help="no table row by row: only the best fit (and what is written)")
    _scale_args(s)


def _launcher_parser(sub) -> None:
    """install-launcher: the desktop-menu entry."""
    launcher = sub.add_parser(
        "install-launcher",
        help="add GMM Studio to the desktop's menu (--uninstall removes it)",
        description="Install (or remove) a desktop-menu entry for GMM Studio.",
    )
    launcher.add_argument("--uninstall", action="store_true", help="remove the entry and its icon")


def _screenshot_parser(sub) -> None:
    """screenshot: the window's own settings where fit has them (unset: the window's defaults)."""
    p = sub.add_parser(
        "screenshot",
        help="save a picture of the window: screenshot OUT.png [--data FILE] [-k K] [--fit]",
        description="Open the real window (headless when there is no display), load the data, fit it when asked, "
        "and save a screenshot of the whole window.",
    )
    p.add_argument("out", help="the PNG file to write")
    p.add_argument("--data", help="a data file (CSV/TSV/NPY/NPZ/Parquet); default: the demo data")
    _columns_arg(p)
    p.add_argument(
        "--view",
        choices=["columns", "pca", "separating", "pairs"],
        help="the plot's view of data of more than two columns (separating needs --fit)",
    )
    p.add_argument("--show", help="the two fitted columns the columns view shows, by place or name: 0,2")
    _scale_args(p)
    p.add_argument("-k", "--components", type=int, help="number of components K (default: the window's, 3)")
    p.add_argument("--algorithm", help=f"a registered algorithm: {', '.join(ALGORITHMS)}")
    p.add_argument("--restarts", type=int, help="number of restarts (default: the window's, 1)")
    p.add_argument("--init", help="initialisation method (kmeans++, kmeans, random-data, forum, hc)")
    p.add_argument("--seed", type=int, help="seed (default: the window's, 0)")
    p.add_argument("--max-iter", type=int, help="max iterations (default: the algorithm's)")
    p.add_argument("--fit", action="store_true", help="run the fit to its end before the screenshot")
    p.add_argument("--size", default="1280x860", help="window size WIDTHxHEIGHT (default 1280x860)")
    p.add_argument("--tab", choices=["parameters", "restarts", "compare", "selection"], help="the bottom tab to show")
    p.add_argument("--replay", type=int, help="after the fit, replay this iteration (the timeline slider)")
    p.add_argument("--restart", type=int, help="after the fit, show this restart (as a gallery click does)")
    p.add_argument(
        "--compare", action="store_true", help="run every algorithm side by side to its end (the Compare tab)"
    )
    p.add_argument(
        "--select", type=int, metavar="KMAX", help="run model selection for K = 1..KMAX (the Model selection tab)"
    )


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "data",
        help="the data: a CSV/TSV/text, .npy, .npz or Parquet file, a folder of .npy/Parquet files, or a glob of them "
        "('parts/*.parquet')",
    )
    _columns_arg(p)
    p.add_argument(
        "--weights",
        metavar="COLUMN",
        help="a column of the file (0-based index or header name) holding each point's frequency weight: a point of "
        "weight w counts as w copies (0 drops it); never one of the fitted columns; BIC's n is the sum of the weights",
    )


def _columns_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--columns",
        help="the columns to fit: 0-based indices, header names or ranges, e.g. 1,2 or 0,2,5 or 1-4 or all; where "
        "a header name looks like an index, write name:0 for the name or index:0 for the place "
        "(default: every numeric column but a leading row index and a class label)",
    )


def _reg_args(p: argparse.ArgumentParser) -> None:
    """--reg-covar and its units, shared by fit and select."""
    p.add_argument(
        "--reg-covar",
        type=float,
        default=1e-6,
        help="the floor added to each covariance's diagonal: reg_covar times each column's variance (default 1e-6; "
        "see --reg-covar-units)",
    )
    p.add_argument(
        "--reg-covar-units",
        choices=REG_COVAR_UNITS,
        default="relative",
        help="relative (default): reg_covar times each column's variance, the same fit in any units; data: "
        "reg_covar as it is, in the data's units (scikit-learn's reg_covar)",
    )


def _prior_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--prior",
        choices=PRIORS,
        default=None,
        help="default: mclust's default conjugate prior (priorControl(), Fraley & Raftery 2007), fitted by MAP EM; "
        "for the ten models mclust fits it for (not VEE, EVE, VVE, EVV), data in memory; reg-covar is not added "
        "(the prior keeps the covariances off the boundary). The log-likelihood, BIC and ICL reported are the "
        "plain ones at the MAP parameters, as mclust reports them (default: no prior, maximum likelihood)",
    )


def _scale_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dask",
        metavar="CLUSTER",
        help="fit on a Dask cluster: local or local:WORKERS (processes on this machine) or a scheduler's address "
        "tcp://HOST:PORT; the workers read the .npy/Parquet/CSV data from its path (shared storage)",
    )
    p.add_argument(
        "--memory-limit",
        help="the most data held in memory, e.g. 256M or 2G (default: a quarter of this machine's memory); a larger "
        ".npy, Parquet or CSV file, a folder or a glob of .npy/Parquet files, is read by chunks of at most this size, "
        "once per iteration",
    )
