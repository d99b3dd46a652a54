"""Benchmark rows; timing itself is flowlab's one timer (``flowlab.measure.time_call``)."""
from __future__ import annotations

from typing import Callable

from flowlab.measure import time_call as _time_call


def time_call(fn: Callable[[], object], repeats: int = 10, warmup: int = 2) -> float:
    """Median seconds per call of ``fn()`` after ``warmup`` calls."""
    return _time_call(fn, repeats=repeats, warmup=warmup).median


def row(name: str, ours_s: float, peer: str, peer_s: float, **extra) -> dict:
    """One benchmark row; ``ratio`` > 1 means ours is slower than the peer."""
    return {"name": name, "ours_ms": round(ours_s * 1e3, 4), "peer": peer,
            "peer_ms": round(peer_s * 1e3, 4), "ratio": round(ours_s / peer_s, 4), **extra}
