"""The seed-comparison rule: beats, matches and similar, fixed before any run."""
import pytest

from flowlab.measure import compare_seeds, mean_sd


def test_rule():
    far = compare_seeds([1.0, 1.1, 0.9], [2.0, 2.1, 1.9])
    assert far.beats and far.matches and not far.similar and far.delta == pytest.approx(-1.0)
    close = compare_seeds([1.0, 1.2, 0.8], [1.05, 1.25, 0.85])
    assert not close.beats and close.matches and close.similar
    worse = compare_seeds([2.0, 2.1, 1.9], [1.0, 1.1, 0.9])
    assert not worse.beats and not worse.matches
    assert set(far.row()) == {"mean A", "mean B", "Δ mean", "max sd", "beats?"}


def test_mean_sd_and_errors():
    assert mean_sd([1.0, 3.0]) == (2.0, pytest.approx(2 ** 0.5))
    with pytest.raises(ValueError, match="at least 2 seeds"):
        mean_sd([1.0])
    with pytest.raises(ValueError, match="finite"):
        compare_seeds([1.0, float("nan")], [1.0, 2.0])


def test_mean_lower_bound_is_a_one_sided_t_test_at_its_nominal_rate():
    """Simulated over many null experiments (true mean 0, 3 Gaussian runs), "bound > 0" passes at
    the nominal alpha; the 3-s.e. rule it replaced passes ~4.8% (Student's t with 2 degrees of freedom)."""
    import numpy as np
    from scipy import stats

    from flowlab.measure import mean_lower_bound
    rng = np.random.default_rng(20261201)
    trials, alpha = 4000, 0.01
    runs = rng.standard_normal((trials, 3))
    passes = sum(mean_lower_bound(r.tolist(), alpha) > 0 for r in runs)
    lo, hi = stats.binom.ppf([0.0005, 0.9995], trials, alpha)  # a correct bound fails this 0.1% of the time
    assert lo <= passes <= hi, (passes, lo, hi)
    three_se = (runs.mean(1) - 3 * runs.std(1, ddof=1) / np.sqrt(3) > 0).sum()
    assert three_se > hi  # the old rule's rate is well above 1%
    assert mean_lower_bound([1.0, 1.1, 0.9]) == pytest.approx(1.0 - stats.t.isf(0.01, 2) * 0.1 / 3 ** 0.5)
