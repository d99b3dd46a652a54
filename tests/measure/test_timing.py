"""The one timer: warm-up and repeats, seconds per call, min <= median, clocks, errors."""
import pytest

from flowlab.measure import time_call


def test_counts_calls_and_reports_per_call_times():
    calls = []
    timing = time_call(lambda: calls.append(1), repeats=4, warmup=2, inner=3, clock="cpu")
    assert len(calls) == 2 + 4 * 3 and len(timing.times) == 4
    assert 0 <= timing.min <= timing.median


def test_errors():
    with pytest.raises(TypeError, match="callable"):
        time_call(3)
    with pytest.raises(ValueError, match="unknown clock"):
        time_call(lambda: None, clock="sundial")
    with pytest.raises(ValueError, match="repeats must be a positive integer"):
        time_call(lambda: None, repeats=0)
