"""mclust's fourteen models against mclust itself (issue 24): on Old Faithful, iris, diabetes, banknote and wine
(mclust_grid.CHECKED), `select --covariance all -k 1-9` gives in every cell a BIC equal to mclust 6.0.0's (within
0.01) or better, the same best model by BIC and the same by ICL, except on wine, where ours (VVE,4 at the suite's K,
VVE,5 over all nine) is a better optimum than mclust's best (VVE,3) that mclust confirms (mclust_grid.BETTER_BEST).
Where ours is better, mclust confirms it (verified_better.csv: export_ours.py wrote our responsibilities and
parameters, verify_better.R gave them to mclust): mclust's own density
of our parameters gives our log-likelihood, and mclust's own EM started from our answer (`me(modelName, data, z)`)
stays there, or, for a few cells (VVE, EVE: mclust's M-step for a common orientation stops short of its optimum),
moves to a lower value that still beats mclust's own fit or moves because mclust's M-step from our responsibilities
falls short of our parameters (every VVE cell: MSTEP_SHORT); our parameters there are of the model's form (its
projection leaves them where they are). The suite fits every K of Old Faithful and, for the larger data sets, the K
around mclust's best (mclust_grid.suite_ks; GMM_STUDIO_MCLUST_FULL=1 fits all nine), and the cells a few points in
a component had moved (mclust_grid.EXTRA_CELLS: EEV's free orientation, a variance of rounding alone). The numbers:
tests/data/mclust/ (make_reference.R, export_ours.py, verify_better.R; README.md there)."""

from __future__ import annotations

import csv
import functools
from dataclasses import replace

import numpy as np
import pytest
import torch
from mclust_grid import (
    BETTER_BEST,
    CHECKED,
    EXTRA_CELLS,
    MCLUST,
    SETTINGS,
    data,
    every_k,
    mclust_best,
    mclust_cells,
    our_grid,
    suite_ks,
)

from engine.inference.fitting import fit
from engine.model import gaussian
from engine.model.covariances import COVARIANCE_TYPES
from engine.model.features import quadratic_features
from engine.selection.select import run_selection

BIC_TOLERANCE = 0.01  # the issue's
# mclust's EM from our responsibilities ends within this of our log-likelihood: it "stays there" (its tolerance, a
# relative change of 1e-5, lets it stop up to about 1e-5 * |log L| away)
STAYS = 0.04
# mclust's M-step from our responsibilities falls short of our parameters' expected complete-data log-likelihood by
# more than this: it does not maximise there, and its EM from our answer is no referee. Measured (verified_better.csv,
# ours_q - mstep_q): 0.45 to 7.1 in every VVE cell of diabetes, wine and banknote (mclust's mevve turns the common
# orientation without the volumes: its MM steps weigh W_k by A_k^-1, not (lambda_k A_k)^-1); at most 0.0075
# elsewhere (wine's EVE, mclust's inner tolerance), 1e-8 in the rest
MSTEP_SHORT = 0.1
# mclust's density and ours of the same parameters: equal to 1e-6 in 154 of 172 cells checked; 0.02 to 1.0 apart only
# where a component is nearly singular (iris at K = 8, 9: outside the suite's K)
DENSITY = 1e-3


@functools.cache
def _grid(name: str) -> dict:
    return our_grid(name, suite_ks(name))


def _verified() -> dict[tuple[str, str, int], dict[str, float | None]]:
    """(data set, model, K) -> mclust's BIC from our answer ('bic': where its EM went; None where it failed) and
    of our parameters by its own density ('ours_bic'), in mclust's sign; the expected complete-data log-likelihood
    at our responsibilities of our parameters ('ours_q') and of mclust's M-step from them ('mstep_q'; both None in
    the rows written before they were)."""
    keys = ("bic", "ours_bic", "ours_q", "mstep_q")
    with open(MCLUST / "verified_better.csv", newline="") as f:
        return {
            (r["dataset"], r["model"], int(r["k"])): {key: None if r[key] == "NA" else float(r[key]) for key in keys}
            for r in csv.DictReader(f)
        }


def _of_its_form(entry) -> bool:
    """Whether the fit's covariances are of its model's form: the model's projection leaves them in place."""
    snap = entry.snapshot
    cov = torch.as_tensor(snap.covariances)
    projected = COVARIANCE_TYPES[entry.covariance_type].project(cov, torch.as_tensor(snap.weights))
    return bool(torch.allclose(projected, cov, rtol=1e-7, atol=1e-10 * float(cov.abs().max())))


