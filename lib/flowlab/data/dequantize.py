r"""From discrete pixels to a continuous density problem: uniform dequantization.

:math:`y = (x + u)/K`, :math:`u \sim U[0, 1)`, maps pixel :math:`x \in \{0..K-1\}` into its bin
:math:`[x/K, (x+1)/K)`, so that a density on :math:`[0, 1)^D` bounds the discrete likelihood
(see :mod:`flowlab.measure.bits`).
"""
from __future__ import annotations

import torch
from torch import Tensor

from flowlab.validate import check_generator, check_pixels


def dequantize(x: Tensor, levels: int, generator: torch.Generator | None = None) -> Tensor:
    r"""Uniform dequantization :math:`y = (x + u)/K`, :math:`u \sim U[0,1)`: integers in [0, K) to [0, 1).

    Each value stays strictly inside its pixel's bin, also where float rounding of
    :math:`(x + u)/K` would reach the bin's upper edge (e.g. 1.0 for :math:`x = 255`, :math:`K = 256`).
    """
    check_pixels(x, levels, "dequantize")
    check_generator(generator, "dequantize")
    dtype = torch.get_default_dtype()
    u = torch.rand(x.shape, generator=generator, dtype=dtype, device=generator.device if generator else "cpu")
    u = u.to(x.device)
    x = x.to(dtype)
    upper = torch.nextafter((x + 1) / levels, torch.zeros((), dtype=dtype, device=x.device))
    return torch.minimum((x + u) / levels, upper)
