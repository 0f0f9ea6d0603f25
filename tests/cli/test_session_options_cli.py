"""What a session records beside the fit's settings (issue 25): the bootstrap of `fit --bootstrap B --session`
(its B, type and seed, and its standard errors) and the observed information of `fit --information --session` (its
method and standard errors), which `replay` runs again from the replayed fit and compares; a malformed part is one
error line naming its field."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bad_inputs import edited, expect_user_error

from cli.main import main as cli

DATA = "tests/data/old_faithful.csv"


def test_a_session_replays_its_bootstrap_and_compares_the_standard_errors(tmp_path, capsys) -> None:
    session, out = tmp_path / "b.gmmsession", tmp_path / "b.json"
    argv = ["fit", DATA, "-k", "2", "--seed", "4", "--bootstrap", "8", "--bootstrap-type", "weighted"]
    assert cli([*argv, "--session", str(session), "-o", str(out), "--quiet"]) == 0, capsys.readouterr().err
    doc, export = json.loads(session.read_text()), json.loads(out.read_text())
    boot = doc["bootstrap"]
    assert (boot["B"], boot["type"], boot["seed"]) == (8, "weighted", 4)
    for name, values in export["standard_errors"].items():  # the export's numbers, flattened with their shape
        assert np.array_equal(np.reshape(boot["standard_errors"][name], boot["shapes"][name]), values)
    capsys.readouterr()
    assert cli(["replay", str(session), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "bootstrap: 8 weighted replicates (seed 4)" in printed
    assert "mean Eruption length (mins)" in printed  # the columns' names, as the fit's table (not their places)
    assert (
        "reproduced: the same iterations, restart, log-likelihood, parameters and bootstrap standard errors" in printed
    )
    boot["standard_errors"]["means"][1] *= 1.5  # another bootstrap's numbers: replay says so, and fails
    session.write_text(json.dumps(doc))
    assert cli(["replay", str(session), "--quiet"]) == 1
    assert "bootstrap standard errors of the means differ by up to 0.333 relative" in capsys.readouterr().out


def _faithful(tmp_path, holes: float = 0.0, weighted: bool = False) -> str:
    """Old Faithful's two columns as a CSV x,y (a share `holes` of its cells missing, every row keeping a value)
    with a column w of whole weights 1..3 when weighted."""
    x = np.loadtxt(DATA, delimiter=",", skiprows=1)[:, 1:]
    rng = np.random.default_rng(0)
    missing = rng.random(x.shape) < holes
    missing[:, 0] &= ~missing[:, 1]
    x[missing] = np.nan
    w = rng.integers(1, 4, len(x)) if weighted else None
    rows = ["x,y" + (",w" if weighted else "")]
    for i, row in enumerate(x):
        cells = ["" if np.isnan(v) else repr(float(v)) for v in row] + ([str(w[i])] if weighted else [])
        rows.append(",".join(cells))
    path = tmp_path / "faithful.csv"
    path.write_text("\n".join(rows) + "\n")
    return str(path)


INFORMATION_FITS = {  # fit options -> the method the session records
    "full": ([], "louis"),
    "weights": (["--weights", "w"], "louis"),
    "missing values": (["--missing", "em"], "autograd_missing"),
    "VEV": (["--covariance", "VEV"], "autograd"),
}


@pytest.mark.parametrize("kind", INFORMATION_FITS)
def test_a_session_replays_its_information_and_compares_the_standard_errors(tmp_path, capsys, kind) -> None:
    """`fit --information --session`: the session keeps the export's standard_errors_information (flattened with
    their shapes) and method; replay computes them again from the replayed fit (the data's weights and missing
    values too), prints fit --information's table and says they are reproduced."""
    options, method = INFORMATION_FITS[kind]
    data = _faithful(tmp_path, holes=0.05 if kind == "missing values" else 0.0, weighted=kind == "weights")
    session, out = tmp_path / "i.gmmsession", tmp_path / "i.json"
    argv = ["fit", data, "-k", "2", "--seed", "4", "--information", *options, "--quiet"]
    assert cli([*argv, "--session", str(session), "-o", str(out)]) == 0, capsys.readouterr().err
    table = capsys.readouterr().out.split("information: ", 1)[1].split("\nwrote ")[0]
    info, export = json.loads(session.read_text())["information"], json.loads(out.read_text())
    assert info["method"] == export["information"]["method"] == method
    for name, values in export["standard_errors_information"].items():
        assert np.array_equal(np.reshape(info["standard_errors"][name], info["shapes"][name]), values)
    assert cli(["replay", str(session), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "information: " + table in printed  # the fit's table, its columns' names and numbers
    assert (
        "reproduced: the same iterations, restart, log-likelihood, parameters and information standard errors"
        in printed
    )


def _information_session(tmp_path, capsys, *options: str) -> tuple:
    """A session of `fit --information` of Old Faithful, K = 2 (options added): its path and JSON."""
    session = tmp_path / "i.gmmsession"
    argv = ["fit", DATA, "-k", "2", "--seed", "4", "--information", *options, "--session", str(session), "--quiet"]
    assert cli(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    return session, json.loads(session.read_text())


def test_a_session_whose_information_was_edited_is_not_reproduced(tmp_path, capsys) -> None:
    """Standard errors of the information that are not the replayed fit's: replay names them, exits 1."""
    session, doc = _information_session(tmp_path, capsys)
    doc["information"]["standard_errors"]["means"][1] *= 1.5
    session.write_text(json.dumps(doc))
    assert cli(["replay", str(session), "--quiet"]) == 1
    printed = capsys.readouterr().out
    assert "NOT reproduced: information standard errors of the means differ by up to 0.333 relative" in printed
    doc["information"]["standard_errors"]["means"][1] /= 1.5  # back to the saved numbers, another method's name
    doc["information"]["method"] = "autograd"
    session.write_text(json.dumps(doc))
    assert cli(["replay", str(session), "--quiet"]) == 1
    assert "NOT reproduced: information method louis (saved autograd)\n" in capsys.readouterr().out


def test_a_session_with_a_bootstrap_and_information_replays_both(tmp_path, capsys) -> None:
    session, doc = _information_session(tmp_path, capsys, "--bootstrap", "4")
    assert doc["bootstrap"]["B"] == 4 and doc["information"]["method"] == "louis"
    assert cli(["replay", str(session), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "bootstrap: 4 nonparametric replicates (seed 4)" in printed and "observed information" in printed
    assert (
        "reproduced: the same iterations, restart, log-likelihood, parameters and bootstrap and information "
        "standard errors" in printed
    )


SE = "standard_errors"
MALFORMED = [
    ("information", "louis", "'information' must be a JSON object"),
    ("information.method", KeyError, "information: 'method' is missing"),
    ("information.method", "newton", "information: 'method' must be one of louis, autograd, autograd_missing"),
    (f"information.{SE}", [0.1], "information: 'standard_errors' must be an object"),
    (f"information.{SE}.weights", [0.1], "information: standard_errors: 'weights' must be 2 numbers >= 0 or null"),
    (f"information.{SE}.means", [0.1, "x", 0.2, 0.3], "standard_errors: 'means' must be 4 numbers >= 0 or null"),
    (f"information.{SE}.means", [0.1, -0.2, 0.2, 0.3], "standard_errors: 'means' must be 4 numbers >= 0 or null"),
    (f"information.{SE}.covariances", KeyError, "information: standard_errors: 'covariances' is missing"),
    ("information.shapes", KeyError, "information: 'shapes' is missing"),
    ("information.shapes.covariances", [8], "'covariances' must be 8 numbers >= 0 or null, its shapes entry [2, 2, 2]"),
    ("config.prior", "default", "information: the fit has a prior, which fit --information refuses"),
    ("data.chunked", True, "bootstrap: the fit has data read by chunks, which fit --bootstrap refuses"),
    (f"bootstrap.{SE}.means", [0.1, True, 0.2, 0.3], "bootstrap: standard_errors: 'means' must be 4 numbers >= 0"),
]


@pytest.fixture(scope="module")
def both_parts(tmp_path_factory) -> dict:
    """The JSON of a session of `fit --information --bootstrap 2` of Old Faithful, K = 2."""
    session = tmp_path_factory.mktemp("parts") / "b.gmmsession"
    argv = ["fit", DATA, "-k", "2", "--information", "--bootstrap", "2", "--session", str(session), "--quiet"]
    assert cli(argv) == 0
    return json.loads(session.read_text())


@pytest.mark.parametrize(("where", "value", "message"), MALFORMED, ids=[f"{w}={v!r}"[:40] for w, v, _ in MALFORMED])
def test_a_malformed_part_is_one_line_naming_the_field(tmp_path, capsys, both_parts, where, value, message) -> None:
    """A session's information or bootstrap part that is not what fit writes: replay refuses it before any work,
    one error line naming the file and the field."""
    doc = edited(both_parts, where, value)
    session = tmp_path / "bad.gmmsession"
    session.write_text(json.dumps(doc))
    err = expect_user_error(capsys, ["replay", str(session)], message)
    assert f"{session}: " in err


def test_an_information_part_of_data_read_by_chunks_is_refused(tmp_path, capsys, both_parts) -> None:
    """fit --information refuses data read by chunks: a session that says so is damaged (its bootstrap too: above)."""
    doc = json.loads(json.dumps(both_parts))
    del doc["bootstrap"]
    doc["data"]["chunked"] = True
    session = tmp_path / "bad.gmmsession"
    session.write_text(json.dumps(doc))
    message = "information: the fit has data read by chunks, which fit --information refuses: the file is damaged"
    expect_user_error(capsys, ["replay", str(session)], message)
