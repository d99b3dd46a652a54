r"""From discrete pixels to a continuous density problem: dequantization and the logit transform."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from flowlab.flows.base import Flow


def dequantize(x: Tensor, levels: int, generator: torch.Generator | None = None) -> Tensor:
    r"""Uniform dequantization :math:`y = (x + u)/K`, :math:`u \sim U[0,1)`: integers in [0, K) to [0, 1)."""
    if not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels must be an integer >= 2, got {levels!r}")
    if x.is_floating_point() and not torch.equal(x, x.round()):
        raise ValueError("dequantize expects integer-valued pixels (0 .. levels-1), got fractional values")
    if x.min() < 0 or x.max() > levels - 1:
        raise ValueError(f"pixel values must lie in [0, {levels - 1}], got [{x.min().item()}, {x.max().item()}]")
    u = torch.rand(x.shape, generator=generator, dtype=torch.get_default_dtype())
    return (x.to(u.dtype) + u) / levels


class LogitTransform(Flow):
    r"""RealNVP's preprocessing as a flow on [0,1) data: :math:`z = \mathrm{logit}(\alpha + (1-2\alpha) y)`.

    .. math:: \log|\det| = \sum_i \log(1-2\alpha) - \log p_i - \log(1-p_i),
              \quad p_i = \alpha + (1-2\alpha) y_i.

    Putting it inside the model keeps bits/dim honest: its log-det is part of :math:`\log p(y)`.
    """

    def __init__(self, alpha: float = 1e-5):
        super().__init__()
        if not 0 <= alpha < 0.5:
            raise ValueError(f"alpha must lie in [0, 0.5), got {alpha}")
        self.alpha = alpha

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        if y.min() < 0 or y.max() > 1:
            raise ValueError("LogitTransform expects data in [0, 1] (dequantized pixels)")
        p = self.alpha + (1 - 2 * self.alpha) * y
        z = torch.log(p) - torch.log1p(-p)
        ld = math.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)
        return z, ld.flatten(1).sum(1)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        p = torch.sigmoid(z)
        y = (p - self.alpha) / (1 - 2 * self.alpha)
        ld = -math.log(1 - 2 * self.alpha) + F.logsigmoid(z) + F.logsigmoid(-z)
        return y, ld.flatten(1).sum(1)
