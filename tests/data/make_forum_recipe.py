"""Writes tests/data/forum_recipe.json: the forum's Pyro recipe (tests/forum_recipe.py, a plain re-implementation of
docs/forum-algorithm.md) run once with its own settings (seeds 0..99, best by initial loss, 10,000 Adam
steps, float32) on engine.io.data.forum_sample(1000, seed=0). test_forum.py compares gradient-em's end with it; the
recipe takes 20-35 s on a 2-core machine, which the suite no longer spends on every run. Run from the repository
root: .venv/bin/python tests/data/make_forum_recipe.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from forum_recipe import run_recipe  # noqa: E402

from engine.io.data import forum_sample  # noqa: E402

SETTINGS = {"n": 1000, "data_seed": 0, "k": 3, "steps": 10_000, "n_seeds": 100}


def main() -> None:
    got = run_recipe(
        forum_sample(SETTINGS["n"], seed=SETTINGS["data_seed"]), SETTINGS["k"], SETTINGS["steps"], SETTINGS["n_seeds"]
    )
    out = {"settings": SETTINGS, **got, "weights": got["weights"].tolist(), "means": got["means"].tolist()}
    (ROOT / "tests" / "data" / "forum_recipe.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
