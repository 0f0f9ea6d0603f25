"""Where our grid beats mclust's BIC by more than 0.01, mclust must confirm it: this writes, for each such cell, the
responsibilities of our fit (z/DATASET_MODEL_K.csv, N x K) and its parameters (z/DATASET_MODEL_K.params), which
verify_better.R hands to mclust: its own EM started from our answer (`me(modelName, data, z)`; if it stays there,
ours is a better optimum that mclust's start missed), and its density of our parameters (`dens`: the log-likelihood
is true). Run from the repository root, then the R script:

    .venv/bin/python tests/data/mclust/export_ours.py [DATASET[:MODEL[,MODEL...]:K[,K...]] ...]
    Rscript tests/data/mclust/verify_better.R

It also names any cell below mclust's BIC (there should be none). A data set alone fits the fourteen models at the
K the test suite fits (mclust_grid.suite_ks; every K with GMM_STUDIO_MCLUST_FULL=1) and replaces all its files in
z/; DATASET:MODELS:KS fits those cells only (wine:EEV:7,8,9) and replaces their files alone.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from mclust_grid import DATA_SETS, MCLUST, data, mclust_cells, our_grid, suite_ks  # noqa: E402

from engine.model.predict import responsibilities  # noqa: E402

TOLERANCE = 0.01  # BIC: the bound


def cells(spec: str) -> tuple[str, list[str] | None, list[int]]:
    """DATASET or DATASET:MODEL[,MODEL...]:K[,K...] -> (data set, models or None for all, K)."""
    name, *rest = spec.split(":")
    if not rest:
        return name, None, suite_ks(name)
    models, ks = rest
    return name, models.upper().split(","), [int(k) for k in ks.split(",")]


def stale(folder: Path, name: str, models: list[str] | None, ks: list[int]) -> list[Path]:
    """The files of z/ that this run replaces: the data set's, or only its cells named."""
    if models is None:
        return list(folder.glob(f"{name}_*"))
    return [f for m in models for k in ks for f in folder.glob(f"{name}_{m}_{k}.*")]


def main() -> None:
    folder = MCLUST / "z"
    folder.mkdir(exist_ok=True)
    for name, models, ks in (cells(spec) for spec in sys.argv[1:] or DATA_SETS):
        for old in stale(folder, name, models, ks):
            old.unlink()
        started = time.perf_counter()
        x, theirs, ours = data(name), mclust_cells(name), our_grid(name, ks, models)
        for (model, k), entry in sorted(ours.items()):
            ref = theirs[model, k]["bic"]
            if ref is not None and (entry.bic is None or -entry.bic < ref - TOLERANCE):
                print(f"{name} {model},{k}: ours {None if entry.bic is None else -entry.bic} < mclust {ref:.4f}")
            if entry.bic is None or ref is None or -entry.bic <= ref + TOLERANCE:
                continue
            s = entry.snapshot
            z = responsibilities(x, s.weights, s.means, s.covariances)
            np.savetxt(folder / f"{name}_{model}_{k}.csv", z, delimiter=",", fmt="%.17g")
            # the parameters too, one row a component: weight, mean (D), covariance (D x D, row by row)
            rows = np.column_stack([s.weights, s.means, s.covariances.reshape(k, -1)])
            np.savetxt(folder / f"{name}_{model}_{k}.params", rows, delimiter=",", fmt="%.17g")
            print(f"{name} {model},{k}: ours {-entry.bic:.4f} > mclust {ref:.4f}")
        print(f"{name}: {models or 'all models'}, K {ks}, {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
