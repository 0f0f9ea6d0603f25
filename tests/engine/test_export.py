"""Export and import round-trip bit for bit; files are atomic and NaN-free; to_sklearn is equivalent."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_sets import blobs

from engine import COVARIANCE_TYPES, FitConfig, UserError, run_to_end
from engine.io.dataset import points_sha256
from engine.io.export import (
    MixtureParams,
    atomic_write,
    params_from_snapshot,
    read_params,
    to_sklearn,
    write_labels,
    write_params,
)
from engine.model.predict import responsibilities


@pytest.fixture(scope="module")
def fitted():
    x = blobs(0)
    snap = run_to_end(x, FitConfig(n_components=3, restarts=3))
    return x, params_from_snapshot(snap, ("x", "y"), points_sha256(x))


@pytest.mark.parametrize("suffix", [".json", ".csv", ".npz"])
def test_round_trip_is_bit_identical(tmp_path, fitted, suffix: str) -> None:
    _, params = fitted
    path = tmp_path / f"p{suffix}"
    write_params(path, params)
    back = read_params(path)
    for name in ("weights", "means", "covariances"):
        assert np.array_equal(getattr(back, name), getattr(params, name)), name
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary left behind


def test_json_is_self_describing(tmp_path, fitted) -> None:
    x, params = fitted
    write_params(tmp_path / "p.json", params)
    doc = json.loads((tmp_path / "p.json").read_text())
    for key in (
        "weights",
        "means",
        "covariances",
        "covariance_type",
        "log_likelihood",
        "mean_log_likelihood",
        "bic",
        "aic",
        "n_iter",
        "batch_iterations",
        "converged",
        "algorithm",
        "init",
        "seed",
        "restarts",
        "n_samples",
        "data_sha256",
        "columns",
        "versions",
        "format",
        "format_version",
    ):
        assert key in doc, key
    assert doc["data_sha256"] == points_sha256(x) and doc["n_samples"] == len(x)
    assert np.array(doc["covariances"]).shape == (3, 2, 2)
    gm = to_sklearn(params)
    assert doc["bic"] == pytest.approx(gm.bic(x), rel=1e-10)
    assert doc["aic"] == pytest.approx(gm.aic(x), rel=1e-10)


def test_hand_written_json_and_errors(tmp_path) -> None:
    p = tmp_path / "hand.json"
    head = '{"weights": [0.5, 0.5], "means": [[0, 0], [3, 3]], "covariances": [[[1, 0], [0, 1]], '
    p.write_text(head + "[[2, 0.5], [0.5, 1]]]}")
    assert read_params(p).means.tolist() == [[0, 0], [3, 3]]
    p.write_text('{"weights": [0.5, 0.5], "means": [[0, 0], [3, 3]]}')
    with pytest.raises(UserError, match="missing covariances"):
        read_params(p)
    p.write_text('{"weights": [0.5, 0.5],\n "means": [[0, 0], [3, 3]')
    with pytest.raises(UserError, match="line 2: not valid JSON"):
        read_params(p)
    p.write_text(head + "[[2, 0.5], [0.1, 1]]]}")
    with pytest.raises(UserError, match="component 1 is not symmetric"):
        read_params(p)


def test_hand_written_params_initialise_a_fit_projected_onto_the_type(tmp_path) -> None:
    x = blobs(1)
    p = tmp_path / "init.json"
    p.write_text(
        json.dumps(
            {"weights": [0.3, 0.3, 0.4], "means": [[0, 0], [4, 3], [0, 5]], "covariances": [[[1, 0.5], [0.5, 1]]] * 3}
        )
    )
    init = read_params(p).as_init()
    for ct in COVARIANCE_TYPES:
        snap = run_to_end(x, FitConfig(n_components=3, covariance_type=ct, init_params=init, max_iter=0))
        cov = snap.covariances
        if ct != "full":
            assert np.all(cov[:, 0, 1] == 0) if ct in ("diag", "spherical") else np.allclose(cov, cov[0])
        np.testing.assert_allclose(snap.means, [[0, 0], [4, 3], [0, 5]], atol=1e-12)


def test_no_nan_in_an_exported_file(tmp_path) -> None:
    bad = MixtureParams(np.array([0.5, 0.5]), np.array([[0.0, np.nan], [1.0, 1.0]]), np.stack([np.eye(2)] * 2))
    with pytest.raises(UserError, match="non-finite"):
        write_params(tmp_path / "bad.json", bad)
    assert not list(tmp_path.iterdir())


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch) -> None:
    target = tmp_path / "keep.json"
    target.write_text("old")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(UserError, match="keep.json: could not be written \\(no space left on the device"):
        atomic_write(target, b"new")
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_to_sklearn_scores_and_predicts_as_we_do(ct: str) -> None:
    x = blobs(2)
    snap = run_to_end(x, FitConfig(n_components=3, covariance_type=ct))
    params = params_from_snapshot(snap)
    gm = to_sklearn(params)
    assert gm.score(x) == pytest.approx(snap.mean_log_likelihood, rel=1e-10)
    np.testing.assert_allclose(
        gm.predict_proba(x), responsibilities(x, params.weights, params.means, params.covariances), atol=1e-10
    )


def test_labels_csv(tmp_path, fitted) -> None:
    x, params = fitted
    write_labels(tmp_path / "l.csv", x, params)
    rows = np.genfromtxt(tmp_path / "l.csv", delimiter=",", names=True)
    assert len(rows) == len(x)
    resp = np.stack([rows[f"resp_{j}"] for j in range(3)], 1)
    np.testing.assert_allclose(resp.sum(1), 1.0, atol=1e-12)
    assert np.array_equal(rows["label"].astype(int), resp.argmax(1))
