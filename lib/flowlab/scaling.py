r"""Empirical scaling laws: the exponent :math:`k` of :math:`y \approx c\,x^k`, fitted on a log-log scale.

Used wherever a lecture claims an order (cost linear in :math:`D`, error :math:`O(1/L^4)`, ...).
"""
from __future__ import annotations

from typing import Sequence

import torch


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log y against log x (the order of a power law y ~ x^slope)."""
    x = torch.as_tensor(x, dtype=torch.float64).flatten()
    y = torch.as_tensor(y, dtype=torch.float64).flatten()
    if x.numel() != y.numel() or x.numel() < 2:
        raise ValueError(f"need at least two (x, y) pairs of equal length, got {x.numel()} and {y.numel()}")
    if (x <= 0).any() or (y <= 0).any():
        raise ValueError("a log-log slope needs positive x and y")
    lx, ly = x.log(), y.log()
    lx = lx - lx.mean()
    return float((lx * (ly - ly.mean())).sum() / (lx ** 2).sum())
