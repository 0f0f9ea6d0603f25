"""What a new user met trying issue 25's inputs from docs/command-line.md, each fixed: a first line of numbers and
missing values' tokens is a data row (it was taken for a header, and its row silently lost); `-k` left out takes
the `--init` file's K (it stayed 3, and `--init p.json --fix ...` of another K was refused); `--bootstrap-type`
without `--bootstrap` is one line (it was silently ignored). Each mistake: exit 2, one line, nothing written."""

from __future__ import annotations

import json

import pytest
from bad_inputs import expect_user_error

from cli.main import main as cli

ROWS = "NA,1.5\n1,2\n2.5,3\n3,1\n4,4.5\n5,2\n0.5,2.5\n"  # the first row misses its first value


@pytest.mark.parametrize("limit", [[], ["--memory-limit", "10"]])
def test_a_first_row_of_numbers_and_na_is_data_not_a_header(tmp_path, capsys, limit) -> None:
    """Its fit is the fit of the same rows under a header line (the reference), in memory and by chunks."""
    bare, headed = tmp_path / "bare.csv", tmp_path / "headed.csv"
    bare.write_text(ROWS)
    headed.write_text("a,b\n" + ROWS)
    fits = []
    for path in (bare, headed):
        out = tmp_path / f"{path.stem}.json"
        argv = ["fit", str(path), "--columns", "0,1", "-k", "1", "--missing", "em", *limit, "-o", str(out)]
        assert cli(argv) == 0
        fits.append(json.loads(out.read_text()))
    said = capsys.readouterr().err
    assert said.count("missing values: 1 of 14 (7.1%)") == 2  # one row with a missing value in each
    assert limit or said.count("in 1 row, 1 pattern: fitted") == 2  # (in memory; it said '1 rows')
    assert fits[0]["n_samples"] == fits[1]["n_samples"] == 7
    assert fits[0]["log_likelihood"] == fits[1]["log_likelihood"]
    assert fits[0]["means"] == fits[1]["means"]


def test_a_first_row_with_na_without_the_flag_is_named(tmp_path, capsys) -> None:
    bare = tmp_path / "bare.csv"
    bare.write_text(ROWS)
    said = f"{bare}: line 1, column 0 ('x0'): value 'NA' is not a number: fix or remove that row"
    err = expect_user_error(
        capsys, ["fit", str(bare), "--columns", "0,1", "-k", "1", "-o", str(tmp_path / "o.json")], said
    )
    assert "--missing em" in err and not (tmp_path / "o.json").exists()


def test_without_k_the_init_files_k_is_fitted_and_pins_apply(tmp_path, capsys) -> None:
    data, start, out = tmp_path / "d.csv", tmp_path / "start.json", tmp_path / "pinned.json"
    data.write_text("x,y\n" + ROWS.replace("NA", "0.2") + "6,6\n6.5,5.5\n7,6.2\n")
    assert cli(["fit", str(data), "-k", "2", "--max-iter", "2", "-o", str(start), "--quiet"]) == 0
    assert cli(["fit", str(data), "--init", str(start), "--fix", "means=0", "-o", str(out), "--quiet"]) == 0
    fitted, first = json.loads(out.read_text()), json.loads(start.read_text())
    assert len(fitted["weights"]) == 2 and fitted["means"][0] == first["means"][0]
    argv = ["fit", str(data), "--init", str(start), "-k", "3", "-o", str(tmp_path / "three.json")]
    expect_user_error(capsys, argv, "initial parameters have 2 components in 2 dimensions but the fit asks for 3")


def test_bootstrap_type_without_bootstrap_is_one_line(tmp_path, capsys) -> None:
    data, out = tmp_path / "d.csv", tmp_path / "o.json"
    data.write_text("x,y\n" + ROWS.replace("NA", "0.2"))
    argv = [
        "fit",
        str(data),
        "-k",
        "1",
        "--bootstrap-type",
        "parametric",
        "-o",
        str(out),
        "--labels",
        str(tmp_path / "l.csv"),
    ]
    expect_user_error(
        capsys, argv, "--bootstrap-type parametric says how bootstrap replicates are drawn, and no --bootstrap"
    )
    assert not out.exists() and not (tmp_path / "l.csv").exists()


@pytest.mark.parametrize(
    ("flag", "then"), [(["--bootstrap", "20"], "--bootstrap 200"), (["--information"], "--information")]
)
def test_select_refuses_a_fits_standard_errors_saying_which_fit(tmp_path, capsys, flag, then) -> None:
    """(argparse's 'unrecognized arguments' said neither why nor what to run.)"""
    data, out = tmp_path / "d.csv", tmp_path / "o.json"
    data.write_text("x,y\n" + ROWS.replace("NA", "0.2"))
    said = f"select does not take {flag[0]}: standard errors are a fit's; fit the model select chose, fit DATA -k K "
    expect_user_error(
        capsys, ["select", str(data), "-k", "1-2", *flag, "-o", str(out)], said + f"--covariance MODEL {then}"
    )
    assert not out.exists()
