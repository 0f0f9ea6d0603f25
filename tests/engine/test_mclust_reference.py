"""mclust's fourteen models against mclust itself (issue 24): on Old Faithful and iris (mclust_grid.CHECKED; diabetes,
wine and banknote are not yet), `select --covariance all -k 1-9` gives in every cell a BIC equal to mclust 6.0.0's
(within 0.01) or better,
the same best model by BIC and the same by ICL. Where ours is better, mclust confirms it (verified_better.csv:
export_ours.py wrote our responsibilities and parameters, verify_better.R gave them to mclust): mclust's own density
of our parameters gives our log-likelihood, and mclust's own EM started from our answer (`me(modelName, data, z)`)
stays there, or, for a few cells (VVE, EVE: mclust's M-step for a common orientation stops short of its optimum),
moves to a lower value that still beats mclust's own fit; our parameters there are of the model's form (its
projection leaves them where they are). The suite fits every K of Old Faithful and, for the larger data sets, the K
around mclust's best (mclust_grid.suite_ks; GMM_STUDIO_MCLUST_FULL=1 fits all nine). The numbers:
tests/data/mclust/ (make_reference.R, export_ours.py, verify_better.R; README.md there)."""

from __future__ import annotations

import csv
import functools

import pytest
from mclust_grid import CHECKED, MCLUST, SETTINGS, data, mclust_best, mclust_cells, our_grid, suite_ks

from engine.model.covariances import COVARIANCE_TYPES
from engine.selection.select import run_selection

BIC_TOLERANCE = 0.01  # the issue's
# mclust's EM from our responsibilities ends within this of our log-likelihood: it "stays there" (its tolerance, a
# relative change of 1e-5, lets it stop up to about 1e-5 * |log L| away)
STAYS = 0.04
# mclust's density and ours of the same parameters: equal to 1e-6 in 154 of 172 cells checked; 0.02 to 1.0 apart only
# where a component is nearly singular (iris at K = 8, 9: outside the suite's K)
DENSITY = 1e-3


@functools.cache
def _grid(name: str) -> dict:
    return our_grid(name, suite_ks(name))


def _verified() -> dict[tuple[str, str, int], dict[str, float | None]]:
    """(data set, model, K) -> mclust's BIC from our answer ('bic': where its EM went; None where it failed) and
    of our parameters by its own density ('ours_bic'), in mclust's sign."""
    with open(MCLUST / "verified_better.csv", newline="") as f:
        return {
            (r["dataset"], r["model"], int(r["k"])): {
                key: None if r[key] == "NA" else float(r[key]) for key in ("bic", "ours_bic")
            }
            for r in csv.DictReader(f)
        }


def _of_its_form(entry) -> bool:
    """Whether the fit's covariances are of its model's form: the model's projection leaves them in place."""
    import torch

    snap = entry.snapshot
    cov = torch.as_tensor(snap.covariances)
    projected = COVARIANCE_TYPES[entry.covariance_type].project(cov, torch.as_tensor(snap.weights))
    return bool(torch.allclose(projected, cov, rtol=1e-7, atol=1e-10 * float(cov.abs().max())))


def _confirmed(entry, mclust_bic: float, found: dict | None) -> bool:
    """A better cell is confirmed when mclust's density gives our BIC and its EM from our answer stays there, or
    leaves it for a value no lower than its own fit while our parameters are of the model's form."""
    ours = -entry.bic
    if found is None or found["ours_bic"] is None or abs(found["ours_bic"] - ours) > DENSITY:
        return False
    if found["bic"] is not None and abs(found["bic"] - ours) <= STAYS:
        return True
    return (found["bic"] is None or found["bic"] >= mclust_bic - BIC_TOLERANCE) and _of_its_form(entry)


@pytest.mark.parametrize("name", CHECKED)
def test_every_cell_has_mclusts_bic_or_a_better_one_mclust_confirms(name) -> None:
    ours, theirs, verified = _grid(name), mclust_cells(name), _verified()
    worse, unconfirmed = [], []
    for (model, k), ref in theirs.items():
        if ref["bic"] is None or (model, k) not in ours:
            continue  # mclust's fit failed there (a component too small for its covariance)
        entry = ours[model, k]
        assert entry.n_parameters == ref["n_parameters"], (model, k)
        if entry.bic is None or -entry.bic < ref["bic"] - BIC_TOLERANCE:
            worse.append((model, k, ref["bic"], None if entry.bic is None else -entry.bic))
        elif -entry.bic > ref["bic"] + BIC_TOLERANCE:
            found = verified.get((name, model, k))
            if not _confirmed(entry, ref["bic"], found):
                unconfirmed.append((model, k, -entry.bic, found))
    assert worse == [], f"{name}: cells below mclust's BIC (model, k, mclust, ours): {worse}"
    assert unconfirmed == [], (
        f"{name}: better cells mclust's me() did not confirm (ours, mclust from ours): {unconfirmed}"
    )


@pytest.mark.parametrize("name", CHECKED)
def test_the_best_models_by_bic_and_by_icl_are_mclusts(name) -> None:
    entries = list(_grid(name).values())
    best = mclust_best(name)
    for criterion in ("bic", "icl"):
        usable = [e for e in entries if not e.spurious and getattr(e, criterion) is not None]
        top = min(usable, key=lambda e: getattr(e, criterion))
        assert (top.model, top.k) == best[criterion], (name, criterion)


def test_a_restart_whose_iterative_m_step_cannot_be_computed_fails_alone() -> None:
    """iris, VEE, K = 6 and 8 with reg_covar 0: a component collapses and the eigendecomposition of its scatter
    failed, which stopped the whole selection; now that restart fails and the others give the cell its fit."""
    entries, _ = run_selection(data("iris"), [6, 8], ["VEE"], SETTINGS)
    assert all(e.log_likelihood is not None for e in entries)
