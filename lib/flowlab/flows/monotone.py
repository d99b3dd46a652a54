r"""The inverse of an increasing scalar map by bisection: how a 1D flow without a closed-form inverse is
inverted (notebook 05 inverts a mixture's CDF, :math:`G(u) = \inf\{x : F(x) = u\}`; the planar flow
solves its scalar equation this way).

If :math:`f` is increasing and :math:`f(\ell) \le y \le f(h)`, halving the bracket :math:`[\ell, h]`
towards the side that holds the root keeps it there: after :math:`k` halvings the midpoint is within
:math:`(h - \ell) / 2^{k+1}` of :math:`f^{-1}(y)`, whatever :math:`f` is. A fixed number of halvings
keeps the solve free of data-dependent control flow, elementwise over a batch.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from flowlab.validate import check_callable, check_count, check_tensor


def invert_increasing(f: Callable[[Tensor], Tensor], y: Tensor, lo: float | Tensor, hi: float | Tensor,
                      iterations: int = 60) -> Tensor:
    """The ``x`` in ``[lo, hi]`` with ``f(x) = y``, elementwise, for an elementwise increasing ``f``:
    the midpoint of the bracket after ``iterations`` halvings (no gradient flows through it)."""
    check_callable(f, "f", "invert_increasing")
    check_tensor(y, "invert_increasing (its y)")
    check_count(iterations, "iterations", "invert_increasing")
    with torch.no_grad():
        lo = torch.as_tensor(lo, dtype=y.dtype, device=y.device).expand_as(y)
        hi = torch.as_tensor(hi, dtype=y.dtype, device=y.device).expand_as(y)
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            above = f(mid) > y
            hi = torch.where(above, mid, hi)
            lo = torch.where(above, lo, mid)
        return 0.5 * (lo + hi)
