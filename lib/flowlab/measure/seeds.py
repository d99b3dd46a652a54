r"""Per-seed results of two methods (lower is better: NLL, bits/dim, KL) and the interval for their difference.

Runs of A and B over independent seeds give means :math:`\bar a, \bar b`, sample standard deviations
:math:`s_a, s_b` and counts :math:`n_a, n_b`. The difference of means :math:`\Delta = \bar a - \bar b`
has standard error :math:`\mathrm{se} = \sqrt{s_a^2/n_a + s_b^2/n_b}` and, by Welch and Satterthwaite,
approximately a Student t law with

.. math:: \nu = \frac{\mathrm{se}^4}{\frac{(s_a^2/n_a)^2}{n_a - 1} + \frac{(s_b^2/n_b)^2}{n_b - 1}}

degrees of freedom. ``B`` may also be a fixed number (a true entropy, a published value): then the
comparison is the one-sample one, :math:`\mathrm{se} = s_a/\sqrt{n_a}` and :math:`\nu = n_a - 1`.
The decision that uses these intervals is :mod:`flowlab.measure.orders`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Sequence

from flowlab.validate import Fraction, check_array, check_number, checked


@dataclass(frozen=True)
class SeedComparison:
    a_mean: float
    a_sd: float
    b_mean: float
    b_sd: float
    n_a: int
    n_b: int  # 0 when B is a fixed number

    @property
    def delta(self) -> float:
        """mean(A) - mean(B): negative when A is lower (better)."""
        return self.a_mean - self.b_mean

    @property
    def se(self) -> float:
        b_var = self.b_sd ** 2 / self.n_b if self.n_b else 0.0
        return math.sqrt(self.a_sd ** 2 / self.n_a + b_var)

    @property
    def df(self) -> float:
        """Welch-Satterthwaite degrees of freedom (``n_a - 1`` against a fixed number)."""
        va = self.a_sd ** 2 / self.n_a
        vb = self.b_sd ** 2 / self.n_b if self.n_b else 0.0
        if va + vb == 0:
            return math.inf
        denominator = va ** 2 / (self.n_a - 1) + (vb ** 2 / (self.n_b - 1) if self.n_b else 0.0)
        return (va + vb) ** 2 / denominator

    def interval(self, alpha: float) -> tuple[float, float]:
        """``(low, high)`` with ``P(Δ_true < low) = P(Δ_true > high) = alpha`` under Gaussian seeds."""
        from scipy import stats  # the heavy import only where it is needed

        if self.se == 0:
            return self.delta, self.delta
        half = float(stats.t.isf(alpha, self.df)) * self.se
        return self.delta - half, self.delta + half


def _summary(values, who: str) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof = 1) and count of per-seed results, which must be a
    sequence of at least 2 finite numbers (the one place they are checked)."""
    v = check_array(values, "per-seed values", who)
    if v.ndim != 1 or len(v) < 2:
        raise ValueError(f"{who}: a seed comparison needs at least 2 seeds per method, got shape {v.shape}")
    return float(v.mean()), float(v.std(ddof=1)), len(v)


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1) of per-seed values."""
    return _summary(values, "mean_sd")[:2]


def compare_seeds(a: Sequence[float], b: Sequence[float] | float) -> SeedComparison:
    """Per-seed results of A against those of B, or against a fixed number ``b``."""
    a_mean, a_sd, n_a = _summary(a, "compare_seeds (its a)")
    if isinstance(b, Real) and not isinstance(b, bool):
        b = check_number(b, "a fixed reference b", "compare_seeds")
        return SeedComparison(a_mean, a_sd, b, 0.0, n_a, 0)
    b_mean, b_sd, n_b = _summary(b, "compare_seeds (its b)")
    return SeedComparison(a_mean, a_sd, b_mean, b_sd, n_a, n_b)


@checked
def mean_lower_bound(values: Sequence[float], alpha: Fraction = 0.01) -> float:
    r"""One-sided lower confidence bound for the mean of independent runs (seeds, random inputs):
    :math:`\bar v - t_{1-\alpha,\,n-1}\, s/\sqrt n`, Student's t with :math:`n - 1` degrees of freedom.

    "The mean is positive" is asserted as ``mean_lower_bound(v) > 0``: when the true mean is 0 and the
    runs are Gaussian this passes with probability ``alpha`` (a one-sided t-test). With 3 runs the
    quantile is 6.96, not the 3 that a z band would use (which passes such a null 4.8% of the time)."""
    from scipy import stats

    mean, sd, n = _summary(values, "mean_lower_bound")
    return mean - float(stats.t.isf(alpha, n - 1)) * sd / math.sqrt(n)
