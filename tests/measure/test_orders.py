"""The three-outcome rule for orderings over seeds: its outcomes, and its error rates by simulation.

Every simulated rate is asserted against the binomial law of the count it is: a correct rule leaves
the 99.9% band (one-sided where the claim is a bound) 0.1% of the time, whatever the seed."""
import numpy as np
import pytest
from scipy import stats

from flowlab.measure import decide, higher, lower, not_worse, similar
from flowlab.measure.orders import OUTCOMES, detection_rate

REPRODUCED, CONTRADICTED, INCONCLUSIVE = OUTCOMES


def test_outcomes_of_clear_cases():
    far = lower([1.0, 1.1, 0.9], [2.0, 2.1, 1.9])
    assert far.outcome(0.05) == REPRODUCED
    assert lower([2.0, 2.1, 1.9], [1.0, 1.1, 0.9]).outcome(0.05) == CONTRADICTED
    assert lower([1.0, 1.3, 0.7], [1.05, 1.35, 0.75]).outcome(0.05) == INCONCLUSIVE
    assert higher([2.0, 2.1, 1.9], [1.0, 1.1, 0.9]).outcome(0.05) == REPRODUCED
    assert similar([1.0, 1.01, 0.99], [1.0, 1.02, 0.98], margin=0.1).outcome(0.05) == REPRODUCED
    assert similar([1.0, 1.01, 0.99], [2.0, 2.01, 1.99], margin=0.1).outcome(0.05) == CONTRADICTED
    assert not_worse([1.05, 1.06, 1.04], [1.0, 1.01, 0.99], margin=0.2).outcome(0.05) == REPRODUCED
    # a margin: "lower by more than 0.5" against a difference of about 1.0 and of about 0.2
    assert lower([1.0, 1.1, 0.9], 2.0, margin=0.5).outcome(0.05) == REPRODUCED
    assert lower([1.8, 1.81, 1.79], 2.0, margin=0.5).outcome(0.05) == CONTRADICTED


def test_a_claim_is_reproduced_only_when_every_part_is_and_contradicted_when_any_part_is():
    good, unclear = lower([1.0, 1.1, 0.9], [2.0, 2.1, 1.9]), lower([1.0, 1.3, 0.7], [1.05, 1.35, 0.75])
    bad = lower([2.0, 2.1, 1.9], [1.0, 1.1, 0.9])
    assert decide({"a": good, "b": good}).outcome == REPRODUCED
    assert decide({"a": good, "b": unclear}).outcome == INCONCLUSIVE
    assert decide({"a": good, "b": unclear, "c": bad}).outcome == CONTRADICTED
    d = decide({"a": good, "b": unclear})
    assert d.alpha_each == pytest.approx(0.025)
    row = d.rows()["a"]
    assert set(row) == {"mean A", "mean B", "Δ mean", "95% interval", "claimed", "outcome"}
    assert row["claimed"] == "Δ < 0" and row["outcome"] == REPRODUCED


def test_bad_parts_are_refused():
    with pytest.raises(ValueError, match="margin > 0"):
        similar([1.0, 2.0], [1.0, 2.0], margin=0.0)
    with pytest.raises(ValueError, match="the margin must be"):
        lower([1.0, 2.0], [1.0, 2.0], margin=-1.0)
    with pytest.raises(ValueError, match="non-empty dict"):
        decide({})
    with pytest.raises(ValueError, match="at least 2 seeds"):
        lower([1.0], [1.0, 2.0])


def _rates(make_part, trials, rng):
    counts = dict.fromkeys(OUTCOMES, 0)
    for _ in range(trials):
        counts[make_part(rng).outcome(0.05)] += 1
    return counts


def _at_most(count, trials, rate):
    """A count of events whose probability is at most ``rate`` stays under the binomial 99.9% point."""
    return count <= stats.binom.ppf(0.999, trials, rate)


@pytest.mark.parametrize("n_a, n_b, sd_b", [(3, 3, 1.0), (3, 5, 3.0), (10, 10, 1.0)])
def test_false_alarm_rates_are_at_most_nominal(n_a, n_b, sd_b):
    """At the claim's boundary (equal means), 'reproduced' and 'contradicted' each come out at most 5%
    of the time, for equal and for unequal spreads and counts (Welch's interval)."""
    rng, trials = np.random.default_rng(7), 1500

    def at_the_edge(r):
        return lower(r.standard_normal(n_a), sd_b * r.standard_normal(n_b))
    counts = _rates(at_the_edge, trials, rng)
    assert _at_most(counts[REPRODUCED], trials, 0.05), counts
    assert _at_most(counts[CONTRADICTED], trials, 0.05), counts


def test_equivalence_at_its_margin_is_reproduced_at_most_nominal():
    rng, trials = np.random.default_rng(11), 1500
    counts = _rates(lambda r: similar(r.standard_normal(5) + 0.5, r.standard_normal(5), margin=0.5), trials, rng)
    assert _at_most(counts[REPRODUCED], trials, 0.05), counts


def test_a_compound_claim_keeps_its_family_wise_rates():
    """Three true parts each exactly at their edge: the claim is contradicted at most 5% of the time
    overall (Bonferroni, not 3 x 5%); with one part false at its edge and two clearly true, it is
    reproduced at most 5% of the time."""
    rng, trials = np.random.default_rng(13), 800
    counts = dict.fromkeys(OUTCOMES, 0)
    for _ in range(trials):
        parts = {f"p{i}": lower(rng.standard_normal(4), rng.standard_normal(4)) for i in range(3)}
        counts[decide(parts).outcome] += 1
    assert _at_most(counts[CONTRADICTED], trials, 0.05), counts
    counts = dict.fromkeys(OUTCOMES, 0)
    for _ in range(trials):
        parts = {"edge": lower(rng.standard_normal(4), rng.standard_normal(4)),
                 **{f"clear{i}": lower(rng.standard_normal(4) - 10, rng.standard_normal(4)) for i in range(2)}}
        counts[decide(parts).outcome] += 1
    assert _at_most(counts[REPRODUCED], trials, 0.05), counts


@pytest.mark.parametrize("seeds, effect", [(3, 2.0), (5, 2.0), (10, 1.0)])
def test_miss_rate_against_the_t_tests_power(seeds, effect):
    """A true difference of ``effect`` seed sds is reported reproduced at about the one-sided t-test's
    power: never more than the pooled test's (an upper bound), at most 8 points less (Welch's price at
    3 seeds, measured 6 points; none at 10); the rest is the miss rate a reader sees as inconclusive."""
    rng, trials = np.random.default_rng(17), 1500
    counts = _rates(lambda r: lower(r.standard_normal(seeds) - effect, r.standard_normal(seeds)), trials, rng)
    power = detection_rate(effect, 1.0, seeds)
    lo, hi = stats.binom.ppf([0.0005, 0.9995], trials, power) / trials
    assert lo - 0.08 <= counts[REPRODUCED] / trials <= hi, (counts, power)
    assert counts[CONTRADICTED] <= 2  # the wrong direction, with the truth 2 sds the other way
