r"""From discrete pixels to a continuous density problem: uniform dequantization.

:math:`y = (x + u)/K`, :math:`u \sim U[0, 1)`, maps pixel :math:`x \in \{0..K-1\}` into its bin
:math:`[x/K, (x+1)/K)`, so that a density on :math:`[0, 1)^D` bounds the discrete likelihood
(see :mod:`flowlab.measure.bits`).
"""
from __future__ import annotations

import torch
from torch import Tensor

from flowlab.measure.validate import check_count


def dequantize(x: Tensor, levels: int, generator: torch.Generator | None = None) -> Tensor:
    r"""Uniform dequantization :math:`y = (x + u)/K`, :math:`u \sim U[0,1)`: integers in [0, K) to [0, 1).

    Each value stays strictly inside its pixel's bin, also where float rounding of
    :math:`(x + u)/K` would reach the bin's upper edge (e.g. 1.0 for :math:`x = 255`, :math:`K = 256`).
    """
    check_count(levels, "levels", "dequantize", minimum=2)
    if not isinstance(x, Tensor):
        raise TypeError(f"dequantize expects a tensor of integer pixels, got {type(x).__name__}")
    if x.numel() == 0 or (x.dim() > 0 and x.shape[0] == 0):
        raise ValueError(f"dequantize got an empty batch (shape {list(x.shape)}); pass at least one image")
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"dequantize expects integer pixels 0 .. {levels - 1}, got dtype {x.dtype}")
    if x.is_floating_point():
        if not bool(torch.isfinite(x).all()):
            raise ValueError("dequantize got non-finite pixel values (NaN or inf)")
        if not torch.equal(x, x.round()):
            raise ValueError("dequantize expects integer-valued pixels (0 .. levels-1), got fractional values")
    if x.min() < 0 or x.max() > levels - 1:
        raise ValueError(f"dequantize: pixel values must lie in [0, {levels - 1}], "
                         f"got [{x.min().item()}, {x.max().item()}]")
    dtype = torch.get_default_dtype()
    u = torch.rand(x.shape, generator=generator, dtype=dtype, device=generator.device if generator else "cpu")
    u = u.to(x.device)
    x = x.to(dtype)
    upper = torch.nextafter((x + 1) / levels, torch.zeros((), dtype=dtype, device=x.device))
    return torch.minimum((x + u) / levels, upper)
