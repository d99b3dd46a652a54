r"""The inverse of an increasing scalar map by bisection: how a 1D flow without a closed-form inverse is
inverted (notebook 05 inverts a mixture's CDF, :math:`G(u) = \inf\{x : F(x) = u\}`; the planar flow
solves its scalar equation this way).

If :math:`f` is increasing and :math:`f(\ell) \le y \le f(h)`, halving the bracket :math:`[\ell, h]`
towards the side that holds the root keeps it there: after :math:`k` halvings the midpoint is within
:math:`(h - \ell) / 2^{k+1}` of :math:`f^{-1}(y)`, whatever :math:`f` is. A fixed number of halvings
keeps the solve free of data-dependent control flow, elementwise over a batch.
"""
from __future__ import annotations

import torch
from torch import Tensor

from flowlab.validate import Count, FloatTensor, Function, checked


@checked
def invert_increasing(f: Function, y: FloatTensor, lo: float | Tensor, hi: float | Tensor,
                      iterations: Count = 60) -> Tensor:
    """The ``x`` in ``[lo, hi]`` with ``f(x) = y``, elementwise, for an elementwise increasing ``f``:
    the midpoint of the bracket after ``iterations`` halvings (no gradient flows through it)."""
    return bisect_increasing(f, y, lo, hi, iterations)


def bisect_increasing(f, y: Tensor, lo: float | Tensor, hi: float | Tensor, iterations: int) -> Tensor:
    """:func:`invert_increasing` without input checks, for the solvers of the layers (planar, Sylvester),
    whose ``y`` comes from a checked input and their own parameters."""
    with torch.no_grad():
        lo = torch.as_tensor(lo, dtype=y.dtype, device=y.device).expand_as(y)
        hi = torch.as_tensor(hi, dtype=y.dtype, device=y.device).expand_as(y)
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            above = f(mid) > y
            hi = torch.where(above, mid, hi)
            lo = torch.where(above, lo, mid)
        return 0.5 * (lo + hi)
