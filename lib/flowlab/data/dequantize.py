r"""From discrete pixels to a continuous density problem: uniform dequantization.

:math:`y = (x + u)/K`, :math:`u \sim U[0, 1)`, maps pixel :math:`x \in \{0..K-1\}` into its bin
:math:`[x/K, (x+1)/K)`, so that a density on :math:`[0, 1)^D` bounds the discrete likelihood
(see :mod:`flowlab.measure.bits`).
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import torch
from torch import Tensor

from flowlab.validate import Rng, check_pixels, checked


@lru_cache(maxsize=16)
def _lower_edges(levels: int, dtype: torch.dtype) -> Tensor:
    """Per pixel value ``x`` in 0..K-1, the smallest number of ``dtype`` that is >= ``x / K`` as a real.

    ``fl(x / K)`` is the nearest number, below the real ``x / K`` about half the time when ``K`` is not a
    power of two: it moves up one step there (``Fraction`` compares the two exactly)."""
    edges = torch.arange(levels, dtype=dtype) / levels
    below = torch.tensor([Fraction(e) < Fraction(x, levels) for x, e in enumerate(edges.tolist())])
    return torch.where(below, torch.nextafter(edges, torch.ones((), dtype=dtype)), edges)


@checked
def dequantize(x: Tensor, levels: int, generator: Rng = None) -> Tensor:
    r"""Uniform dequantization :math:`y = (x + u)/K`, :math:`u \sim U[0,1)`: integers in [0, K) to [0, 1).

    Every value lies in its pixel's bin: :math:`x/K \le y < (x+1)/K`, with :math:`y` read as the real
    number its floating-point value (of the default dtype, e.g. float32) represents and the edges as
    exact fractions. Float rounding alone would break both ends: :math:`(x + u)/K` rounds up to the
    upper edge (1.0 for :math:`x = 255`, :math:`K = 256`), and when :math:`u` is below half of
    :math:`x`'s float spacing :math:`x + u` rounds to :math:`x`, whose :math:`x/K` rounds below the bin
    unless :math:`K` is a power of two. Such values are moved to the nearest number inside the bin;
    every other value is :math:`(x + u)/K` as computed (for :math:`K = 256`, all of them).
    """
    check_pixels(x, levels, "dequantize")
    dtype = torch.get_default_dtype()
    u = torch.rand(x.shape, generator=generator, dtype=dtype, device=generator.device if generator else "cpu")
    u = u.to(x.device)
    lower = _lower_edges(int(levels), dtype).to(x.device)[x.long()]
    x = x.to(dtype)
    upper = torch.nextafter((x + 1) / levels, torch.zeros((), dtype=dtype, device=x.device))
    return torch.minimum(torch.maximum((x + u) / levels, lower), upper)
