"""The one timer: warm-up, repeats, min and median, wall or CPU clock, CUDA synchronised.

The minimum is the estimate of a call's cost (noise only ever adds time); the median shows how
noisy the machine was. CPU time (``clock="cpu"``) is the process's time and is not inflated when
the scheduler preempts a long call on a shared machine, which would bias a log-log slope upward.
"""
from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass

import torch

from flowlab.validate import Count, Count0, Function, OneOf, checked

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclass(frozen=True)
class Timing:
    """Seconds per call over ``len(times)`` repeats."""

    times: tuple[float, ...]

    @property
    def min(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def _sync(device) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


@checked
def time_call(fn: Function, *, repeats: Count = 5, warmup: Count0 = 1, inner: Count = 1,
              clock: OneOf(CLOCKS) = "wall", device: str | torch.device | None = None) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timings of ``inner`` calls each
    (seconds per call). ``device="cuda"`` synchronises before reading the clock."""
    who, now = "time_call", CLOCKS[clock]
    if device is not None:
        try:
            torch.device(device)
        except (TypeError, RuntimeError):
            raise ValueError(f"{who}: device must be a torch device such as 'cpu' or 'cuda', got {device!r}") from None
    for _ in range(warmup):
        fn()
    times = []
    collecting = gc.isenabled()
    gc.disable()  # as timeit does: a collection of the caller's objects is not the call's cost
    try:
        for _ in range(repeats):
            _sync(device)
            start = now()
            for _ in range(inner):
                fn()
            _sync(device)
            times.append((now() - start) / inner)
    finally:
        if collecting:
            gc.enable()
    return Timing(tuple(times))
