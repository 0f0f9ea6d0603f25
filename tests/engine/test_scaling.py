"""scaling.column_moments over the whole double range, against moments computed exactly with fractions."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import engine.model.scaling as scaling


def _exact(column: np.ndarray) -> tuple[float, float]:
    """Mean and population standard deviation of a column, with exact rational arithmetic (the square root last)."""
    values = [Fraction(float(v)) for v in column]
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / len(values)
    # the square root of a fraction, rounded once, without passing through an over- or underflowing float
    shift = (var.numerator.bit_length() - var.denominator.bit_length()) // 2 if var else 0
    scaled = var / Fraction(4) ** shift
    return float(mean), float(np.sqrt(float(scaled))) * 2.0**shift if var else 0.0


def _columns() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.normal(size=300)
    return {
        "ordinary": base * 3 + 1,
        "tiny spread": 1e-200 * base,  # squared deviations below the normal range
        "tiny about zero": np.where(base > 0, 1e-200, -1e-200),  # mean 0 and, computed plainly, spread 0
        "tiny offset": 1e-120 * (5 + base),
        "huge": 1e200 * (1 + 0.1 * base),  # squares overflow
        "near the largest": 1e307 * (1 + 0.1 * base),  # sums overflow
        "constant": np.full(300, 7.25),
        "zeros": np.zeros(300),
        "subnormal": 1e-320 * np.round(base * 4),
    }


@pytest.mark.parametrize("name", list(_columns()))
def test_moments_are_exact_to_rounding_over_the_whole_range(name: str) -> None:
    column = _columns()[name]
    mean, std = scaling.column_moments(np.stack([column, np.arange(300.0)], axis=1))
    want_mean, want_std = _exact(column)
    # measured: at most 3e-15 relative here; subnormal numbers keep fewer bits, so they are held to their spacing
    atol = 1e-323 if name == "subnormal" else 0.0
    np.testing.assert_allclose(mean[0], want_mean, rtol=1e-13, atol=atol)
    np.testing.assert_allclose(std[0], want_std, rtol=1e-13, atol=atol)


def test_ordinary_data_takes_one_pass_less(monkeypatch) -> None:
    """Moments that cannot have over- or underflowed are returned as computed, without the columns' peaks."""

    def refuse(x):
        raise AssertionError("the peaks were computed")

    monkeypatch.setattr(scaling, "column_peaks", refuse)
    cols = _columns()
    x = np.stack([cols["ordinary"], 1e-90 * cols["ordinary"], 1e90 * cols["ordinary"], cols["constant"]], axis=1)
    mean, std = scaling.column_moments(x)
    np.testing.assert_allclose(std, x.std(0), rtol=1e-13)
    with pytest.raises(AssertionError, match="peaks"):  # and a column that may have lost bits does ask for them
        scaling.column_moments(np.stack([cols["ordinary"], cols["tiny spread"]], axis=1))


def test_a_nan_or_an_infinity_leaves_its_column_not_finite() -> None:
    x = np.random.default_rng(1).normal(size=(50, 3))
    x[7, 1] = np.inf
    x[9, 2] = np.nan
    mean, std = scaling.column_moments(x)
    assert np.isfinite(mean[0]) and np.isfinite(std[0])
    assert not np.isfinite(std[1]) and not np.isfinite(mean[2]) and not np.isfinite(std[2])
