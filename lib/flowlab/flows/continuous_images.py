r"""A vector field on images for FFJORD: a small convolutional network that sees time.

:math:`f(t, z)` for :math:`z` of shape ``[C, H, W]``: 3x3 convolutions, each with :math:`t` appended
as a constant extra input channel (FFJORD's ``ConcatConv2d``), softplus between them, padding
keeping the spatial size. ``encode`` (first convolution and activation) and ``decode`` (the rest)
split it as :math:`f = g \circ h` for Hutchinson's bottleneck trick when the first layer has fewer
units than the image has pixels. Use it with :class:`flowlab.flows.continuous.CNF` and
``event_shape=(C, H, W)``; the divergence functions there flatten events.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from flowlab.flows.base import check_shape
from flowlab.flows.continuous import TimeConcatStack


class ConcatConv2d(nn.Module):
    """A 3x3 convolution over ``[z; t]``: time enters as one constant channel."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(in_channels + 1, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        tt = torch.as_tensor(t, dtype=h.dtype, device=h.device).reshape(1, 1, 1, 1)
        return self.conv(torch.cat([h, tt.expand(h.shape[0], 1, *h.shape[2:])], dim=1))


class TimeConcatConvNet(TimeConcatStack):
    """The field ``f(t, z)`` on images of ``shape = (C, H, W)`` with ``hidden`` channels per layer."""

    def __init__(self, shape: Sequence[int], hidden: Sequence[int] = (32, 32, 32), activation: str = "softplus"):
        super().__init__()
        shape = tuple(shape)
        if len(shape) != 3 or any(int(s) <= 0 for s in shape):
            raise ValueError(f"TimeConcatConvNet needs an image shape (C, H, W), got {shape}")
        self.shape = shape
        widths = (shape[0], *tuple(hidden), shape[0])
        self._build((ConcatConv2d(a, b) for a, b in zip(widths[:-1], widths[1:])), tuple(hidden), activation)

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        check_shape(z, self.shape, "TimeConcatConvNet")
        return self.decode(t, self.encode(t, z))
