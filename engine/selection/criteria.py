"""The criteria a selection ranks its fits by, all in scikit-learn's sign: lower is better.

bic = -2 log L + p log N (mclust reports -bic: larger is better there); icl = bic - 2 sum_i log max_k z_ik, the BIC
plus twice the entropy of the fit's hard classification (mclust's ICL, Biernacki, Celeux & Govaert 2000, as
mclust's icl() computes it, sign flipped); aic = -2 log L + 2 p. p: the model's free parameters, N: the points.
This module imports no torch: the command line's parser reads the names.
"""

from __future__ import annotations

CRITERIA = ("bic", "icl", "aic")
SIGN_CONVENTION = (
    "lower is better (scikit-learn's sign): bic = -2 log L + p log N = -(mclust's BIC); "
    "icl = bic - 2 sum_i log max_k z_ik = -(mclust's ICL); aic = -2 log L + 2 p"
)


def icl(bic: float, map_log_resp: float) -> float:
    """ICL from the BIC and sum_i log max_k z_ik (<= 0: the log-responsibility of each point's own component)."""
    return bic - 2.0 * map_log_resp
