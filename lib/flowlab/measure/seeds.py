r"""The one rule for "A beats B" over training seeds (lower is better: NLL, bits/dim, KL).

Runs of A and B over seeds give means :math:`\bar a, \bar b` and sample standard deviations
:math:`s_a, s_b`. The verdicts, fixed before any run:

- **beats**: :math:`\bar a < \bar b - \max(s_a, s_b)`: A is lower by more than either method's
  seed-to-seed spread (a difference a reader would see on any single seed);
- **matches**: :math:`\bar a \le \bar b + 2\,\mathrm{se}`, with
  :math:`\mathrm{se} = \sqrt{s_a^2/n_a + s_b^2/n_b}`: A is not worse beyond two standard errors;
- **similar**: :math:`|\bar a - \bar b| \le 2\,\mathrm{se}`: not distinguishable at this number of seeds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class SeedComparison:
    a_mean: float
    a_sd: float
    b_mean: float
    b_sd: float
    n_a: int
    n_b: int

    @property
    def delta(self) -> float:
        """mean(A) - mean(B): negative when A is lower (better)."""
        return self.a_mean - self.b_mean

    @property
    def max_sd(self) -> float:
        return max(self.a_sd, self.b_sd)

    @property
    def se(self) -> float:
        return math.sqrt(self.a_sd ** 2 / self.n_a + self.b_sd ** 2 / self.n_b)

    @property
    def beats(self) -> bool:
        return bool(self.delta < -self.max_sd)

    @property
    def matches(self) -> bool:
        return bool(self.delta <= 2 * self.se)

    @property
    def similar(self) -> bool:
        return bool(abs(self.delta) <= 2 * self.se)

    def row(self) -> dict:
        """The pair as a table row: the two means, Δ mean, max sd and the beats verdict."""
        return {"mean A": round(self.a_mean, 4), "mean B": round(self.b_mean, 4),
                "Δ mean": round(self.delta, 4), "max sd": round(self.max_sd, 4), "beats?": self.beats}


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1) of per-seed values."""
    return _mean_sd(values, "mean_sd")


def _mean_sd(values, who: str) -> tuple[float, float]:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{who} expects a sequence of per-seed numbers, got {type(values).__name__}")
    try:
        v = np.asarray(values, dtype=float)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{who} expects a sequence of per-seed numbers, got {values!r}") from None
    if v.ndim != 1 or len(v) < 2:
        raise ValueError(f"{who}: a seed comparison needs at least 2 seeds per method, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{who}: per-seed values must be finite, got {v.tolist()}")
    return float(v.mean()), float(v.std(ddof=1))


def compare_seeds(a: Sequence[float], b: Sequence[float]) -> SeedComparison:
    """Compare per-seed results of A and B (lower is better) by the module's rule."""
    (ma, sa), (mb, sb) = _mean_sd(a, "compare_seeds (its a)"), _mean_sd(b, "compare_seeds (its b)")
    return SeedComparison(ma, sa, mb, sb, len(a), len(b))


def mean_lower_bound(values: Sequence[float], alpha: float = 0.01) -> float:
    r"""One-sided lower confidence bound for the mean of independent runs (seeds, random inputs):
    :math:`\bar v - t_{1-\alpha,\,n-1}\, s/\sqrt n`, Student's t with :math:`n - 1` degrees of freedom.

    "The mean is positive" is asserted as ``mean_lower_bound(v) > 0``: when the true mean is 0 and the
    runs are Gaussian this passes with probability ``alpha`` (a one-sided t-test). With 3 runs the
    quantile is 6.96, not the 3 that a z band would use (which passes such a null 4.8% of the time)."""
    from scipy import stats  # the heavy import only where it is needed

    mean, sd = _mean_sd(values, "mean_lower_bound")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"mean_lower_bound: alpha must be a probability in (0, 1), got {alpha!r}")
    n = len(values)
    return mean - float(stats.t.isf(alpha, n - 1)) * sd / math.sqrt(n)
