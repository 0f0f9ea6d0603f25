"""`fit DATA --restarts R --gallery G --bootstrap B` (issue 25): each optimum of the gallery bootstrapped B times,
how often its components are identifiable, in the gallery (column identifiable; the JSON's solutions) and printed:
the engine's identifiability of each exported solution (tests/engine/test_identifiability.py checks that)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from cli.main import main as cli
from engine import FitConfig
from engine.selection.identifiability import identifiability

FAITHFUL = Path(__file__).resolve().parents[1] / "data" / "mclust" / "faithful.csv"
ARGS = ["-k", "3", "--restarts", "8", "--seed", "2", "--quiet"]


def test_the_gallery_says_how_often_each_optimums_components_are_identifiable(tmp_path, capsys) -> None:
    g_json = tmp_path / "g.json"
    assert cli(["fit", str(FAITHFUL), *ARGS, "--bootstrap", "12", "--gallery", str(g_json)]) == 0
    printed = capsys.readouterr().out
    solutions = json.loads(g_json.read_text())["solutions"]
    x = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    cfg = FitConfig(n_components=3, restarts=8, seed=2)
    shares = {}
    for s in solutions:
        got = s["identifiable"]
        if s["kind"] != "optimum":  # a plateau is no answer: not bootstrapped
            assert got is None
            continue
        fitted = tuple(np.asarray(s[name]) for name in ("weights", "means", "covariances"))
        want = identifiability(x, fitted, cfg, 12, seed=2)
        assert got["share"] == want.solution and got["components"] == want.components.tolist()
        assert (got["replicates"], got["type"], got["seed"], got["margin"]) == (12, "nonparametric", 2, 2.0)
        shares[s["label"]] = got["share"]
        assert f"solution {s['label']} {want.solution:.0%} (components " in printed
    assert len(shares) == 3  # measured: A, B and C, 83%, 75% and 67%
    assert "identifiable (every component, in 12 nonparametric bootstrap replicates of each optimum): " in printed


def test_without_bootstrap_the_gallery_leaves_identifiable_empty(tmp_path, capsys) -> None:
    g_csv = tmp_path / "g.csv"
    assert cli(["fit", str(FAITHFUL), *ARGS, "--gallery", str(g_csv)]) == 0
    assert "identifiable" not in capsys.readouterr().out
    assert {row["identifiable"] for row in csv.DictReader(g_csv.open())} == {""}
