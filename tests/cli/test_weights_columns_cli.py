"""`--columns all` with `--weights COLUMN` (issue 25's weights): every column but the weights', in memory and read
by chunks, for fit and select, in the exports, the labels and the session, which replays it; --columns naming the
weights' column itself is one line, and nothing is written. The reference is the same fit with the other columns
named one by one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bad_inputs import expect_user_error

from cli.main import main as cli

CHUNKS = ["--memory-limit", "1K"]  # below the table's size: read by chunks


def _table(tmp_path):
    """A CSV x,w,y of 60 points, the weights (whole numbers 0..3) between the two fitted columns."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0.0, 1.0, (30, 2)), rng.normal(4.0, 0.8, (30, 2))])
    w = rng.integers(0, 4, len(x))
    path = tmp_path / "xwy.csv"
    np.savetxt(path, np.column_stack([x[:, 0], w, x[:, 1]]), delimiter=",", header="x,w,y", comments="", fmt="%.17g")
    return path


def _run(capsys, argv: list[str]) -> dict:
    assert cli([*argv, "--quiet"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    return json.loads(open(argv[argv.index("-o") + 1]).read())


@pytest.mark.parametrize("limit", [[], CHUNKS])
def test_fit_columns_all_with_weights_fits_every_other_column_and_replays(tmp_path, capsys, limit) -> None:
    data = _table(tmp_path)
    fit = ["fit", str(data), "-k", "2", "--seed", "2", "--weights", "w", *limit]
    labels, session = tmp_path / "labels.csv", tmp_path / "all.gmmsession"
    every = _run(capsys, [*fit, "--columns", "all", "-o", str(tmp_path / "all.json"), "--labels", str(labels),
                          "--session", str(session)])  # fmt: skip
    named = _run(capsys, [*fit, "--columns", "x,y", "-o", str(tmp_path / "xy.json")])
    assert (every["columns"], every["weights_column"]) == (["x", "y"], "w")
    for key in ("log_likelihood", "bic", "means", "covariances", "weights", "n_effective"):
        assert every[key] == named[key], key
    assert labels.read_text().splitlines()[0].startswith("x,y,label,")
    assert cli(["replay", str(session), "--quiet"]) == 0
    assert "reproduced:" in capsys.readouterr().out


@pytest.mark.parametrize("limit", [[], CHUNKS])
def test_select_columns_all_with_weights_is_the_grid_of_the_other_columns(tmp_path, capsys, limit) -> None:
    data = _table(tmp_path)
    grid = ["select", str(data), "-k", "1-2", "--covariance", "VVV,VII", "--weights", "w", *limit]
    every = _run(capsys, [*grid, "--columns", "all", "-o", str(tmp_path / "all.json")])
    named = _run(capsys, [*grid, "--columns", "x,y", "-o", str(tmp_path / "xy.json")])
    assert [f["bic"] for f in every["fits"]] == [f["bic"] for f in named["fits"]]
    assert every["weights_column"] == "w"


@pytest.mark.parametrize("columns", ["x,w", "w,y", "0-2", "all,w"])
@pytest.mark.parametrize("limit", [[], CHUNKS])
@pytest.mark.parametrize("command", ["fit", "select"])
def test_columns_naming_the_weights_column_is_one_line(tmp_path, capsys, columns, limit, command) -> None:
    data = _table(tmp_path)
    out = tmp_path / "out.json"
    argv = [command, str(data), "-k", "1", "--weights", "w", "--columns", columns, *limit, "-o", str(out)]
    said = (
        f"{data}: column 1 ('w') is both --weights and in --columns: the weights are never fitted; leave it out of "
        "--columns (--columns all means every column but the weights')"
    )
    expect_user_error(capsys, argv, said)
    assert not out.exists()
