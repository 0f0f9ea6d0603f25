"""The bootstrap of a fit with pinned parameters (--fix): every replicate holds the pinned values (to rounding: the
replicates run in the fit's working units, whose round trip leaves the last bit of a weight or a covariance entry;
measured 1 ulp), so their standard errors are nil, and the free parameters vary as in any bootstrap."""

from __future__ import annotations

import numpy as np
from data_sets import OLD_FAITHFUL

from engine import FitConfig, FixedParams, InitParams, load, run_to_end
from engine.selection.bootstrap import bootstrap


def test_pinned_values_stay_in_every_replicate() -> None:
    x = load(OLD_FAITHFUL, ["1", "2"]).points
    rough = run_to_end(x, FitConfig(n_components=3, max_iter=3))
    init = InitParams.from_arrays(rough.weights, rough.means, rough.covariances)
    pins = FixedParams(weights=(1,), means=(0,), covariances=(2,))
    cfg = FitConfig(n_components=3, init="params", init_params=init, fixed=pins, reg_covar=0.0, tol=1e-10)
    last = run_to_end(x, cfg)
    for kind in ("nonparametric", "parametric"):
        boot = bootstrap(x, (last.weights, last.means, last.covariances), cfg, 30, kind=kind, seed=1)
        assert boot.failed == 0
        assert np.array_equal(boot.means[:, 0], np.broadcast_to(last.means[0], boot.means[:, 0].shape)), kind
        np.testing.assert_allclose(boot.weights[:, 1], last.weights[1], rtol=1e-14, atol=0)
        np.testing.assert_allclose(boot.covariances[:, 2], np.broadcast_to(last.covariances[2], (30, 2, 2)), rtol=1e-14)
        se = boot.standard_errors()
        assert se["means"][0].max() <= 1e-12 * np.abs(last.means[0]).max()
        assert se["weights"][1] <= 1e-12 and se["covariances"][2].max() <= 1e-12 * np.abs(last.covariances[2]).max()
        assert se["means"][1:].min() > 1e-3 and se["weights"][0] > 1e-3 and se["covariances"][:2].min() > 1e-4
