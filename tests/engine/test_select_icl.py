"""ICL beside BIC and AIC: its classification term against scikit-learn's responsibilities and mclust's icl(), one
more pass over data read by chunks, and the criterion that picks the best fit."""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from engine import FitConfig
from engine.inference.grid import Streamed
from engine.inference.sources import local_pass
from engine.io.npy import NpySource
from engine.io.stream import survey
from engine.selection.icl import map_log_responsibilities
from engine.selection.select import best_entry, run_selection, select_models


def _params(weights, means, covariances) -> SimpleNamespace:
    """What the ICL pass reads from a snapshot: weights (K,), means (K, D), covariances (K, D, D), data units."""
    return SimpleNamespace(weights=np.asarray(weights), means=np.asarray(means), covariances=np.asarray(covariances))


def _random_fit(rng: np.random.Generator, k: int, d: int, offset: float) -> SimpleNamespace:
    a = rng.normal(size=(k, d, d))
    return _params(rng.dirichlet(np.ones(k)), rng.normal(offset, 3.0, (k, d)), a @ a.transpose(0, 2, 1) + np.eye(d))


def _sklearn_terms(x: np.ndarray, fit: SimpleNamespace) -> tuple[float, float]:
    """sum_i log max_k z_ik and the log-likelihood by scikit-learn's predict_proba and score at fit's parameters."""
    gm = GaussianMixture(len(fit.weights), covariance_type="full")
    gm.weights_, gm.means_, gm.covariances_ = fit.weights, fit.means, fit.covariances
    gm.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(fit.covariances))
    return float(np.log(gm.predict_proba(x).max(1)).sum()), float(gm.score(x) * len(x))


def test_the_classification_term_is_scikit_learns_at_the_same_parameters() -> None:
    """Fits of K = 1..4 (padded to 4 in one pass) in 3-D, data far from the origin and in large units: the
    standardised pass gives scikit-learn's sum of log max_k z_ik and log-likelihood (measured: 1e-13 relative)."""
    rng = np.random.default_rng(5)
    x = rng.normal(1e4, 50.0, size=(700, 3))
    fits = [_random_fit(rng, k, 3, 1e4) for k in (1, 2, 3, 4)]
    for f in fits:
        f.covariances *= 400.0
    terms, lls = map_log_responsibilities(x, fits)
    for fit, term, ll in zip(fits, terms, lls, strict=True):
        ref_term, ref_ll = _sklearn_terms(x, fit)
        assert term == pytest.approx(ref_term, rel=1e-10, abs=1e-9)
        assert ll == pytest.approx(ref_ll, rel=1e-12)
    assert terms[0] == 0.0  # one component: every z is 1
    assert (terms[1:] < 0).all()


# mclust 6.0.0's fits of Old Faithful, printed with full precision by
#   Rscript -e 'library(mclust); options(digits=17); m <- Mclust(faithful, G=2, modelNames="VVV");
#     cat(m$loglik, m$bic, icl(m), m$parameters$pro, t(m$parameters$mean), m$parameters$variance$sigma)'
# (and G=3, modelNames="EEE"): mclust's sign, larger is better. mclust's loglik and z (so its icl) come from its
# last E-step, one M-step before the parameters it returns: where it stopped short of convergence (EEE, 3: its
# relative tolerance 1e-5) the log-likelihood at those parameters differs by 0.0043 and the ICL by 0.065 (measured
# below); VVV, 2 converged, and agrees to 3e-12. tol: (log-likelihood, BIC, ICL).
MCLUST_FAITHFUL = {
    ("VVV", 2): dict(
        loglik=-1130.26406828685,
        bic=-2322.1919593029561,
        icl=-2322.6974673271739,
        n_parameters=11,
        tol=(1e-6, 1e-5, 1e-5),
        pro=[0.64407178902967777, 0.35592821097032212],
        mean=[[4.2897810091135176, 79.969549154706314], [2.0365234808837758, 54.479885645192034]],
        sigma=[
            [[0.16981756291334979, 0.93869749317369999], [0.93869749317369999, 36.024796387746918]],
            [[0.069275208833107393, 0.43630011058874696], [0.43630011058874696, 33.705153243062256]],
        ],
    ),
    ("EEE", 3): dict(
        loglik=-1126.3262364682603,
        bic=-2314.3162956657766,
        icl=-2357.824248954817,
        n_parameters=11,
        tol=(0.005, 0.01, 0.07),
        pro=[0.16567839905644066, 0.35636962651330778, 0.47795197443025117],
        mean=[
            [3.7930655292303186, 77.521051332351348],
            [2.0375963146129594, 54.491157600821957],
            [4.4632447198396026, 80.833438776323248],
        ],
        sigma=[[[0.078254480991346784, 0.4801978534671843], [0.4801978534671843, 33.767146396097132]]] * 3,
    ),
}


