"""A session saved with a bootstrap (`fit --bootstrap B --session`, issue 25) opened in the window: its fit is run
again, then its bootstrap (the saved B, type and seed) from that fit, shown as after Fit > Uncertainty (clouds,
bands, "value ± se" in the table) and dropped as a fresh one is (another K); the status line says whether its
standard errors are the saved ones. The reference: the standard errors the command line wrote into the session."""

from __future__ import annotations

import json

import numpy as np
from gui_helpers import FIT_TIMEOUT_MS, open_session, run_fit, two_clusters

from cli.main import main as cli

REPLICATES = 20
# `replay`'s criterion: the same data, fit and seed give the same replicates up to the fit's summation order
SE_RTOL = 1e-9


def _saved_errors(path) -> dict[str, np.ndarray]:
    part = json.loads(path.read_text())["bootstrap"]
    return {
        k: np.reshape(np.asarray(v, dtype=np.float64), part["shapes"][k]) for k, v in part["standard_errors"].items()
    }


def test_a_sessions_bootstrap_is_shown_as_fit_uncertainty_shows_one(qtbot, window, tmp_path) -> None:
    data, session = tmp_path / "two.csv", tmp_path / "boot.gmmsession"
    np.savetxt(data, two_clusters(5, 300), delimiter=",", header="x,y", comments="")
    assert cli(["fit", str(data), "-k", "2", "--bootstrap", str(REPLICATES), "--session", str(session), "--quiet"]) == 0
    saved = _saved_errors(session)
    assert open_session(qtbot, window, session) == "converged"
    unc = window.uncertainty
    qtbot.waitUntil(lambda: unc.result is not None, timeout=FIT_TIMEOUT_MS)
    boot, snap = unc.result.boot, window.state.frame.snapshot
    assert unc.result.snapshot is snap and (boot.requested, boot.kind) == (REPLICATES, "nonparametric")
    for name, se in boot.standard_errors().items():
        np.testing.assert_allclose(se, saved[name], rtol=SE_RTOL, atol=0)
    assert [len(c.data) for c in unc.layer.clouds] == [boot.weights.shape[0]] * 2
    assert not any(item.path().isEmpty() for item in unc.layer.bands)
    table = window.table
    for j in range(2):
        assert table.item(j, 1).text() == f"{snap.weights[j]:.5g} ± {saved['weights'][j]:.2g}"
    message = window.statusBar().currentMessage()
    assert message.startswith("session: reproduced the saved fit and its bootstrap's standard errors: log-likelihood")
    # saved again from the window: the same bootstrap part
    again = tmp_path / "again.gmmsession"
    assert window.sessions.save(str(again))
    for name, se in _saved_errors(again).items():
        np.testing.assert_allclose(se, saved[name], rtol=SE_RTOL, atol=0)
    # a fit of another K: dropped, as a fresh bootstrap is
    run_fit(qtbot, window, k=3)
    assert unc.result is None and "±" not in table.item(0, 1).text()
    assert not any(len(c.data) for c in unc.layer.clouds)


def test_a_bootstrap_that_differs_from_the_saved_one_is_said(qtbot, window, tmp_path) -> None:
    """The session's standard errors of the weights doubled in the file: the replayed bootstrap's are not them."""
    data, session = tmp_path / "two.csv", tmp_path / "boot.gmmsession"
    np.savetxt(data, two_clusters(5, 300), delimiter=",", header="x,y", comments="")
    assert cli(["fit", str(data), "-k", "2", "--bootstrap", str(REPLICATES), "--session", str(session), "--quiet"]) == 0
    doc = json.loads(session.read_text())
    doc["bootstrap"]["standard_errors"]["weights"] = [2 * v for v in doc["bootstrap"]["standard_errors"]["weights"]]
    session.write_text(json.dumps(doc))
    assert open_session(qtbot, window, session) == "converged"
    qtbot.waitUntil(lambda: window.uncertainty.result is not None, timeout=FIT_TIMEOUT_MS)
    message = window.statusBar().currentMessage()
    assert message.startswith(
        "session: reproduced the saved fit; its bootstrap's standard errors NOT (bootstrap standard errors of the "
        "weights differ by up to 0.5 relative): log-likelihood"
    )
