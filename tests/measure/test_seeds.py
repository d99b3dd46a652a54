"""Per-seed statistics: mean and sd, Welch's interval for a difference of means, the one-sided bound."""
import math

import numpy as np
import pytest
from scipy import stats

from flowlab.measure import compare_seeds, mean_lower_bound, mean_sd


def test_welch_interval_matches_the_textbook_formula():
    a, b = [1.0, 1.2, 0.8, 1.1], [2.0, 2.5, 1.5]
    c = compare_seeds(a, b)
    va, vb = np.var(a, ddof=1) / 4, np.var(b, ddof=1) / 3
    df = (va + vb) ** 2 / (va ** 2 / 3 + vb ** 2 / 2)
    assert c.delta == pytest.approx(np.mean(a) - np.mean(b)) and c.df == pytest.approx(df)
    low, high = c.interval(0.05)
    half = stats.t.isf(0.05, df) * math.sqrt(va + vb)
    assert (low, high) == (pytest.approx(c.delta - half), pytest.approx(c.delta + half))


def test_against_a_fixed_number_is_the_one_sample_interval():
    c = compare_seeds([1.0, 1.1, 0.9], 0.5)
    assert c.n_b == 0 and c.df == 2 and c.se == pytest.approx(0.1 / math.sqrt(3))
    assert c.interval(0.01)[0] == pytest.approx(mean_lower_bound([1.0, 1.1, 0.9], 0.01) - 0.5)
    with pytest.raises(ValueError, match="finite"):
        compare_seeds([1.0, 2.0], float("inf"))


def test_mean_sd_and_errors():
    assert mean_sd([1.0, 3.0]) == (2.0, pytest.approx(2 ** 0.5))
    with pytest.raises(ValueError, match="at least 2 seeds"):
        mean_sd([1.0])
    with pytest.raises(ValueError, match="finite"):
        compare_seeds([1.0, float("nan")], [1.0, 2.0])


def test_mean_lower_bound_is_a_one_sided_t_test_at_its_nominal_rate():
    """Simulated over many null experiments (true mean 0, 3 Gaussian runs), "bound > 0" passes at
    the nominal alpha; the 3-s.e. rule it replaced passes ~4.8% (Student's t with 2 degrees of freedom)."""
    rng = np.random.default_rng(20261201)
    trials, alpha = 4000, 0.01
    runs = rng.standard_normal((trials, 3))
    passes = sum(mean_lower_bound(r.tolist(), alpha) > 0 for r in runs)
    lo, hi = stats.binom.ppf([0.0005, 0.9995], trials, alpha)  # a correct bound fails this 0.1% of the time
    assert lo <= passes <= hi, (passes, lo, hi)
    three_se = (runs.mean(1) - 3 * runs.std(1, ddof=1) / np.sqrt(3) > 0).sum()
    assert three_se > hi  # the old rule's rate is well above 1%
    assert mean_lower_bound([1.0, 1.1, 0.9]) == pytest.approx(1.0 - stats.t.isf(0.01, 2) * 0.1 / 3 ** 0.5)
