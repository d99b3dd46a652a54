"""The one call counter: forward hooks on modules, split by autograd phase.

``with CallCounter(net) as c: ...`` counts every call of ``net`` (or of several modules) inside the
block: ``c.count`` in all, ``c.forward`` during ordinary execution and ``c.backward`` while the
autograd engine runs a backward pass (e.g. inside an adjoint's backward solve). With
``vjps=True`` it also counts the vector-Jacobian products that flow back through the modules'
outputs (a tensor hook on each output). A counter can also stay attached (:meth:`attach`), as the
CNF's and the ODE tools' function-evaluation counts do.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable

import torch
from torch import nn

from flowlab.validate import OneOf, checked

PHASES = ("forward", "backward")


def in_backward_pass() -> bool:
    """True while the autograd engine executes a backward pass (it reports a graph task id only then)."""
    current = getattr(torch._C, "_current_graph_task_id", None)
    return current is not None and current() != -1


class CallCounter:
    """Count calls of ``modules`` (one or several ``nn.Module``) by autograd phase."""

    def __init__(self, modules: nn.Module | Iterable[nn.Module], *, vjps: bool = False):
        if isinstance(modules, nn.Module):
            modules = [modules]
        self.modules = list(modules) if hasattr(modules, "__iter__") else []
        if not self.modules or not all(isinstance(m, nn.Module) for m in self.modules):
            raise TypeError(f"CallCounter expects one or more nn.Module instances, got {type(modules).__name__}")
        self.vjps = vjps
        self._handles: list = []
        self._forced: str | None = None
        self.reset()

    def reset(self) -> None:
        self.forward = 0
        self.backward = 0
        self.vjp = 0

    @property
    def count(self) -> int:
        return self.forward + self.backward

    def counts(self) -> dict:
        return {"forward": self.forward, "backward": self.backward, "vjp": self.vjp}

    def phase_now(self) -> str:
        if self._forced is not None:
            return self._forced
        return "backward" if in_backward_pass() else "forward"

    @contextmanager
    @checked
    def phase(self, phase: OneOf(PHASES)):
        """Count every call inside the block as ``phase`` ("forward" or "backward")."""
        previous, self._forced = self._forced, phase
        try:
            yield self
        finally:
            self._forced = previous

    def _count_vjp(self, grad):
        self.vjp += 1
        return grad

    def _hook(self, module, inputs, output):
        if self.phase_now() == "backward":
            self.backward += 1
        else:
            self.forward += 1
        if self.vjps and isinstance(output, torch.Tensor) and output.requires_grad:
            output.register_hook(self._count_vjp)

    def attach(self) -> "CallCounter":
        """Start counting (until :meth:`detach`); counts are not reset."""
        if not self._handles:
            self._handles = [m.register_forward_hook(self._hook) for m in self.modules]
        return self

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> "CallCounter":
        self.reset()
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()
