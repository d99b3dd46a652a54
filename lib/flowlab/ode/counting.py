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

from torch import nn

from flowlab.measure.counting import CallCounter
from flowlab.validate import Module, checked


class CountingField(nn.Module):
    """Wrap ``field`` (called as ``field(t, z)``) and count its evaluations; parameters pass through.

    The counts come from a :class:`~flowlab.measure.counting.CallCounter` attached to the wrapped
    field for the wrapper's lifetime (with VJP counting on).
    """

    @checked
    def __init__(self, field: Module):
        super().__init__()
        self.field = field
        self.counter = CallCounter(field, vjps=True).attach()

    def reset(self) -> None:
        """Set every counter to zero."""
        self.counter.reset()

    @property
    def nfe_forward(self) -> int:
        return self.counter.forward

    @property
    def nfe_backward(self) -> int:
        return self.counter.backward

    @property
    def nfe_vjp(self) -> int:
        return self.counter.vjp

    @property
    def nfe(self) -> int:
        """All evaluations of the field, forward and backward pass together."""
        return self.counter.count

    def counts(self) -> dict:
        return self.counter.counts()

    def phase(self, name: str):
        """Count every evaluation inside the block as ``name`` ("forward" or "backward")."""
        return self.counter.phase(name)

    def forward(self, t, z):
        return self.field(t, z)

    def extra_repr(self) -> str:
        return f"nfe_forward={self.nfe_forward}, nfe_backward={self.nfe_backward}, nfe_vjp={self.nfe_vjp}"