@pytest.mark.parametrize("model", sorted(MCLUST_FAITHFUL))
def test_icl_at_mclusts_parameters_is_mclusts_icl(faithful, model) -> None:
    ref = MCLUST_FAITHFUL[model]
    fit = _params(ref["pro"], ref["mean"], ref["sigma"])
    (term,), (ll,) = map_log_responsibilities(faithful, [fit])
    tol_ll, tol_bic, tol_icl = ref["tol"]
    assert ll == pytest.approx(ref["loglik"], abs=tol_ll)
    bic = -2.0 * ll + ref["n_parameters"] * math.log(len(faithful))
    assert bic == pytest.approx(-ref["bic"], abs=tol_bic)
    assert bic - 2.0 * term == pytest.approx(-ref["icl"], abs=tol_icl)


def test_the_criterion_picks_the_best_and_icl_is_the_grids_own(faithful) -> None:
    """Old Faithful, VVV and EEE, K = 1..3: BIC picks EEE,3 and ICL VVV,2, as mclust does over the same grid
    (mclust's ICL of VVV,2: 2322.6975 in our sign; ours 2322.7046, our EM converged further: log L higher by 1e-4);
    each entry's ICL is its BIC less twice the term at its own parameters; K = 1 classifies nothing: ICL = BIC."""
    entries, by_bic = run_selection(
        faithful, [1, 2, 3], ["VVV", "eee"], FitConfig(reg_covar=0.0, restarts=10, tol=1e-8)
    )
    assert [(e.model, e.covariance_type) for e in entries[:2]] == [("VVV", "full"), ("EEE", "tied")]
    assert (by_bic.k, by_bic.model) == (3, "EEE")
    by_icl = best_entry(entries, "icl")
    assert (by_icl.k, by_icl.model) == (2, "VVV")
    assert by_icl.icl == pytest.approx(2322.6975, abs=0.02)
    assert (best_entry(entries, "aic").k, best_entry(entries, "aic").model) == (3, "VVV")
    terms, _ = map_log_responsibilities(faithful, [e.snapshot for e in entries])
    for e, term in zip(entries, terms, strict=True):
        assert e.icl == e.bic - 2.0 * term
        # mclust's nMclustParams in 2-D: VVV 6K - 1 (11 at K = 2), EEE 3K + 2 (11 at K = 3)
        assert e.n_parameters == (6 * e.k - 1 if e.model == "VVV" else 3 * e.k + 2)
    assert [e.icl for e in entries if e.k == 1] == [e.bic for e in entries if e.k == 1]


def test_data_read_by_chunks_gets_the_same_icl_in_one_more_pass(tmp_path) -> None:
    """The grid over a .npy file read by chunks of 300 rows (its E-steps and the ICL's pass) gives the ICL the
    same fits give in memory (measured: equal to 1e-12 relative: the sums' order differs)."""
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(0, 1, (500, 2)), rng.normal(4, 0.7, (400, 2))])
    np.save(tmp_path / "x.npy", x)
    source = NpySource(tmp_path / "x.npy")
    streamed = Streamed(source, survey(source, 300, len(x), 0), functools.partial(local_pass, source, 300))
    base = FitConfig(restarts=2, seed=1)
    passes = []
    counted = functools.partial(_counted, streamed.run_pass, passes)
    by_chunks = list(select_models(Streamed(source, streamed.survey, counted), [1, 2, 3], ["full", "diag"], base))
    in_memory = list(select_models(x, [1, 2, 3], ["full", "diag"], base))
    assert passes.count(True) == 1  # one classifying pass for the whole grid
    for a, b in zip(by_chunks, in_memory, strict=True):
        assert a.icl == pytest.approx(b.icl, rel=1e-10)
        assert a.icl > a.bic or a.k == 1


def _counted(run_pass, passes: list, plan, cancel=None):
    passes.append(plan.classify)
    return run_pass(plan, cancel)


def test_a_fit_whose_covariance_is_not_positive_definite_gets_no_icl_and_the_others_do(faithful) -> None:
    good = _params([0.5, 0.5], [[2.0, 55.0], [4.3, 80.0]], [np.diag([0.1, 30.0]), np.diag([0.2, 35.0])])
    bad = _params([0.5, 0.5], [[2.0, 55.0], [4.3, 80.0]], [np.diag([0.1, 30.0]), np.diag([0.2, -1.0])])
    terms, lls = map_log_responsibilities(faithful, [good, bad])
    assert np.isfinite(terms[0]) and np.isnan(terms[1]) and np.isnan(lls[1])
    assert terms[0] == pytest.approx(_sklearn_terms(faithful, good)[0], rel=1e-10)
