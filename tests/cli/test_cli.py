"""The command line end to end: generate -> fit -> generate --params; select; every bad input exits 2
with one clear line on stderr and no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from bad_inputs import BAD_TEXT
from bad_inputs import expect_user_error as _bad
from data_sets import NO_BOOTSTRAP, OLD_FAITHFUL, ROOT
from preloaded import FORKS, Preloaded

import engine
from cli.main import main as cli


def run_main(*args: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
    """main.py in a subprocess of this interpreter, never bootstrapping (no venv, no download)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **NO_BOOTSTRAP, **(env or {})},
    )


@pytest.fixture(scope="module")
def main_py() -> Iterator[Callable[..., subprocess.CompletedProcess]]:
    """run_main, in forks of a Python that has imported the engine once (tests/preloaded.py) where it can fork."""
    if not FORKS:
        yield run_main
        return
    python = Preloaded({**os.environ, **NO_BOOTSTRAP})

    def run(*args: str, cwd, env: dict | None = None) -> subprocess.CompletedProcess:
        full = {**os.environ, **NO_BOOTSTRAP, **(env or {})}
        return python.completed([str(ROOT / "main.py"), *args], cwd, full, 300)

    yield run
    python.close()


def test_generate_fit_and_sample_the_fit(tmp_path, main_py) -> None:
    r = main_py("generate", "--preset", "forum", "--n", "1000", "--seed", "0", "-o", "data.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = main_py(
        "fit", "data.csv", "-k", "3", "--restarts", "5", "-o", "params.json", "--labels", "labels.csv", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert "using columns 0 ('x0'), 1 ('x1')" in r.stderr
    assert "converged" in r.stdout and "BIC" in r.stdout
    doc = json.loads((tmp_path / "params.json").read_text())
    assert doc["n_samples"] == 1000 and doc["restarts"] == 5 and len(doc["weights"]) == 3
    r = main_py("generate", "--params", "params.json", "--n", "50", "-o", "again.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "again.csv").read_text().splitlines()) == 51
    # a user's mistake through the real entry point: exit 2, the message last on stderr, no traceback
    r = main_py("fit", "data.csv", "--init", "params.json", "-k", "4", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: initial parameters have 3 components")


def test_max_iter_zero_evaluates_the_initial_parameters(tmp_path, capsys) -> None:
    p = tmp_path / "init.json"
    p.write_text(
        json.dumps(
            {
                "weights": [0.5, 0.5],
                "means": [[2, 55], [4.3, 80]],
                "covariances": [[[0.1, 0], [0, 30]], [[0.2, 0], [0, 35]]],
            }
        )
    )
    assert (
        cli(
            ["fit", str(OLD_FAITHFUL), "-k", "2", "--init", str(p), "--max-iter", "0", "-o", str(tmp_path / "out.json")]
        )
        == 0
    )
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["n_iter"] == 0 and out["converged"] is False
    assert out["means"] == [[2, 55], [4.3, 80]]


def test_select_writes_fits_and_best(tmp_path, capsys) -> None:
    out = tmp_path / "sel.json"
    assert (
        cli(
            [
                "select",
                str(OLD_FAITHFUL),
                "--columns",
                "1,2",
                "-k",
                "1-3",
                "--covariance",
                "full,tied",
                "--reg-covar",
                "0",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    doc = json.loads(out.read_text())
    assert len(doc["fits"]) == 6
    keys = {"k", "covariance_type", "log_likelihood", "bic", "aic", "converged", "spurious", "reason"}
    assert keys <= set(doc["fits"][0])
    assert doc["best"]["k"] == 3 and doc["best"]["covariance_type"] == "tied"


@pytest.mark.parametrize("name", sorted(BAD_TEXT))
def test_every_bad_file_exits_2_with_its_message(tmp_path, capsys, name: str) -> None:
    content, message = BAD_TEXT[name]
    p = tmp_path / name
    p.write_bytes(content)
    _bad(capsys, ["fit", str(p)], message)


def test_bad_arrays_and_settings(tmp_path, capsys) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _bad(capsys, ["fit", str(tmp_path / "obj.npy")], "pickled Python objects")
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("a,b\n1,2\n3,4\n")
    _bad(capsys, ["fit", str(tiny), "-k", "3"], "2 points cannot fit 3 components")
    _bad(capsys, ["fit", str(tmp_path / "missing.csv")], "no such file")
    _bad(capsys, ["fit", str(OLD_FAITHFUL), "--columns", "1,"], "an item is empty")
    _bad(capsys, ["fit", str(OLD_FAITHFUL), "--columns", "1,1"], "column 1 ('Eruption length (mins)') is chosen twice")
    _bad(capsys, ["fit", str(OLD_FAITHFUL), "--columns", "1-5"], "column range '1-5' is not within the columns")
    _bad(
        capsys, ["fit", str(OLD_FAITHFUL), "--covariance", "banana"], "unknown covariance type 'banana': choose one of"
    )
    _bad(capsys, ["fit", str(OLD_FAITHFUL), "--restarts", "0"], "restarts must be a whole number from 1 to 1,000,000")
    if __import__("torch").cuda.is_available():
        _bad(
            capsys,
            ["fit", str(OLD_FAITHFUL), "--device", "tpu"],
            "device must be 'cpu' or 'cuda' (or 'cuda:N'), got 'tpu'",
        )
    else:
        _bad(
            capsys,
            ["fit", str(OLD_FAITHFUL), "--device", "cuda"],
            "device 'cuda' was asked for but torch sees no CUDA GPU here: use --device cpu",
        )
    _bad(capsys, ["fit", str(OLD_FAITHFUL), "-o", str(tmp_path / "nofolder" / "p.json")], "does not exist")
    _bad(capsys, ["select", str(OLD_FAITHFUL), "-k", "0-3"], "-k must name component counts >= 1")
    asym = tmp_path / "asym.json"
    recipe_cov = [[[1, 0.2], [0.2, 1.5]], [[3, -0.3], [-2, 9]], [[1.2, 0.4], [0.4, 1.3]]]  # as the forum wrote it
    asym.write_text(
        json.dumps({"weights": [0.25, 0.625, 0.125], "means": [[1, 2], [5, 6], [3, 1]], "covariances": recipe_cov})
    )
    _bad(
        capsys,
        ["generate", "--params", str(asym), "-o", str(tmp_path / "g.csv")],
        "covariance of component 1 is not symmetric: entry [0][1] = -0.3 but [1][0] = -2",
    )
    assert not (tmp_path / "g.csv").exists()


def test_gallery_session_and_replay(tmp_path, main_py) -> None:
    r = main_py("generate", "--preset", "forum", "--n", "500", "--seed", "1", "-o", "data.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = main_py(
        "fit",
        "data.csv",
        "-k",
        "3",
        "--restarts",
        "20",
        "--gallery",
        "gallery.csv",
        "--session",
        "fit.gmmsession",
        "--quiet",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "solution A (log-likelihood" in r.stdout and "reached by" in r.stdout
    assert "the forum's selection (lowest initial loss) picks restart" in r.stdout
    rows = (tmp_path / "gallery.csv").read_text().splitlines()
    assert len(rows) == 21 and rows[0].split(",")[9:11] == ["solution", "solution_share"]
    assert rows[0].split(",")[6] == "converged" and rows[0].split(",")[-2:] == ["outcome", "last_step"]
    assert {row.split(",")[-2] for row in rows[1:]} <= {"optimum", "plateau", "not converged"}
    shares = {}
    for row in rows[1:]:
        cells = row.split(",")
        shares.setdefault(cells[9], []).append(float(cells[10]))
    for label, values in shares.items():  # each solution's share is the fraction of restarts labelled so
        assert values == [len(values) / 20] * len(values), label
    fit_line = r.stdout.splitlines()[0]
    r = main_py("replay", "fit.gmmsession", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    replayed = r.stdout.splitlines()[0]
    assert replayed.split(" in ")[0] == fit_line.split(" in ")[0]  # same status and iterations
    assert replayed.split("s; ", 1)[1] == fit_line.split("s; ", 1)[1]  # same log-likelihood, BIC, AIC, restart
    assert "reproduced: the same iterations, restart, log-likelihood and parameters\n" in r.stdout
    # a session written by another version with other numbers: the replay says which versions differ
    doc = json.loads((tmp_path / "fit.gmmsession").read_text())
    doc["versions"]["gmm_studio"] = "0.1.0"
    doc["fit"]["means"][0][0] += 1e-3
    (tmp_path / "old.gmmsession").write_text(json.dumps(doc))
    r = main_py("replay", "old.gmmsession", "--quiet", cwd=tmp_path)
    assert r.returncode == 1 and "NOT reproduced: means differ by up to 0.001\n" in r.stdout
    assert f"saved by another version (gmm_studio 0.1.0 -> {engine.__version__})" in r.stdout
    lines = (tmp_path / "data.csv").read_text().splitlines()
    lines[1] = "0.5,0.5,0"  # one point moved
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    r = main_py("replay", "fit.gmmsession", cwd=tmp_path)
    assert r.returncode == 2 and "has changed since the session was saved" in r.stderr


def test_gallery_refuses_select_by_initial(tmp_path, main_py) -> None:
    np.savetxt(tmp_path / "d.csv", np.random.default_rng(0).normal(size=(50, 2)), delimiter=",")
    r = main_py(
        "fit", "d.csv", "-k", "2", "--restarts", "3", "--select-by", "initial", "--gallery", "g.csv", cwd=tmp_path
    )
    assert r.returncode == 2 and "drop --select-by initial" in r.stderr


def test_the_package_version_is_the_engine_version() -> None:
    # pyproject.toml cannot import the engine: this keeps the two in step
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["version"] == engine.__version__


def test_an_imported_start_exports_bit_for_bit_and_covariances_are_exactly_symmetric(tmp_path) -> None:
    # a start with full-precision values (a fit's own export), on data in other units than the start's scale
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    assert cli(["fit", str(OLD_FAITHFUL), "-k", "3", "--max-iter", "7", "-o", str(a), "--quiet"]) == 0
    assert cli(["fit", str(OLD_FAITHFUL), "-k", "3", "--init", str(a), "--max-iter", "0", "-o", str(b), "--quiet"]) == 0
    start, again = json.loads(a.read_text()), json.loads(b.read_text())
    for name in ("weights", "means", "covariances"):
        assert again[name] == start[name], name  # the same floats, to the last bit
    assert cli(["fit", str(OLD_FAITHFUL), "-k", "3", "--init", str(a), "--max-iter", "5", "-o", str(c), "--quiet"]) == 0
    for doc in (start, json.loads(c.read_text())):
        for cov in doc["covariances"]:
            assert cov[0][1] == cov[1][0]  # exactly symmetric after the map back to data units


def test_the_iteration_count_is_the_chosen_restarts_own(tmp_path) -> None:
    """In a batch each restart stops on its own: the export's n_iter and converged, and the summary line, are the
    chosen restart's (the gallery's row for it), the batch's count beside them (issue 22, item 2: the export said
    n_iter 626 for a restart that took 206)."""
    import csv

    from cli import main as cli
    from engine.io.data import forum_sample

    data = tmp_path / "forum.csv"
    np.savetxt(data, forum_sample(1000, 0), delimiter=",", header="x,y", comments="")
    out, gallery = tmp_path / "p.json", tmp_path / "g.csv"
    args = ["fit", str(data), "-k", "3", "--restarts", "10", "--seed", "0", "--gallery", str(gallery), "-o", str(out)]
    assert cli.main([*args, "--quiet"]) == 0
    meta = json.loads(out.read_text())
    rows = {int(r["restart"]): r for r in csv.DictReader(gallery.open())}
    chosen = rows[meta["chosen_restart"]]
    assert meta["n_iter"] == int(chosen["n_iter"]) and meta["converged"] == (chosen["converged"] == "True")
    assert meta["batch_iterations"] == max(int(r["n_iter"]) for r in rows.values()) > meta["n_iter"]


def test_a_streamed_fit_says_where_its_start_comes_from(tmp_path, capsys) -> None:
    """Data read by chunks: a start drawn from the first pass's sample says so, with its method; a start given
    with --init FILE does not claim to come from the sample (issue 22, item 20)."""
    from cli import main as cli
    from engine.io.data import forum_sample

    x = np.concatenate([forum_sample(1000, 0)] * 20)
    np.save(tmp_path / "x.npy", x)
    common = ["fit", str(tmp_path / "x.npy"), "-k", "3", "--memory-limit", "256K", "--max-iter", "2", "--quiet"]
    assert cli.main([*common, "-o", str(tmp_path / "p.json")]) == 0
    said = capsys.readouterr().err
    assert "the start (kmeans++) is drawn from a uniform random sample of" in said
    assert cli.main([*common, "--init", str(tmp_path / "p.json")]) == 0
    assert "sample" not in capsys.readouterr().err


def test_usage_lines_name_the_program_as_started(monkeypatch, capsys) -> None:
    """Installed, the command is `gmm-studio`: its usage line says so (it said `main.py`); the screenshot's
    description is a sentence (it ended '...`: the')."""
    from cli.parser import build_parser

    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/gmm-studio"])
    assert build_parser().format_usage().startswith("usage: gmm-studio")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["screenshot", "--help"])
    text = capsys.readouterr().out
    assert text.startswith("usage: gmm-studio screenshot") and "save a screenshot of the whole window." in text


def test_every_option_of_every_command_says_what_it_does(tmp_path, capsys) -> None:
    """--help: each option and argument of every command (screenshot's and install-launcher's too: one parser) has a
    help line; the data argument names every
    form the loaders take; select takes --quiet as fit does (issue 22, item 15)."""
    import argparse

    from cli import main as cli

    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in ("generate", "fit", "select", "replay", "screenshot", "install-launcher"):
        silent = [a.dest for a in commands[name]._actions if not a.help]
        assert silent == [], f"{name}: options without help: {silent}"
    data_help = next(a.help for a in commands["fit"]._actions if a.dest == "data")
    assert all(word in data_help for word in ("Parquet", "folder", "glob"))
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).normal(size=(200, 2)))
    assert cli.main(["select", str(path), "-k", "1-2", "--covariance", "full", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("best by BIC: k=") and "log-lik" not in out


def test_a_long_fit_says_how_it_goes_when_stderr_is_no_terminal(tmp_path, monkeypatch, capsys) -> None:
    """stderr a log or a pipe: a plain progress line every LOG_EVERY_S with what the rest of max-iter would take at
    the pace so far (issue 22, item 12: 100,000 restarts ran two minutes in silence); none for a short fit."""
    from cli import main as cli
    from cli import progress

    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).normal(size=(3000, 2)))
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.05)
    args = ["fit", str(path), "-k", "4", "--restarts", "8", "--tol", "0", "--max-iter", "60"]
    assert cli.main(args) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("iteration ")]
    assert lines and all("/60: mean log-lik" in line and "s more (max-iter 60) at this pace" in line for line in lines)
    monkeypatch.setattr(progress, "LOG_EVERY_S", 3600.0)
    assert cli.main(args) == 0
    assert "iteration " not in capsys.readouterr().err


def test_the_export_says_what_reg_covar_added_in_which_units(tmp_path, capsys) -> None:
    """Issue 22 item 7: reg_covar is relative to each column's variance unless --reg-covar-units data; the export
    says which, and the floor it added to each column (data units)."""
    x = np.loadtxt(OLD_FAITHFUL, delimiter=",", skiprows=1, usecols=(1, 2))
    var = x.var(axis=0)
    for units, expected in (("relative", 1e-4 * var), ("data", [1e-4, 1e-4])):
        out = tmp_path / f"{units}.json"
        args = ["fit", str(OLD_FAITHFUL), "-k", "2", "--reg-covar", "1e-4", "--reg-covar-units", units, "-o", str(out)]
        assert cli(args) == 0
        meta = json.loads(out.read_text())
        assert meta["reg_covar"] == 1e-4 and meta["reg_covar_units"] == units
        np.testing.assert_allclose(meta["reg_floor"], expected, rtol=1e-9)


def test_replay_says_the_saved_restarts_own_iterations(tmp_path, capsys) -> None:
    """replay said 'session: converged after 562 iterations' (the batch's) where the fit said 206 (its restart's)."""
    from engine.io.data import forum_sample

    data = tmp_path / "forum.csv"
    np.savetxt(data, forum_sample(1000, 0), delimiter=",", header="x0,x1", comments="", fmt="%.17g")
    session = tmp_path / "s.gmmsession"
    assert cli(["fit", str(data), "-k", "3", "--restarts", "20", "--session", str(session), "--quiet"]) == 0
    fit_line = capsys.readouterr().out.splitlines()[0]
    saved = json.loads(session.read_text())["fit"]
    own, batch = saved["restart_iterations"], saved["iteration"]
    assert own < batch and f"after {own} iterations (the batch of 20 restarts ran {batch})" in fit_line
    assert cli(["replay", str(session), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"session: converged after {own} iterations (the batch of 20 restarts ran {batch}); " in out
