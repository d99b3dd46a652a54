r"""Empirical scaling laws: the exponent :math:`k` of :math:`y \approx c\,x^k`, fitted on a log-log scale.

Used wherever a lecture claims an order (cost linear in :math:`D`, error :math:`O(1/L^4)`, ...).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from flowlab.validate import Array, checked


def _check_pairs(x, y, who: str, *, loglog: bool = False):
    """Arrays ``x`` and ``y`` (checked finite by the entry) as float64 vectors of at least two (x, y) pairs,
    x not all equal (and both positive for a log-log fit)."""
    x, y = torch.as_tensor(x).flatten(), torch.as_tensor(y).flatten()
    if x.numel() != y.numel() or x.numel() < 2:
        raise ValueError(f"{who} needs at least two (x, y) pairs of equal length, got {x.numel()} and {y.numel()}")
    if bool((x == x[0]).all()):
        raise ValueError(f"{who}: x takes a single value {x[0].item()}, so no slope can be fitted")
    if loglog and ((x <= 0).any() or (y <= 0).any()):
        raise ValueError(f"{who}: a log-log slope needs positive, finite x and y")
    return x, y


@checked
def loglog_fit(x: Array, y: Array) -> tuple[float, float]:
    """Least-squares slope of log y against log x and its standard error (nan for two points)."""
    x, y = _check_pairs(x, y, "loglog_fit", loglog=True)
    lx, ly = x.log(), y.log()
    lx = lx - lx.mean()
    slope = (lx * (ly - ly.mean())).sum() / (lx ** 2).sum()
    n = lx.numel()
    if n < 3:
        return float(slope), math.nan
    resid = ly - ly.mean() - slope * lx
    se = ((resid ** 2).sum() / (n - 2) / (lx ** 2).sum()).sqrt()
    return float(slope), float(se)


@checked
def linear_fit(x: Array, y: Array) -> tuple[float, float]:
    """Least-squares slope of y against x and the fit's R^2 (1 when y is constant)."""
    x, y = _check_pairs(x, y, "linear_fit")
    xc = x - x.mean()
    slope = (xc * (y - y.mean())).sum() / (xc ** 2).sum()
    ss_tot = ((y - y.mean()) ** 2).sum()
    if ss_tot == 0:
        return float(slope), 1.0
    resid = y - y.mean() - slope * xc
    return float(slope), float(1 - (resid ** 2).sum() / ss_tot)


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log y against log x (the order of a power law y ~ x^slope): the slope of
    :func:`loglog_fit`, which checks the pairs."""
    return loglog_fit(x, y)[0]
