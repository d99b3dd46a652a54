"""Timing helpers shared by the benchmarks: medians over repeats after a warm-up."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def time_call(fn: Callable[[], object], repeats: int = 10, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(name: str, ours_s: float, peer: str, peer_s: float, **extra) -> dict:
    """One benchmark row; ``ratio`` > 1 means ours is slower than the peer."""
    return {"name": name, "ours_ms": round(ours_s * 1e3, 4), "peer": peer,
            "peer_ms": round(peer_s * 1e3, 4), "ratio": round(ours_s / peer_s, 4), **extra}
