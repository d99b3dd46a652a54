"""Cost of the two directions of a flow against the dimension: network passes and CPU time.

Used for the lectures' "one pass against D passes" claims (MAF, IAF, coupling). Passes are counted
with :class:`~flowlab.measure.counting.CallCounter` on the modules ``networks(flow)`` picks (the
MADE of an autoregressive layer, the conditioners of couplings); times come from the one timer.
"""
from __future__ import annotations

import torch

from flowlab.measure.counting import CallCounter
from flowlab.measure.timing import time_call
from flowlab.validate import Count, Function, Items, Rng, check_count, checked


@checked
def direction_costs(make_flow: Function, dims: Items, *, networks: Function, batch: Count = 128,
                    repeats: Count = 5, inner: Count = 3, generator: Rng = None) -> dict:
    """Network passes and CPU seconds of ``forward`` and ``inverse`` of ``make_flow(D)`` per ``D``.

    Returns ``{"dims", "passes": {direction: [per D]}, "cpu_seconds": {direction: [repeats][per D]}}``.
    CPU time is not inflated when a shared machine preempts a long call (wall time is, more so the
    longer the call, which biases log-log slopes upward). Each entry is the best of ``inner`` calls,
    and the ``dims`` are interleaved within each repeat so that a slow spell hits every ``D``.
    ``make_flow(D) -> nn.Module`` builds the flow; ``networks(flow)`` gives the modules whose calls count.
    """
    dims = [check_count(d, "dimension", "direction_costs") for d in dims]
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
