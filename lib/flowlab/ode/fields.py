r"""Small vector fields :math:`f(t, z)` for checking ODE gradients, memory and cost.

- :class:`ScalarGrowthField`: :math:`dz/dt = \theta z` with one scalar parameter, whose solution and
  gradients are known in closed form: :math:`z(T) = z_0 e^{\theta T}`, and for
  :math:`L = \tfrac12 \lVert z(T) \rVert^2`,

  .. math:: \frac{\partial L}{\partial z_0} = z_0 e^{2\theta T}, \qquad
            \frac{dL}{d\theta} = T \lVert z_0 \rVert^2 e^{2\theta T}.

- :class:`LinearField`: :math:`dz/dt = Az`, whose flow map :math:`e^{tA}` has the log-det
  :math:`T \operatorname{tr} A` in closed form.

The learned fields are :class:`flowlab.nn.TimeConcatMLP` and :class:`flowlab.nn.TimeConcatConvNet`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from flowlab.validate import Number, SquareMatrix, checked


class ScalarGrowthField(nn.Module):
    """``f(t, z) = theta * z``: exponential growth (theta > 0) or decay (theta < 0)."""

    @checked
    def __init__(self, theta: Number = 0.5):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(theta))

    def forward(self, t, z):
        return self.theta * z

    def solution(self, z0: torch.Tensor, T: float) -> torch.Tensor:
        """Closed form ``z(T) = z0 exp(theta T)``."""
        return z0 * math.exp(self.theta.item() * T)

    def squared_norm_gradients(self, z0: torch.Tensor, T: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Closed-form ``(dL/dz0, dL/dtheta)`` for ``L = ||z(T)||^2 / 2``."""
        growth = math.exp(2.0 * self.theta.item() * T)
        z0 = z0.detach()
        return z0 * growth, (T * (z0 ** 2).sum() * growth).reshape(())


class LinearField(nn.Module):
    r"""Linear dynamics :math:`dz/dt = Az`: the flow map is :math:`e^{tA}`, so
    :math:`\log|\det \partial\phi_T/\partial z| = \log\det e^{TA} = T\operatorname{tr}A` (closed form)."""

    @checked
    def __init__(self, A: SquareMatrix):
        super().__init__()
        self.A = nn.Parameter(A.clone())

    def forward(self, t, z: torch.Tensor) -> torch.Tensor:
        if z.shape[-1:] != self.A.shape[:1]:
            raise ValueError(f"LinearField expects z of shape [batch, {self.A.shape[0]}], got {list(z.shape)}")
        return z @ self.A.T
