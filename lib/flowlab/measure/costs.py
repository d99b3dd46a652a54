"""Cost of the two directions of a flow against the dimension: network passes and CPU time.

Used for the lectures' "one pass against D passes" claims (MAF, IAF, coupling). Passes are counted
with :class:`~flowlab.measure.counting.CallCounter` on the modules ``networks(flow)`` picks (the
MADE of an autoregressive layer, the conditioners of couplings); times come from the one timer.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import torch
from torch import nn

from flowlab.measure.counting import CallCounter
from flowlab.measure.timing import time_call
from flowlab.validate import check_callable, check_count, check_counts, check_generator, check_sequence


def direction_costs(make_flow: Callable[[int], nn.Module], dims: Sequence[int], *,
                    networks: Callable[[nn.Module], Iterable[nn.Module]], batch: int = 128,
                    repeats: int = 5, inner: int = 3, generator: torch.Generator | None = None) -> dict:
    """Network passes and CPU seconds of ``forward`` and ``inverse`` of ``make_flow(D)`` per ``D``.

    Returns ``{"dims", "passes": {direction: [per D]}, "cpu_seconds": {direction: [repeats][per D]}}``.
    CPU time is not inflated when a shared machine preempts a long call (wall time is, more so the
    longer the call, which biases log-log slopes upward). Each entry is the best of ``inner`` calls,
    and the ``dims`` are interleaved within each repeat so that a slow spell hits every ``D``.
    """
    who = "direction_costs"
    check_callable(make_flow, "make_flow", who)
    check_callable(networks, "networks", who)
    check_generator(generator, who)
    dims = check_sequence(dims, "dims (the dimensions)", who)
    dims = [check_count(d, "dimension", who) for d in dims]
    check_counts(who, batch=batch, repeats=repeats, inner=inner)
    flows = {d: make_flow(d).eval() for d in dims}
    inputs = {d: torch.randn(batch, d, generator=generator) for d in dims}
    directions = ("forward", "inverse")
    calls = {(d, k): (flows[d] if k == "forward" else flows[d].inverse) for d in dims for k in directions}
    out = {"dims": dims, "passes": {k: [] for k in directions},
           "cpu_seconds": {k: [[0.0] * len(dims) for _ in range(repeats)] for k in directions}}
    with torch.no_grad():
        for d in dims:
            for k in directions:
                with CallCounter(networks(flows[d])) as counter:
                    calls[d, k](inputs[d])  # also the warm-up
                out["passes"][k].append(counter.count)
        for r in range(repeats):
            for j, d in enumerate(dims):
                for k in directions:
                    timing = time_call(lambda d=d, k=k: calls[d, k](inputs[d]), repeats=inner, warmup=0, clock="cpu")
                    out["cpu_seconds"][k][r][j] = timing.min
    return out
