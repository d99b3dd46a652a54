"""Log-log and linear fits: exact on power laws and lines, standard errors, errors."""
import math

import pytest

from flowlab.measure import linear_fit, loglog_fit, loglog_slope


def test_loglog_slope_recovers_power_laws():
    dims = [2, 4, 8, 16]
    assert abs(loglog_slope(dims, [3e-3 * d for d in dims]) - 1) < 1e-12
    assert abs(loglog_slope(dims, [5e-4] * 4)) < 1e-12
    assert abs(loglog_slope(dims, [d ** -4 for d in dims]) + 4) < 1e-12


def test_standard_error_is_zero_on_exact_data_and_nan_for_two_points():
    slope, se = loglog_fit([1, 2, 4], [3, 6, 12])
    assert abs(slope - 1) < 1e-12 and se < 1e-12
    assert math.isnan(loglog_fit([1, 2], [1, 4])[1])
    slope, se = loglog_fit([1, 2, 4, 8], [1, 2.2, 3.9, 8.4])
    assert 0.9 < slope < 1.1 and 0 < se < 0.1


def test_linear_fit_on_a_line():
    slope, _ = linear_fit([0, 1, 2, 3], [1, 3, 5, 7])
    assert abs(slope - 2) < 1e-12


def test_errors():
    with pytest.raises(ValueError, match="at least two"):
        loglog_slope([2], [1.0])
    with pytest.raises(ValueError, match="positive"):
        loglog_slope([1, 2], [0, 1])
