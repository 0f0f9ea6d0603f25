"""A file with a row that has no value in any fitted column (issue 25's missing values): the window refuses it in
one line as it opens (the file, the line, what to do), as `fit --missing em` does; it once asked whether to fit the
missing values by EM and refused only at Run, naming no file or line."""

from __future__ import annotations


def test_a_row_with_nothing_observed_is_one_line_at_open_and_the_data_stays(qtbot, window, tmp_path) -> None:
    window.data.show_demo()
    before = window.state.dataset
    path = tmp_path / "hole.csv"
    path.write_text("a,b\n1,2\n2,NA\n\n,\n3,4\n5,1\n4,4\n")
    window.data.open_path(str(path))
    qtbot.waitUntil(lambda: "no value in any fitted column" in window.messages.last_error, timeout=30_000)
    assert window.messages.last_error == (
        f"{path}: line 5 has no value in any fitted column ('a', 'b'): such a row tells nothing about the mixture: "
        "remove it, or choose other columns"
    )
    assert window.data.missing_question is None
    assert window.state.dataset is before
