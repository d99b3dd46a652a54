"""Counting function evaluations (NFE) of a vector field, forward and backward pass separately.

The cost of a neural ODE is measured in evaluations of its vector field :math:`f(t, z)`, the NFE.
A solver evaluates :math:`f` while integrating forward; the backward pass then either

- backpropagates through the recorded solver operations (no new evaluation of :math:`f`, but one
  vector-Jacobian product :math:`v^\\top \\partial f / \\partial (z, \\theta)` per recorded
  evaluation), or
- solves the adjoint ODE backward in time, which evaluates :math:`f` again at every step of the
  backward solve (to recompute :math:`z(t)` and to take the vector-Jacobian product there).

:class:`CountingField` keeps three counters: ``nfe_forward`` (evaluations outside a backward pass),
``nfe_backward`` (evaluations made while the autograd engine runs a backward pass, e.g. inside an
adjoint ``Function.backward``) and ``nfe_vjp`` (vector-Jacobian products that flowed back through an
output of :math:`f`, counted by a tensor hook). The phase is detected from the autograd engine, and
can be forced with ``with field.phase("backward"): ...``.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

_PHASES = ("forward", "backward")


def _in_backward_pass() -> bool:
    # The autograd engine reports a graph task id only while it executes a backward pass.
    current = getattr(torch._C, "_current_graph_task_id", None)
    return current is not None and current() != -1


class CountingField(nn.Module):
    """Wrap ``field`` (called as ``field(t, z)``) and count its evaluations; parameters pass through."""

    def __init__(self, field: nn.Module):
        super().__init__()
        if not callable(field):
            raise ValueError(f"CountingField wraps a callable vector field f(t, z), got {type(field).__name__}")
        self.field = field
        self._forced: str | None = None
        self.reset()

    def reset(self) -> None:
        """Set every counter to zero."""
        self.nfe_forward = 0
        self.nfe_backward = 0
        self.nfe_vjp = 0

    @property
    def nfe(self) -> int:
        """All evaluations of the field, forward and backward pass together."""
        return self.nfe_forward + self.nfe_backward

    def counts(self) -> dict:
        return {"forward": self.nfe_forward, "backward": self.nfe_backward, "vjp": self.nfe_vjp}

    @contextmanager
    def phase(self, name: str):
        """Count every evaluation inside the block as ``name`` ("forward" or "backward")."""
        if name not in _PHASES:
            raise ValueError(f"unknown phase {name!r}; expected one of {_PHASES}")
        previous, self._forced = self._forced, name
        try:
            yield self
        finally:
            self._forced = previous

    def current_phase(self) -> str:
        if self._forced is not None:
            return self._forced
        return "backward" if _in_backward_pass() else "forward"

    def _count_vjp(self, grad):
        self.nfe_vjp += 1
        return grad

    def forward(self, t, z):
        if self.current_phase() == "backward":
            self.nfe_backward += 1
        else:
            self.nfe_forward += 1
        out = self.field(t, z)
        if isinstance(out, torch.Tensor) and out.requires_grad:
            out.register_hook(self._count_vjp)
        return out

    def extra_repr(self) -> str:
        return f"nfe_forward={self.nfe_forward}, nfe_backward={self.nfe_backward}, nfe_vjp={self.nfe_vjp}"
