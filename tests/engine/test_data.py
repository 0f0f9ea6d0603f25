"""Generator and loaders: the good files load as they are; every malformed one gets a specific error."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from bad_inputs import BAD_TEXT
from data_sets import OLD_FAITHFUL

from engine.errors import DataError, ParamsError
from engine.io.data import FORUM_PRESET, check_mixture, column_names, load, sample_mixture


def test_old_faithful_loads_as_it_is() -> None:
    ds = load(OLD_FAITHFUL)  # quoted header, index column, leading spaces
    assert ds.points.shape == (272, 2)
    assert ds.columns == ("Eruption length (mins)", "Eruption wait (mins)")
    assert ds.column_indices == (1, 2)
    assert ds.points[0].tolist() == [3.6, 79.0]
    assert load(OLD_FAITHFUL, ["1", "2"]).points.tolist() == ds.points.tolist()
    by_name = load(OLD_FAITHFUL, ["Eruption wait (mins)", "Eruption length (mins)"])
    assert by_name.points[0].tolist() == [79.0, 3.6]


@pytest.mark.parametrize("sep", [",", "\t", " ", ";"])
def test_delimiters_and_headerless(tmp_path, sep: str) -> None:
    p = tmp_path / "d.txt"
    p.write_text(f"1.5{sep}2{sep}7\n3{sep}4e-1{sep}8\n-5{sep}6{sep}9\n")
    ds = load(p)  # every numeric column by default
    assert ds.points.tolist() == [[1.5, 2.0, 7.0], [3.0, 0.4, 8.0], [-5.0, 6.0, 9.0]]
    assert load(p, ["0", "1"]).points.tolist() == [[1.5, 2.0], [3.0, 0.4], [-5.0, 6.0]]
    assert load(p, ["0", "2"]).points[:, 1].tolist() == [7.0, 8.0, 9.0]
    assert load(p, at_most=2).column_indices == (0, 1)


FAST_PATH_TABLES = {
    # name: (text, whether NumPy's reader takes it; otherwise the field-by-field parser does)
    "csv with header": ("x,y,z\n{rows}", True),
    "tsv, comments, blank lines": ("# made by hand\nx\ty\tz\n\n{rows}# end\n", True),
    "whitespace, no header": ("{rows}", True),
    "quoted header and values": ('"a","b","c"\n{rows}', True),
    "quoted values after spaces": ('"a", "b", "c"\n{rows}', False),  # NumPy wants the quote first
    "index column": ("idx,x,y\n{rows}", True),
    "a text column": ("x,label,y\n{rows}", False),
    "a NaN in an unchosen column": ("x,y,z\n{rows}", False),
}


def _table(name: str, rng: np.random.Generator) -> str:
    x = rng.normal(size=(300, 3)) * np.array([1.0, 1e-7, 3e5])
    sep = {"tsv, comments, blank lines": "\t", "whitespace, no header": "   "}.get(name, ",")
    cells = [[repr(float(v)) for v in row] for row in x]  # 17 significant digits: every bit matters
    for i, row in enumerate(cells):
        if name.startswith("quoted"):
            row[1] = f'{" " if "spaces" in name else ""}"{row[1]}"'
        if name == "index column":
            row[0] = str(i)
        if name == "a text column":
            row[1] = "ab"[i % 2]
        if name == "a NaN in an unchosen column" and i == 7:
            row[2] = "nan"
    return "".join(sep.join(row) + "\n" for row in cells)


@pytest.mark.parametrize("name", sorted(FAST_PATH_TABLES))
def test_numpys_reader_and_the_careful_parser_read_the_same_bits(tmp_path, name: str, monkeypatch) -> None:
    import engine.io.text as data_mod  # the text reader: its fast path and its careful parser

    text, fast = FAST_PATH_TABLES[name]
    p = tmp_path / "t.csv"
    p.write_text(text.format(rows=_table(name, np.random.default_rng(1))))
    calls = []
    reader = data_mod.parse_all_numeric
    monkeypatch.setattr(data_mod, "parse_all_numeric", lambda *a: calls.append(reader(*a)) or calls[-1])
    columns = ["0", "1"] if name == "a NaN in an unchosen column" else None
    quick = load(p, columns)
    assert (calls[0] is not None) == fast  # which reader read it
    careful = data_mod.load_rows(p, data_mod.text_rows(p, p.read_bytes()), columns)
    assert quick.points.tobytes() == careful.points.tobytes()
    assert (quick.columns, quick.column_indices) == (careful.columns, careful.column_indices)
    assert quick.points.flags.c_contiguous


def test_npy_and_npz(tmp_path) -> None:
    x = np.random.default_rng(0).normal(size=(10, 3))
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "b.npz", data=x)
    assert np.array_equal(load(tmp_path / "a.npy").points, x)
    assert np.array_equal(load(tmp_path / "b.npz", ["1", "2"]).points, x[:, 1:])
    assert np.array_equal(load(tmp_path / "b.npz", ["0-1"]).points, x[:, :2])


@pytest.mark.parametrize("name", sorted(BAD_TEXT))
def test_malformed_text_files(tmp_path, name: str) -> None:
    content, message = BAD_TEXT[name]
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(DataError) as err:
        load(p)
    assert message in str(err.value) and str(p) in str(err.value)


def test_pickled_arrays_are_never_loaded(tmp_path) -> None:
    obj = np.array([{"a": 1}, None], dtype=object)
    np.save(tmp_path / "p.npy", obj, allow_pickle=True)
    np.savez(tmp_path / "p.npz", data=obj)
    (tmp_path / "raw.npy").write_bytes(pickle.dumps([1, 2, 3]))
    for name in ("p.npy", "p.npz"):
        with pytest.raises(DataError, match="pickled Python objects, which GMM Studio never loads"):
            load(tmp_path / name)
    # a bare pickle, or CSV text, under an .npy name is not an .npy file: said so, never "pickled"
    (tmp_path / "text.npy").write_text("x0,x1\n1,2\n")
    for name in ("raw.npy", "text.npy"):
        with pytest.raises(DataError, match="not a NumPy .npy file: bad magic"):
            load(tmp_path / name)
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataError, match="not a valid .npy file"):
        load(tmp_path / "junk.npy")


def test_one_dimensional_data(tmp_path) -> None:
    """A 1-D array, an (N, 1) array and a single-column file are 1-D data sets."""
    x = np.random.default_rng(0).normal(size=5)
    np.save(tmp_path / "flat.npy", x)
    np.save(tmp_path / "one.npy", x[:, None])
    (tmp_path / "one.csv").write_text("height\n" + "".join(f"{float(v)!r}\n" for v in x))
    for name in ("flat.npy", "one.npy", "one.csv"):
        ds = load(tmp_path / name)
        assert ds.points.shape == (5, 1) and np.array_equal(ds.points[:, 0], x), name
    assert load(tmp_path / "one.csv").columns == ("height",)


def test_bad_arrays(tmp_path) -> None:
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    x = np.ones((4, 2))
    x[2, 1] = np.nan
    np.save(tmp_path / "nan.npy", x)
    with pytest.raises(DataError, match=r"shape \(2, 2, 2\); GMM Studio needs a table of points \(N x D\)"):
        load(tmp_path / "cube.npy")
    with pytest.raises(DataError, match=r"row 2, column 1 \('x1'\): value nan is not a finite number"):
        load(tmp_path / "nan.npy")


def test_bad_column_choices() -> None:
    with pytest.raises(DataError, match="column index 7 is out of range"):
        load(OLD_FAITHFUL, ["1", "7"])
    with pytest.raises(DataError, match="no column named 'Wait'"):
        load(OLD_FAITHFUL, ["1", "Wait"])
    with pytest.raises(DataError, match=r"column 1 \('Eruption length \(mins\)'\) is chosen twice"):
        load(OLD_FAITHFUL, ["1", "1"])
    with pytest.raises(DataError, match="column range '2-1' is not within the columns: the file has columns 0..2"):
        load(OLD_FAITHFUL, ["2-1"])


def test_generator_refuses_the_recipes_asymmetric_covariance() -> None:
    cov = [c for c in FORUM_PRESET["covariances"]]
    cov[1] = [[3, -0.3], [-2, 9]]
    with pytest.raises(ParamsError, match=r"component 1 is not symmetric: entry \[0\]\[1\] = -0.3 but \[1\]\[0\] = -2"):
        sample_mixture(FORUM_PRESET["weights"], FORUM_PRESET["means"], cov, 10)
    with pytest.raises(ParamsError, match="component 0 .* not positive definite"):
        check_mixture([1.0], [[0, 0]], [[[1, 2], [2, 1]]])


def test_generator_matches_its_parameters() -> None:
    x, labels = sample_mixture(
        FORUM_PRESET["weights"], FORUM_PRESET["means"], FORUM_PRESET["covariances"], 200_000, seed=3
    )
    assert np.bincount(labels) / len(labels) == pytest.approx(FORUM_PRESET["weights"], abs=5e-3)
    for j in range(3):
        assert x[labels == j].mean(0) == pytest.approx(FORUM_PRESET["means"][j], abs=0.05)
        np.testing.assert_allclose(np.cov(x[labels == j].T), FORUM_PRESET["covariances"][j], atol=0.1)
    again, _ = sample_mixture(
        FORUM_PRESET["weights"], FORUM_PRESET["means"], FORUM_PRESET["covariances"], 200_000, seed=3
    )
    assert np.array_equal(x, again)


def test_parquet_files(tmp_path) -> None:
    """Columns by name, position or range; by default the numeric ones but pandas' index and a class label; a
    text column named, a missing value and a file that is not Parquet are refused with what to do."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    table = {"__index_level_0__": np.arange(40), "a": x[:, 0], "b": x[:, 1], "name": ["p"] * 40, "c": x[:, 2]}
    pq.write_table(pa.table({**table, "label": np.arange(40) % 2}), tmp_path / "t.parquet")
    ds = load(tmp_path / "t.parquet")
    assert ds.columns == ("a", "b", "c") and ds.column_indices == (1, 2, 4)
    np.testing.assert_array_equal(ds.points, x)
    assert load(tmp_path / "t.parquet", ["c", "a"]).columns == ("c", "a")
    assert load(tmp_path / "t.parquet", ["1-2"]).columns == ("a", "b")
    with pytest.raises(DataError, match=r"column 3 \('name'\) holds string, not numbers: choose numeric columns"):
        load(tmp_path / "t.parquet", ["a", "name"])
    holed = pa.table({"a": pa.array([1.0, None, 3.0]), "b": [1.0, 2.0, 3.0]})
    pq.write_table(holed, tmp_path / "holed.parquet")
    with pytest.raises(DataError, match=r"row 1, column 0 \('a'\): value nan is not a finite number"):
        load(tmp_path / "holed.parquet")
    (tmp_path / "fake.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="not a Parquet file: bad magic"):
        load(tmp_path / "fake.parquet")
    assert column_names(tmp_path / "t.parquet") == ["__index_level_0__", "a", "b", "name", "c", "label"]


def test_generated_parquet_reads_back(tmp_path) -> None:
    from engine.io.data import table_bytes

    points, labels = sample_mixture(FORUM_PRESET["weights"], FORUM_PRESET["means"], FORUM_PRESET["covariances"], 50, 3)
    (tmp_path / "g.parquet").write_bytes(table_bytes(points, labels, ".parquet"))
    ds = load(tmp_path / "g.parquet")
    assert ds.columns == ("x0", "x1")  # the component column is a label, not data
    np.testing.assert_array_equal(ds.points, points)


def test_sizes_are_shown_in_the_units_the_memory_limit_is_read_in() -> None:
    """'--memory-limit 64M' is 64 x 1024 x 1024 bytes and is shown as 64 MB (it was shown as 67.1 MB)."""
    from engine.runtime.limits import human, parse_size

    for text, shown in (("64M", "64 MB"), ("256K", "256 KB"), ("2G", "2 GB"), ("1.5G", "1.5 GB"), ("1000", "1000 B")):
        assert human(parse_size(text)) == shown