def _confirmed(entry, mclust_bic: float, found: dict | None) -> bool:
    """A better cell is confirmed when mclust's density gives our BIC and its EM from our answer stays there, or,
    our parameters being of the model's form, leaves it for a value no lower than its own fit, or leaves it because
    mclust's M-step falls short at our responsibilities (MSTEP_SHORT). Our log-likelihood by mclust's density, of
    parameters of the model's form, is then one the model reaches: its maximum is no lower."""
    ours = -entry.bic
    if found is None or found["ours_bic"] is None or abs(found["ours_bic"] - ours) > DENSITY:
        return False
    if found["bic"] is not None and abs(found["bic"] - ours) <= STAYS:
        return True
    short = found["mstep_q"] is not None and found["ours_q"] - found["mstep_q"] > MSTEP_SHORT
    no_lower = found["bic"] is None or found["bic"] >= mclust_bic - BIC_TOLERANCE
    return (no_lower or short) and _of_its_form(entry)


def _check_cells(name: str, ours: dict) -> None:
    """Every cell of ours ((model, K) -> entry) has mclust's BIC (within BIC_TOLERANCE) or a better one mclust
    confirms (_confirmed), and mclust's parameter count."""
    theirs, verified = mclust_cells(name), _verified()
    worse, unconfirmed = [], []
    for (model, k), entry in ours.items():
        ref = theirs[model, k]
        if ref["bic"] is None:
            continue  # mclust's fit failed there (a component too small for its covariance)
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
def test_every_cell_has_mclusts_bic_or_a_better_one_mclust_confirms(name) -> None:
    _check_cells(name, _grid(name))


@pytest.mark.parametrize(("name", "model", "ks"), EXTRA_CELLS)
def test_the_cells_a_free_orientation_or_a_one_point_component_moved(name, model, ks) -> None:
    """Outside the suite's K (mclust_grid.EXTRA_CELLS): wine's EEV at K = 7..9 was 50-104 below mclust's BIC (a
    component on 3 points in 13-D kept eigh's rounding for the orientation of its null space; mclust's QR of the
    weighted data let the component grow to 7 points); diabetes' VII at K = 7..9 and VVI at 7, banknote's VII at 9
    were 30-290 above it on a component of one point whose variance was rounding (mclust's EM from there stops with
    NA). Now each has mclust's BIC or a better one that mclust confirms."""
    _check_cells(name, our_grid(name, list(ks), [model]))
    if model == "EEV":  # better than mclust's own fit, by mclust's density of our parameters (verified_better.csv)
        assert all(_verified()[name, model, k]["ours_bic"] > mclust_cells(name)[model, k]["bic"] for k in ks)


