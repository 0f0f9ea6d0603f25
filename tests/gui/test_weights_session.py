"""A session fitted with frequency weights (`fit --weights`, issue 25) on data read by chunks opened in the window,
which fits weights on data in memory only: it says so and how to replay it, rather than fitting the points
unweighted (another fit). (A weighted session of data in memory opens and reproduces: test_weights_window.py.) The
same for missing values (`fit --missing em`) read by chunks."""

from __future__ import annotations

import numpy as np

from cli.main import main as cli


def test_a_weighted_session_read_by_chunks_is_refused_with_the_way_to_replay_it(window, tmp_path) -> None:
    data, session = tmp_path / "xw.csv", tmp_path / "w.gmmsession"
    rng = np.random.default_rng(0)
    np.savetxt(data, np.column_stack([rng.normal(size=(300, 2)), rng.integers(1, 3, 300)]), delimiter=",",
               header="x,y,w", comments="")  # fmt: skip
    args = ["fit", str(data), "--weights", "w", "-k", "1", "--session", str(session), "--quiet", "--memory-limit", "4k"]
    assert cli(args) == 0
    window.sessions.open(str(session))
    assert "fitted with frequency weights (column 2 of its file) on data read by chunks" in window.messages.last_error
    assert f"main.py replay {session}" in window.messages.last_error
    assert window.state.dataset is None or len(window.state.dataset.points) != 300


def test_a_session_with_missing_values_read_by_chunks_is_refused_with_the_way_to_replay_it(window, tmp_path) -> None:
    data, session = tmp_path / "holes.csv", tmp_path / "m.gmmsession"
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2))
    x[::7, 1] = np.nan
    data.write_text(
        "x,y\n" + "\n".join(",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in x) + "\n"
    )
    args = ["fit", str(data), *"--missing em -k 1 --quiet --memory-limit 4k --session".split(), str(session)]
    assert cli(args) == 0
    window.sessions.open(str(session))
    assert "fitted with missing values on data read by chunks" in window.messages.last_error
    assert f"main.py replay {session}" in window.messages.last_error
