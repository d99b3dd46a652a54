r"""Empirical scaling laws: the exponent :math:`k` of :math:`y \approx c\,x^k`, fitted on a log-log scale.

Used wherever a lecture claims an order (cost linear in :math:`D`, error :math:`O(1/L^4)`, ...).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch


def _pairs(x, y, who: str):
    """``x`` and ``y`` as float64 vectors of at least two finite (x, y) pairs, x not all equal."""
    try:
        x = torch.as_tensor(x, dtype=torch.float64).flatten()
        y = torch.as_tensor(y, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{who} expects two sequences of numbers, got {type(x).__name__} "
                        f"and {type(y).__name__}") from None
    if x.numel() != y.numel() or x.numel() < 2:
        raise ValueError(f"{who} needs at least two (x, y) pairs of equal length, got {x.numel()} and {y.numel()}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError(f"{who} needs finite x and y, got x={x.tolist()}, y={y.tolist()}")
    if bool((x == x[0]).all()):
        raise ValueError(f"{who}: x takes a single value {x[0].item()}, so no slope can be fitted")
    return x, y


def _loglog(x, y, who: str):
    x, y = _pairs(x, y, who)
    if (x <= 0).any() or (y <= 0).any():
        raise ValueError(f"{who}: a log-log slope needs positive, finite x and y")
    return x.log(), y.log()


def loglog_fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of log y against log x and its standard error (nan for two points)."""
    return _loglog_fit(x, y, "loglog_fit")


def _loglog_fit(x, y, who: str) -> tuple[float, float]:
    lx, ly = _loglog(x, y, who)
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
    x, y = _pairs(x, y, "linear_fit")
    xc = x - x.mean()
    slope = (xc * (y - y.mean())).sum() / (xc ** 2).sum()
    ss_tot = ((y - y.mean()) ** 2).sum()
    if ss_tot == 0:
        return float(slope), 1.0
    resid = y - y.mean() - slope * xc
    return float(slope), float(1 - (resid ** 2).sum() / ss_tot)


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log y against log x (the order of a power law y ~ x^slope)."""
    return _loglog_fit(x, y, "loglog_slope")[0]
