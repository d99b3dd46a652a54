r"""RealNVP's logit preprocessing as a flow on pixel data :math:`y`.

.. math:: z = \mathrm{logit}(p), \quad p = \alpha + (1-2\alpha) y, \qquad
          \log|\det| = \sum_i \log(1-2\alpha) - \log p_i - \log(1-p_i).

Putting it inside the model keeps bits/dim honest: its log-det is part of :math:`\log p(y)`.

**What a sample is.** The map is a bijection from the interval where :math:`0 < p < 1`, i.e.
:math:`y \in (-\alpha/(1-2\alpha),\ (1-\alpha)/(1-2\alpha))`, a little wider than :math:`[0, 1]`
when :math:`\alpha > 0`, onto :math:`\mathbb R`. A model with this first layer is a density on that
interval: it puts a little mass just outside :math:`[0, 1]`, so its likelihood of data in
:math:`[0, 1)` is still a valid (slightly pessimistic) bound, and ``forward`` accepts every point
``inverse`` returns: a model's ``log_prob`` takes its own samples. Clamp samples to :math:`[0, 1]`
only to display them. ``inverse`` keeps :math:`p` at least one float epsilon inside :math:`(0, 1)`,
where ``sigmoid`` would round to exactly 0 or 1.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from flowlab.flows.base import Flow, _holds_values
from flowlab.validate import FractionIn, checked


class LogitTransform(Flow):
    """``LogitTransform(alpha)``: ``y -> logit(alpha + (1 - 2 alpha) y)`` elementwise, any event shape."""

    @checked
    def __init__(self, alpha: FractionIn(0.5, zero=True) = 1e-5):
        super().__init__()
        self.alpha = float(alpha)

    @property
    def domain(self) -> tuple[float, float]:
        """The open interval of ``y`` that the transform maps onto the real line."""
        a = self.alpha
        return -a / (1 - 2 * a), (1 - a) / (1 - 2 * a)

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        p = self.alpha + (1 - 2 * self.alpha) * y
        if _holds_values(p) and not bool(((p > 0) & (p < 1)).all()):  # a range check vmap cannot run
            lo, hi = self.domain
            raise ValueError(f"LogitTransform expects data in ({lo:.6g}, {hi:.6g}) (dequantized pixels in [0, 1)), "
                             f"got values in [{y.min().item():.6g}, {y.max().item():.6g}]")
        z = torch.log(p) - torch.log1p(-p)
        ld = math.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)
        return z, ld.flatten(1).sum(1)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        eps = torch.finfo(z.dtype).eps
        p = torch.sigmoid(z).clamp(eps, 1 - eps)
        y = (p - self.alpha) / (1 - 2 * self.alpha)
        ld = -math.log(1 - 2 * self.alpha) + F.logsigmoid(z) + F.logsigmoid(-z)
        return y, ld.flatten(1).sum(1)