def test_eev_null_space_is_the_limit_of_responsibilities_on_every_point() -> None:
    """EEV's M-step for a component on 3 points in 5-D (its scatter has a 3-D null space, where the maximum is not
    unique): our covariances equal the unique maximum from responsibilities z + e (e = 1e-9 on every point),
    computed from the data by NumPy's SVD of sqrt(z + e)(x - mu_k), to 1e-6 of the largest entry (measured 1.1e-8,
    and 1.1e-6 at e = 1e-7, 1.1e-10 at 1e-11: the limit e -> 0; eigh's rounding in the null space had them 0.14
    apart)."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40, 5)) * [3.0, 2.0, 1.5, 1.0, 0.5]
    x -= x.mean(0)  # the working units centre the data
    z = np.zeros((40, 2))
    z[:3, 0], z[3:, 1] = 1.0, 1.0
    t = torch.as_tensor
    nk, mu = z.sum(0), z.T @ x / z.sum(0)[:, None]
    second = np.einsum("nk,ni,nj->kij", z, x, x)
    ours = COVARIANCE_TYPES["EEV"].update(t(second), t(nk), t(mu[:, :, None] * mu[:, None, :])).numpy()
    ze = z + 1e-9
    mue = ze.T @ x / ze.sum(0)[:, None]
    svd = [np.linalg.svd(np.sqrt(ze[:, k, None]) * (x - mue[k]), full_matrices=False) for k in range(2)]
    shape = sum(s**2 for _u, s, _v in svd) / ze.sum()
    reference = np.stack([(v.T * shape) @ v for _u, _s, v in svd])
    assert np.abs(ours - reference).max() <= 1e-6 * np.abs(reference).max()


@pytest.mark.parametrize("name", CHECKED)
def test_the_best_models_by_bic_and_by_icl_are_mclusts(name) -> None:
    """mclust's best model by BIC and by ICL; or, where BETTER_BEST names ours, a better one that mclust confirms:
    its density of our parameters gives our BIC, and its EM from our answer ends above its own best."""
    entries = list(_grid(name).values())
    best = mclust_best(name)
    for criterion in ("bic", "icl"):
        usable = [e for e in entries if not e.spurious and getattr(e, criterion) is not None]
        top = min(usable, key=lambda e: getattr(e, criterion))
        if name not in BETTER_BEST:
            assert (top.model, top.k) == best[criterion], (name, criterion)
            continue
        assert (top.model, top.k) == BETTER_BEST[name][every_k()], (name, criterion)
        theirs = mclust_cells(name)[best["bic"]]["bic"]
        found = _verified()[(name, top.model, top.k)]
        assert found["ours_bic"] == pytest.approx(-top.bic, abs=DENSITY)
        assert found["bic"] > theirs + BIC_TOLERANCE and -top.bic > theirs + BIC_TOLERANCE


def test_a_restart_whose_iterative_m_step_cannot_be_computed_fails_alone() -> None:
    """iris, VEE, K = 6 and 8 with reg_covar 0: a component collapses and the eigendecomposition of its scatter
    failed, which stopped the whole selection; now that restart fails and the others give the cell its fit."""
    entries, _ = run_selection(data("iris"), [6, 8], ["VEE"], SETTINGS)
    assert all(e.log_likelihood is not None for e in entries)


def _two_point_statistics(reg_value: float) -> tuple[torch.Tensor, torch.Tensor]:
    """S (1, 2, P) of a 3-D mixture: component 0 holds two points exactly (a scatter of rank 1), component 1 thirty
    random ones; and reg (D,) = reg_value."""
    rng = np.random.default_rng(4)
    x = torch.as_tensor(rng.normal(size=(32, 3)) * [1.0, 2.0, 0.5])
    resp = torch.zeros(32, 2, dtype=torch.float64)
    resp[:2, 0], resp[2:, 1] = 1.0, 1.0
    return (resp.T @ quadratic_features(x))[None], torch.full((3,), reg_value, dtype=torch.float64)


@pytest.mark.parametrize("model", ["EVE", "VVE"])
def test_a_component_on_too_few_points_fails_its_m_step_as_mclusts_does(model) -> None:
    """mclust's EM for EVE and VVE stops with NA when a component's weighted scatter has an eigenvalue below
    sqrt(eps) (mclustaddson.f, meeve and mevve), as on a component of two points in 3-D: our M-step gives that
    component NaN (its restart then fails) and the other one a covariance; with a reg_covar floor in the scatter the
    component is regular and the M-step answers; the model's projection of the answer stays finite."""
    stats, reg = _two_point_statistics(0.0)
    cov = gaussian.m_step(stats, 32, model, reg)[2]
    assert bool(cov[0, 0].isnan().all()) and bool(torch.isfinite(cov[0, 1]).all())
    floored = gaussian.m_step(stats, 32, model, torch.full((3,), 1e-3, dtype=torch.float64))[2]
    assert bool(torch.isfinite(floored).all())
    projected = COVARIANCE_TYPES[model].project(floored, torch.tensor([[2 / 32, 30 / 32]], dtype=torch.float64))
    assert bool(torch.isfinite(projected).all())


def test_diabetes_vve_4_the_restart_with_a_two_point_component_fails_as_in_mclust() -> None:
    """diabetes, VVE, K = 4, reg_covar 0: the k-means++ restart 3 puts two points in a component from its first
    iteration; mclust's `me("VVE", diabetes, z)` from that restart's responsibilities (after 1, 3, 6, 9, 12 or 20 of
    our iterations) returns NA, "singular covariance". Ours stops it so too (it crept on for 5000 iterations, the
    orientation turning toward the two points: 0.2 s an iteration, log-likelihood -2291.8, a spurious best), and the
    fit is the hc start's, -2309.8178 (mclust's own: -2321.653)."""
    cfg = replace(SETTINGS, n_components=4, covariance_type="VVE", max_iter=60)
    *_, snap = fit(data("diabetes"), cfg, None, every=False)
    assert any(w.startswith("restart 3 stopped") for w in snap.warnings), snap.warnings
    assert snap.restart != 3
    assert snap.log_likelihood == pytest.approx(-2309.8178, abs=1e-3)
