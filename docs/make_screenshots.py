"""Make every picture under docs/ that the README and docs show, with `python3 main.py screenshot ...`.

    python3 docs/make_screenshots.py [--only NAME ...]

Each picture is the real window (offscreen Qt unless DISPLAY is set), saved after the fit the command asks for, so
the pictures follow the window as it is now. The data they need is made here in a temporary folder: the iris table
(from scikit-learn's bundled copy, with its `species` column, which the loader leaves out) and a file bigger than the
memory limit, read by chunks.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# name -> the screenshot command's arguments after OUT.png ({tmp}: the folder of the data made here)
SHOTS: dict[str, list[str]] = {
    "screenshot": ["--fit"],
    "gallery": ["--restarts", "100", "--fit", "--tab", "restarts"],
    "replay": ["--restarts", "5", "--fit", "--restart", "2", "--replay", "12"],
    "compare": ["--init", "forum", "--seed", "39", "--compare", "--tab", "compare"],
    "iris_pairs": ["--data", "{tmp}/iris.csv", "-k", "3", "--restarts", "5", "--fit", "--view", "pairs"],
    "iris_separating": ["--data", "{tmp}/iris.csv", "-k", "3", "--restarts", "5", "--fit", "--view", "separating"],
    "big_data": ["--data", "{tmp}/big.npy", "--memory-limit", "8M", "--fit", "--max-iter", "20"],
}


def write_iris(path: Path) -> None:
    """Iris as a CSV: 4 measured columns and the species (0, 1, 2), which the loader leaves out by default."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    names = [n.replace(" (cm)", "").replace(" ", "_") for n in iris.feature_names]
    table = np.column_stack([iris.data, iris.target])
    np.savetxt(path, table, delimiter=",", header=",".join([*names, "species"]), comments="", fmt="%g")


def write_big(path: Path) -> None:
    """2e6 forum-preset points as a .npy (32 MB, float64): bigger than the 8M memory limit, so read by chunks."""
    subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "generate", "--preset", "forum", "--n", "2000000", "-o", str(path)],
        check=True,
    )


def shoot(name: str, args: list[str], tmp: Path) -> None:
    """One picture: docs/NAME.png from `python3 main.py screenshot docs/NAME.png ARGS`."""
    out = DOCS / f"{name}.png"
    argv = [sys.executable, str(ROOT / "main.py"), "screenshot", str(out), *(a.format(tmp=tmp) for a in args)]
    print(" ".join(["python3", "main.py", "screenshot", f"docs/{name}.png", *args]), flush=True)
    subprocess.run(argv, check=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", choices=sorted(SHOTS), help="make only these pictures")
    args = p.parse_args()
    names = args.only or list(SHOTS)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if any("iris" in n for n in names):
            write_iris(tmp / "iris.csv")
        if "big_data" in names:
            write_big(tmp / "big.npy")
        for name in names:
            shoot(name, SHOTS[name], tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
