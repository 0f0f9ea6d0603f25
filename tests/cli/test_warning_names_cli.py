"""A fit's warnings name the fitted columns by the file's header (a new user read 'along x1' for the column
'count'): in memory and by chunks."""

from __future__ import annotations

import numpy as np
import pytest

from cli.main import main as cli


@pytest.mark.parametrize("more", [[], ["--memory-limit", "1K"]], ids=["memory", "chunks"])
def test_a_collapse_warning_names_its_column(tmp_path, capsys, more) -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    count = np.where(rng.random(300) < 0.05, 2, 1)  # mostly one repeated value: the components collapse onto it
    data = tmp_path / "counts.csv"
    data.write_text(
        "w,size,count\n" + "".join(f"1,{x!r},{c}\n" for x, c in zip(a.tolist(), count.tolist(), strict=True))
    )
    argv = ["fit", str(data), "--weights", "w", "-k", "2", "--seed", "0", "--quiet", "-o", str(tmp_path / "f.json")]
    assert cli([*argv, *more]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert warnings and all(" along count" in line and " along x" not in line for line in warnings), warnings
