r"""Empirical scaling laws: the exponent :math:`k` of :math:`y \approx c\,x^k`, fitted on a log-log scale.

Used wherever a lecture claims an order (cost linear in :math:`D`, error :math:`O(1/L^4)`, ...).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch


def _loglog(x, y):
    x = torch.as_tensor(x, dtype=torch.float64).flatten()
    y = torch.as_tensor(y, dtype=torch.float64).flatten()
    if x.numel() != y.numel() or x.numel() < 2:
        raise ValueError(f"need at least two (x, y) pairs of equal length, got {x.numel()} and {y.numel()}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()) or (x <= 0).any() or (y <= 0).any():
        raise ValueError("a log-log slope needs positive, finite x and y")
    return x.log(), y.log()


def loglog_fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of log y against log x and its standard error (nan for two points)."""
    lx, ly = _loglog(x, y)
    lx = lx - lx.mean()
    slope = (lx * (ly - ly.mean())).sum() / (lx ** 2).sum()
    n = lx.numel()
    if n < 3:
        return float(slope), math.nan
    resid = ly - ly.mean() - slope * lx
    se = ((resid ** 2).sum() / (n - 2) / (lx ** 2).sum()).sqrt()
    return float(slope), float(se)


def linear_fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of y against x and the fit's R^2 (1 when y is constant)."""
    x = torch.as_tensor(x, dtype=torch.float64).flatten()
    y = torch.as_tensor(y, dtype=torch.float64).flatten()
    if x.numel() != y.numel() or x.numel() < 2:
        raise ValueError(f"need at least two (x, y) pairs of equal length, got {x.numel()} and {y.numel()}")
    xc = x - x.mean()
    slope = (xc * (y - y.mean())).sum() / (xc ** 2).sum()
    ss_tot = ((y - y.mean()) ** 2).sum()
    if ss_tot == 0:
        return float(slope), 1.0
    resid = y - y.mean() - slope * xc
    return float(slope), float(1 - (resid ** 2).sum() / ss_tot)


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log y against log x (the order of a power law y ~ x^slope)."""
    return loglog_fit(x, y)[0]
