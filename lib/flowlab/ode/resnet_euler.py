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

from torch import Tensor, nn

from flowlab.validate import Count, Count0, Function, Number, Positive, check_tensor, checked


class ResidualBlock(nn.Module):
    r"""One residual block :math:`z \mapsto z + h\, f(t, z)` (the plain ResNet block has ``h = 1``)."""

    @checked
    def __init__(self, field: Function, step: Positive = 1.0, t: Number = 0.0):
        super().__init__()
        self.field, self.step, self.t = field, step, t

    def forward(self, z: Tensor) -> Tensor:
        return z + self.step * self.field(self.t, z)


class EulerResNet(nn.Module):
    r"""``num_blocks`` weight-tied residual blocks with step :math:`h = T/L`; block :math:`k` sees time
    :math:`t_k = k h`. Its output is Euler's approximation of :math:`z(T)`."""

    @checked
    def __init__(self, field: Function, num_blocks: Count, horizon: Positive = 1.0):
        super().__init__()
        h = horizon / num_blocks
        self.field = field
        self.blocks = nn.ModuleList(ResidualBlock(field, h, k * h) for k in range(num_blocks))

    def forward(self, z: Tensor) -> Tensor:
        check_tensor(z, "EulerResNet")  # once per pass; the blocks themselves run unchecked
        for block in self.blocks:
            z = block(z)
        return z


@checked
def euler_amplification(lam: Number, step: Positive, steps: Count0) -> float:
    r""":math:`|1 - \lambda h|^n`: the factor by which ``steps`` Euler steps scale :math:`|z|` on
    :math:`dz/dt = -\lambda z` (the exact solution scales by :math:`e^{-\lambda n h}`)."""
    return abs(1.0 - lam * step) ** steps

