"""Data of any dimension at the command line: the columns chosen, the fit, its exports, its session, model
selection (the iris data against scikit-learn)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import engine
from cli.main import main as cli
from engine.io.export import read_params, to_sklearn
from engine.model.covariances import SKLEARN_TYPES  # scikit-learn has these four


def _four_d(tmp_path):
    """A CSV with a row index, four data columns and a class label, as a user's export would have."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(m, 1.0, (100, 4)) for m in (0.0, 5.0, 10.0)])
    label = np.repeat([0, 1, 2], 100)
    path = tmp_path / "d4.csv"
    table = np.column_stack([np.arange(300), x, label])
    np.savetxt(path, table, delimiter=",", header="idx,a,b,c,d,class", comments="", fmt=["%d", *["%.17g"] * 4, "%d"])
    return path, x


def test_the_default_columns_skip_the_index_and_the_label_and_say_so(tmp_path, capsys) -> None:
    path, x = _four_d(tmp_path)
    assert cli(["fit", str(path), "-k", "3", "--quiet", "-o", str(tmp_path / "p.json")]) == 0
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (
        f"using columns 1 ('a'), 2 ('b'), 3 ('c'), 4 ('d') of {path} (choose others with --columns)"
    )
    params = read_params(tmp_path / "p.json")
    assert params.means.shape == (3, 4) and params.covariances.shape == (3, 4, 4)
    # the fitted means are the three groups' means (well separated), in some order
    found = np.sort(params.means.mean(axis=1))
    np.testing.assert_allclose(found, [x[:100].mean(), x[100:200].mean(), x[200:].mean()], atol=0.05)


@pytest.mark.parametrize(
    ("spec", "columns"),
    [("1,3", ("a", "c")), ("2-4", ("b", "c", "d")), ("a,d,b", ("a", "d", "b")), ("b", ("b",)), ("all", None)],
)
def test_column_specs(tmp_path, spec: str, columns) -> None:
    path, _ = _four_d(tmp_path)
    ds = engine.load(path, [s.strip() for s in spec.split(",")])
    assert ds.columns == (columns or ("idx", "a", "b", "c", "d", "class"))


def test_exports_and_sessions_hold_d_dimensional_parameters(tmp_path, capsys) -> None:
    path, x = _four_d(tmp_path)
    outputs = {ext: tmp_path / f"p.{ext}" for ext in ("json", "csv", "npz")}
    for out in outputs.values():
        assert cli(["fit", str(path), "-k", "3", "--restarts", "3", "--quiet", "-o", str(out)]) == 0
    session = tmp_path / "s.gmmsession"
    assert cli(["fit", str(path), "-k", "3", "--restarts", "3", "--quiet", "--session", str(session)]) == 0
    loaded = [read_params(p) for p in outputs.values()]
    for other in loaded[1:]:
        np.testing.assert_array_equal(other.means, loaded[0].means)
        np.testing.assert_array_equal(other.covariances, loaded[0].covariances)
    header = outputs["csv"].read_text().splitlines()[0].split(",")
    assert header[:6] == ["component", "weight", "mean_0", "mean_1", "mean_2", "mean_3"] and len(header) == 2 + 4 + 16
    capsys.readouterr()
    assert cli(["replay", str(session), "--quiet"]) == 0
    assert "reproduced: the same iterations, restart, log-likelihood and parameters" in capsys.readouterr().out
    # the exported BIC is scikit-learn's for the same parameters (its parameter count in 4-D)
    gm = to_sklearn(loaded[0])
    assert json.loads(outputs["json"].read_text())["bic"] == pytest.approx(gm.bic(x), rel=1e-9)


def test_one_column_is_one_dimensional_data(tmp_path, capsys) -> None:
    path, x = _four_d(tmp_path)
    assert cli(["fit", str(path), "--columns", "a", "-k", "2", "--quiet", "-o", str(tmp_path / "p.json")]) == 0
    params = read_params(tmp_path / "p.json")
    assert params.means.shape == (2, 1) and params.covariances.shape == (2, 1, 1)


def test_iris_best_model_agrees_with_sklearn() -> None:
    """The iris data (4 columns): the lowest-BIC (K, covariance type) over K = 1..5 and the four types is the
    one scikit-learn finds with 10 initialisations per model."""
    from sklearn.datasets import load_iris
    from sklearn.mixture import GaussianMixture

    x = load_iris().data
    _, best = engine.selection.select.run_selection(
        x, list(range(1, 6)), list(SKLEARN_TYPES), engine.FitConfig(restarts=10, reg_covar_units="data")
    )
    reference = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(1, 6):
            for ct in SKLEARN_TYPES:
                gm = GaussianMixture(k, covariance_type=ct, n_init=10, random_state=0, reg_covar=1e-6).fit(x)
                reference[k, ct] = gm.bic(x)
    assert (best.k, best.covariance_type) == min(reference, key=reference.get)
    assert best.bic == pytest.approx(reference[best.k, best.covariance_type], rel=1e-4)
