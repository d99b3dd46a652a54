"""Solving and differentiating ODEs: torchdiffeq solves; this package counts, differentiates, measures.

- :class:`CountingField` wraps a vector field ``f(t, z)`` and counts its evaluations, forward and
  backward pass separately (and the vector-Jacobian products taken through it).
- :func:`odeint_alg1` is Algorithm 1 of the Neural ODE paper written out: the augmented state
  ``[z, a, dL/dtheta]`` solved backward in time, wrapped as a ``torch.autograd.Function``.
- :class:`ScalarGrowthField` (closed-form gradients) and :class:`MLPField`: small vector fields.
- :func:`saved_tensor_bytes` and :func:`peak_memory` measure the memory held for the backward pass.
"""
from flowlab.ode.counting import CountingField
from flowlab.ode.fields import MLPField, ScalarGrowthField
from flowlab.ode.adjoint import odeint_alg1
from flowlab.ode.memory import peak_memory, saved_tensor_bytes

__all__ = ["CountingField", "MLPField", "ScalarGrowthField", "odeint_alg1", "peak_memory", "saved_tensor_bytes"]
