r"""A residual network is Euler's method: :math:`z_{k+1} = z_k + h\, f(z_k, t_k)`.

A residual block :math:`z \mapsto z + f(z)` is one Euler step of :math:`dz/dt = f(z)` with
:math:`\Delta t = 1`. A weight-tied stack of :math:`L` blocks with step :math:`h = T/L` is Euler's
method on :math:`[0, T]`; as :math:`L` grows it converges to the ODE solution with global error
:math:`O(h)` (a fourth-order Runge-Kutta scheme with the same step: :math:`O(h^4)`).

On :math:`dz/dt = -\lambda z` an Euler step multiplies :math:`z` by :math:`1 - \lambda h`, so after
:math:`n` steps :math:`|z_n| = |1 - \lambda h|^n |z_0|`: it decays when :math:`\lambda h < 2` and
diverges when :math:`\lambda h > 2`, although the true solution always decays.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class MLPField(nn.Module):
    r"""A small time-dependent vector field :math:`f(t, z) = W_2 \tanh(W_1 [z, t] + b_1) + b_2`,
    called ``f(t, z)`` as torchdiffeq expects; ``z`` is ``[..., dim]``."""

    def __init__(self, dim: int, hidden: int = 32, time_dependent: bool = True):
        super().__init__()
        for name, value in (("dim", dim), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.dim = dim
        self.time_dependent = time_dependent
        self.net = nn.Sequential(nn.Linear(dim + int(time_dependent), hidden), nn.Tanh(),
                                 nn.Linear(hidden, dim))

    def forward(self, t, z: Tensor) -> Tensor:
        if not isinstance(z, Tensor) or z.shape[-1:] != (self.dim,):
            raise ValueError(f"MLPField expects z of shape [..., {self.dim}], got "
                             f"{list(z.shape) if isinstance(z, Tensor) else type(z).__name__}")
        if self.time_dependent:
            t = torch.as_tensor(t, dtype=z.dtype, device=z.device).expand(*z.shape[:-1], 1)
            z = torch.cat([z, t], dim=-1)
        return self.net(z)


class ResidualBlock(nn.Module):
    r"""One residual block :math:`z \mapsto z + h\, f(t, z)` (the plain ResNet block has ``h = 1``)."""

    def __init__(self, field: nn.Module, step: float = 1.0, t: float = 0.0):
        super().__init__()
        if not step > 0:
            raise ValueError(f"step must be positive, got {step!r}")
        self.field, self.step, self.t = field, float(step), float(t)

    def forward(self, z: Tensor) -> Tensor:
        return z + self.step * self.field(self.t, z)


class EulerResNet(nn.Module):
    r"""``num_blocks`` weight-tied residual blocks with step :math:`h = T/L`; block :math:`k` sees time
    :math:`t_k = k h`. Its output is Euler's approximation of :math:`z(T)`."""

    def __init__(self, field: nn.Module, num_blocks: int, horizon: float = 1.0):
        super().__init__()
        if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or num_blocks <= 0:
            raise ValueError(f"num_blocks must be a positive integer, got {num_blocks!r}")
        if not horizon > 0:
            raise ValueError(f"horizon must be positive, got {horizon!r}")
        h = horizon / num_blocks
        self.field = field
        self.blocks = nn.ModuleList(ResidualBlock(field, h, k * h) for k in range(num_blocks))

    def forward(self, z: Tensor) -> Tensor:
        for block in self.blocks:
            z = block(z)
        return z


def euler_amplification(lam: float, step: float, steps: int) -> float:
    r""":math:`|1 - \lambda h|^n`: the factor by which ``steps`` Euler steps scale :math:`|z|` on
    :math:`dz/dt = -\lambda z` (the exact solution scales by :math:`e^{-\lambda n h}`)."""
    if not step > 0:
        raise ValueError(f"step must be positive, got {step!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    return abs(1.0 - lam * step) ** steps

