"""`--help` and a mistake the parser refuses answer without importing torch (seconds on a busy machine: 1.5-2.3 s
against 0.15-0.23 s measured for `python3 main.py --help`): the commands' modules are imported when one runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import sys
from cli.main import main
code = main(sys.argv[1:])
print(code, "torch" in sys.modules)
"""


@pytest.mark.parametrize(
    ("argv", "code"),
    [(["--help"], 0), (["fit", "--help"], 0), (["select", "--help"], 0), (["fit"], 2), (["fit", "x.csv", "-k"], 2)],
)
def test_help_and_parser_mistakes_do_not_import_torch(argv: list[str], code: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.splitlines()[-1] == f"{code} False", done.stderr


def test_a_command_still_runs_after_the_parser(tmp_path: Path) -> None:
    from cli.main import main

    out = tmp_path / "g.csv"
    assert main(["generate", "--preset", "forum", "--n", "20", "--seed", "1", "-o", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 21  # a header and 20 points
