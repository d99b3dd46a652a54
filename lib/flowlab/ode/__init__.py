"""Solving and differentiating ODEs: torchdiffeq solves; this package counts, differentiates, measures.

- :class:`CountingField` wraps a vector field ``f(t, z)`` and counts its evaluations, forward and
  backward pass separately (and the vector-Jacobian products taken through it).
- :func:`odeint_alg1` is Algorithm 1 of the Neural ODE paper written out: the augmented state
  ``[z, a, dL/dtheta]`` solved backward in time, wrapped as a ``torch.autograd.Function``.
- :class:`ScalarGrowthField` and :class:`LinearField`: fields with closed-form solutions.
- :func:`saved_tensor_bytes` and :func:`peak_memory` measure the memory held for the backward pass.
- :class:`EulerResNet`, :class:`ResidualBlock`, :func:`euler_amplification`: a ResNet is Euler's method.
"""
from flowlab.ode.adjoint import odeint_alg1
from flowlab.ode.counting import CountingField
from flowlab.ode.fields import LinearField, ScalarGrowthField
from flowlab.ode.memory import peak_memory, saved_tensor_bytes
from flowlab.ode.resnet_euler import EulerResNet, ResidualBlock, euler_amplification

__all__ = ["CountingField", "EulerResNet", "LinearField", "ResidualBlock", "ScalarGrowthField",
           "euler_amplification", "odeint_alg1", "peak_memory", "saved_tensor_bytes"]
