"""fit --fix (issue 25): the pinned values come back in the export as the init file gave them, bit for bit, with
what was pinned; a pin the fit cannot keep is one line, no traceback, and no file written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bad_inputs import expect_user_error
from data_sets import blobs

from cli.main import main as cli

INIT = {
    "weights": [0.3, 0.3, 0.4],
    "means": [[0.1234567891, -0.0987654321], [3.9012345678, 3.1098765432], [0.2345678912, 4.8765432109]],
    "covariances": [
        [[1.0123456789, 0.6], [0.6, 1.5]],
        [[0.5, -0.2], [-0.2, 0.3]],
        [[2.0, 0.1], [0.1, 0.4]],
    ],
}


@pytest.fixture
def files(tmp_path):
    """data.csv (blobs far from the origin: the standardisation changes the pinned values' last bits) and init.json."""
    np.savetxt(tmp_path / "data.csv", blobs(0) * [3.0, 0.7] + [1e4, 0.0], delimiter=",", header="a,b", comments="")
    init = dict(INIT, means=(np.array(INIT["means"]) * [3.0, 0.7] + [1e4, 0.0]).tolist())
    (tmp_path / "init.json").write_text(json.dumps(init))
    return tmp_path, init


def test_fit_keeps_the_pinned_values_and_says_what_was_pinned(files, capsys) -> None:
    tmp, init = files
    out = tmp / "out.json"
    argv = ["fit", str(tmp / "data.csv"), "--init", str(tmp / "init.json"), "--quiet", "-o", str(out)]
    assert cli([*argv, "--fix", "means=0,2", "--fix", "weights=1", "--fix", "covariances=0"]) == 0
    got = json.loads(out.read_text())
    assert got["fixed"] == {"weights": [1], "means": [0, 2], "covariances": [0]}
    # JSON writes each float's shortest repr, which reads back to the same bits: equal numbers are equal bits
    assert [got["means"][0], got["means"][2]] == [init["means"][0], init["means"][2]]
    assert got["weights"][1] == init["weights"][1] and got["covariances"][0] == init["covariances"][0]
    assert got["means"][1] != init["means"][1]  # the free mean was fitted
    assert got["n_iter"] > 1


def test_every_weight_but_one_pins_that_one_too_and_says_so(files, capsys) -> None:
    tmp, init = files
    out = tmp / "out.json"
    argv = ["fit", str(tmp / "data.csv"), "--init", str(tmp / "init.json"), "--quiet", "-o", str(out)]
    assert cli([*argv, "--fix", "weights=0,2", "--fix", "means"]) == 0
    assert "every weight but component 1's is pinned, so its weight is pinned too" in capsys.readouterr().err
    got = json.loads(out.read_text())
    assert got["fixed"] == {"weights": [0, 1, 2], "means": [0, 1, 2]}
    assert got["weights"] == init["weights"] and got["means"] == init["means"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fix", "means"], "--fix pins values of the start: give the start as a parameters file"),
        (["--init", "kmeans", "--fix", "means"], "--fix pins values of the start"),
        (["--init", "INIT", "--fix", "means=3"], "--fix means=3: component 3 is out of range"),
        (["--init", "INIT", "--fix", "mean=0"], "pin one of weights, means, covariances"),
        (["--init", "INIT", "--fix", "means=0;1"], "components are numbers separated by commas"),
        (["--init", "INIT", "--fix", "means", "--algorithm", "marginal"], "--fix needs exact EM"),
        (["--init", "INIT", "--fix", "covariances=1", "--covariance", "EEE"], "pin every component's or none"),
        (["--init", "INIT", "--fix", "means", "--restarts", "3"], "use --restarts 1"),
    ],
)
def test_a_pin_the_fit_cannot_keep_is_one_line_and_writes_nothing(files, capsys, extra, message) -> None:
    tmp, _ = files
    out = tmp / "out.json"
    extra = [str(tmp / "init.json") if a == "INIT" else a for a in extra]
    expect_user_error(capsys, ["fit", str(tmp / "data.csv"), "--quiet", "-o", str(out), *extra], message)
    assert not out.exists()


def test_select_refuses_fix(files, capsys) -> None:
    tmp, _ = files
    out = tmp / "sel.json"
    expect_user_error(
        capsys, ["select", str(tmp / "data.csv"), "--fix", "means", "-o", str(out)], "select does not take --fix"
    )
    assert not out.exists()


def test_a_fit_read_by_chunks_keeps_the_pins_as_in_memory(files, capsys) -> None:
    tmp, init = files
    pins = ["--fix", "means=0", "--fix", "weights=2", "--fix", "covariances=1"]
    base = ["fit", str(tmp / "data.csv"), "--init", str(tmp / "init.json"), "--quiet", *pins]
    assert cli([*base, "-o", str(tmp / "memory.json")]) == 0
    assert cli([*base, "--memory-limit", "10K", "-o", str(tmp / "chunks.json")]) == 0
    assert "one pass per iteration" in capsys.readouterr().err  # it was read by chunks
    memory, chunks = (json.loads((tmp / f"{name}.json").read_text()) for name in ("memory", "chunks"))
    assert chunks["means"][0] == init["means"][0] and chunks["weights"][2] == init["weights"][2]
    assert chunks["covariances"][1] == init["covariances"][1] and chunks["fixed"] == memory["fixed"]
    # the same fit, its sums added in another order: measured 5e-15 apart (relative; covariances 2e-14)
    np.testing.assert_allclose(chunks["means"], memory["means"], rtol=1e-12)
    np.testing.assert_allclose(chunks["weights"], memory["weights"], rtol=1e-12)
