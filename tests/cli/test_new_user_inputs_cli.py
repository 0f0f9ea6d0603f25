"""What a new user met trying issue 25's inputs from docs/command-line.md, each fixed: a first line of numbers and
missing values' tokens is a data row (it was taken for a header, and its row silently lost); `-k` left out takes
the `--init` file's K (it stayed 3, and `--init p.json --fix ...` of another K was refused); `--bootstrap-type`
without `--bootstrap` is one line (it was silently ignored). Each mistake: exit 2, one line, nothing written."""

from __future__ import annotations

import json

import numpy as np
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


def _parquet(path, **columns) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({k: pa.array(v, type=pa.int64()) for k, v in columns.items()}), path)


CHUNKS = ["--memory-limit", "10"]


def test_a_null_in_integer_parquet_columns_read_by_chunks_is_a_missing_value(tmp_path, capsys) -> None:
    """It read as int64's smallest number (-9.2e18), fitted as a value (its mean -1.8e17, 0 missing values); now
    the fit is the in-memory one (the reference: the same file loaded whole)."""
    path = tmp_path / "ints.parquet"
    _parquet(path, a=[None, 3, 5, 4, 8, 7, 1, 2], b=[1, 2, 2, 3, 5, 4, 1, 0])
    fits = []
    for limit in ([], CHUNKS):
        out = tmp_path / f"o{len(limit)}.json"
        assert cli(["fit", str(path), "-k", "1", "--missing", "em", *limit, "-o", str(out), "--quiet"]) == 0
        fits.append(json.loads(out.read_text()))
    assert fits[1]["missing_values"] == fits[0]["missing_values"] == 1
    np.testing.assert_allclose(fits[1]["means"], fits[0]["means"], rtol=1e-12)
    assert fits[1]["log_likelihood"] == pytest.approx(fits[0]["log_likelihood"], rel=1e-12)


@pytest.mark.parametrize("limit", [[], CHUNKS])
def test_a_null_weight_in_parquet_is_named_by_row_as_in_memory(tmp_path, capsys, limit) -> None:
    """By chunks it said "column 'w' has missing values: ..., or fit with --missing em" (no row; the flag fills
    fitted coordinates, never weights)."""
    path = tmp_path / "w.parquet"
    _parquet(path, x=[1, 2, 3, 4, 5, 6], y=[2, 1, 4, 3, 6, 5], w=[1, 2, 1, None, 1, 1])
    said = f"{path}: row 3 (counted from 0), column 2 ('w'): the weight is missing (only the fitted columns may"
    expect_user_error(
        capsys, ["fit", str(path), "-k", "1", "--weights", "w", *limit, "-o", str(tmp_path / "o.json")], said
    )


def test_a_nan_read_by_chunks_is_worded_as_in_memory(tmp_path, capsys) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 1.0], [4.0, 4.0]]))
    said = f"{path}: row 1, column 1 ('x1'): value nan is not a finite number: remove or fill that row, or fit with"
    for limit in ([], CHUNKS):
        expect_user_error(capsys, ["fit", str(path), "-k", "1", *limit, "-o", str(tmp_path / "o.json")], said)


def test_fix_with_an_empty_list_is_one_line_not_every_component(tmp_path, capsys) -> None:
    """'--fix means=' pinned every mean silently (as '--fix means' does): a list left out is a mistake."""
    data, start, out = tmp_path / "d.csv", tmp_path / "start.json", tmp_path / "o.json"
    data.write_text("x,y\n" + ROWS.replace("NA", "0.2") + "6,6\n6.5,5.5\n7,6.2\n")
    assert cli(["fit", str(data), "-k", "2", "--max-iter", "2", "-o", str(start), "--quiet"]) == 0
    said = "--fix means=: no component after '=': list them, as --fix means=0,2, or pin every one with --fix means"
    expect_user_error(capsys, ["fit", str(data), "--init", str(start), "--fix", "means=", "-o", str(out)], said)
    assert not out.exists()


def test_rows_with_nothing_observed_are_listed_alike_in_memory_and_by_chunks(tmp_path, capsys) -> None:
    """By chunks the first pass reads every row before refusing (it stopped at the first): the same line."""
    x = np.random.default_rng(0).normal(size=(300, 2))
    x[[3, 9, 40, 41, 200, 250, 299]] = np.nan
    path = tmp_path / "e.npy"
    np.save(path, x)
    said = (
        f"{path}: row 3 (counted from 0) has no value in any fitted column ('x0', 'x1') (and 6 more such rows: rows "
        "9, 40, 41, 200, ... (counted from 0)): such a row tells nothing about the mixture: remove it, or choose other"
    )
    for limit in ([], ["--memory-limit", "1K"]):
        expect_user_error(
            capsys, ["fit", str(path), "-k", "1", "--missing", "em", *limit, "-o", str(tmp_path / "o.json")], said
        )
