"""What a session records beside the fit's settings (issue 25): the bootstrap of `fit --bootstrap B --session`
(its B, type and seed, and its standard errors), which `replay` runs again from the replayed fit and compares."""

from __future__ import annotations

import json

import numpy as np

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
    assert (
        "reproduced: the same iterations, restart, log-likelihood, parameters and bootstrap standard errors" in printed
    )
    boot["standard_errors"]["means"][1] *= 1.5  # another bootstrap's numbers: replay says so, and fails
    session.write_text(json.dumps(doc))
    assert cli(["replay", str(session), "--quiet"]) == 1
    assert "bootstrap standard errors of the means differ by up to 0.333 relative" in capsys.readouterr().out
