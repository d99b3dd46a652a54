"""Benchmark rows, timed interleaved: ours and the peer's call alternate within one loop, so a change in
the machine's load between them lands on both sides of the ratio. Each call is timed by flowlab's one
timer (``flowlab.measure.time_call``)."""
from __future__ import annotations

import statistics
from typing import Callable

from flowlab.measure import time_call as _time_call


def time_call(fn: Callable[[], object], repeats: int = 10, warmup: int = 2) -> float:
    """Median seconds per call of ``fn()`` after ``warmup`` calls (a row against a fixed reference)."""
    return _time_call(fn, repeats=repeats, warmup=warmup).median


def interleaved(ours: Callable[[], object], peer: Callable[[], object], repeats: int = 15,
                warmup: int = 2) -> tuple[list[float], list[float]]:
    """Seconds of ``repeats`` calls of each, alternating ours/peer (which goes first flips every round)."""
    for _ in range(warmup):
        ours(), peer()
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    for i in range(repeats):
        order = (("ours", ours), ("peer", peer)) if i % 2 == 0 else (("peer", peer), ("ours", ours))
        for side, fn in order:
            times[side].append(_time_call(fn, repeats=1, warmup=0).min)
    return times["ours"], times["peer"]


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else (values[0],) * 3
    return q1, q2, q3


def row(name: str, ours_s, peer: str, peer_s, **extra) -> dict:
    """One benchmark row; ``ratio`` > 1 means ours is slower than the peer.

    With lists of interleaved times (:func:`interleaved`) the ratio is the median of the paired ratios
    (round by round, so load drift cancels) with their quartiles as its spread, and each side's median
    and quartiles are reported; with two numbers it is their quotient."""
    if isinstance(ours_s, (int, float)):
        return {"name": name, "ours_ms": round(ours_s * 1e3, 4), "peer": peer,
                "peer_ms": round(peer_s * 1e3, 4), "ratio": round(ours_s / peer_s, 4), **extra}
    ratios = [o / p for o, p in zip(ours_s, peer_s)]
    (o1, o2, o3), (p1, p2, p3), (r1, r2, r3) = _quartiles(ours_s), _quartiles(peer_s), _quartiles(ratios)
    return {"name": name, "ours_ms": round(o2 * 1e3, 4), "ours_ms_iqr": [round(o1 * 1e3, 4), round(o3 * 1e3, 4)],
            "peer": peer, "peer_ms": round(p2 * 1e3, 4), "peer_ms_iqr": [round(p1 * 1e3, 4), round(p3 * 1e3, 4)],
            "ratio": round(r2, 4), "ratio_iqr": [round(r1, 4), round(r3, 4)], "rounds": len(ratios), **extra}
