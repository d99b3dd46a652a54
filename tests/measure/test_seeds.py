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
    assert set(far.row()) == {"mean A", "mean B", "delta", "max sd", "2 se", "beats"}


def test_mean_sd_and_errors():
    assert mean_sd([1.0, 3.0]) == (2.0, pytest.approx(2 ** 0.5))
    with pytest.raises(ValueError, match="at least 2 seeds"):
        mean_sd([1.0])
    with pytest.raises(ValueError, match="finite"):
        compare_seeds([1.0, float("nan")], [1.0, 2.0])
