r"""Small vector fields :math:`f(t, z)` for checking ODE gradients, memory and cost.

- :class:`ScalarGrowthField`: :math:`dz/dt = \theta z` with one scalar parameter, whose solution and
  gradients are known in closed form: :math:`z(T) = z_0 e^{\theta T}`, and for
  :math:`L = \tfrac12 \lVert z(T) \rVert^2`,

  .. math:: \frac{\partial L}{\partial z_0} = z_0 e^{2\theta T}, \qquad
            \frac{dL}{d\theta} = T \lVert z_0 \rVert^2 e^{2\theta T}.

- :class:`MLPField`: :math:`f(t, z) = W_2 \tanh(W_1 [z, t] + b_1) + b_2`, a one-hidden-layer MLP that
  sees the time as an extra input, the usual neural-ODE vector field.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class ScalarGrowthField(nn.Module):
    """``f(t, z) = theta * z``: exponential growth (theta > 0) or decay (theta < 0)."""

    def __init__(self, theta: float = 0.5):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(float(theta)))

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


class MLPField(nn.Module):
    """``f(t, z) = W2 tanh(W1 [z, t] + b1) + b2`` on states ``z`` of shape ``[batch, dim]``."""

    def __init__(self, dim: int, hidden: int = 32):
        super().__init__()
        if dim <= 0 or hidden <= 0:
            raise ValueError(f"MLPField needs positive dim and hidden, got dim={dim}, hidden={hidden}")
        self.dim = dim
        self.net = nn.Sequential(nn.Linear(dim + 1, hidden), nn.Tanh(), nn.Linear(hidden, dim))

    def forward(self, t, z):
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise ValueError(f"MLPField expects z of shape [batch, {self.dim}], got {tuple(z.shape)}")
        time = torch.as_tensor(t, dtype=z.dtype, device=z.device).expand(z.shape[0], 1)
        return self.net(torch.cat([z, time], dim=1))
