r"""Binary masks for coupling layers: :math:`b_i = 1` marks a copied coordinate.

- :func:`half_mask` and :func:`alternating_mask`: vectors ``[D]`` (first half / every other);
- :func:`channel_mask`: images ``[C, 1, 1]``, the first half of the channels (Glow's split);
- :func:`checkerboard_mask`: images ``[1, H, W]``, pixels with ``(i + j) % 2 == parity``.

Parity 1 is the complement, so two layers of opposite parity transform every coordinate.
"""
from __future__ import annotations

import torch
from torch import Tensor

from flowlab.validate import AtLeast, Count, OneOf, checked

__all__ = ["checkerboard_mask", "channel_mask", "alternating_mask", "half_mask"]

Parity = OneOf((0, 1))  # which of the two complementary masks (not a bool, not 1.0)


@checked
def checkerboard_mask(h: Count, w: Count, parity: Parity = 0) -> Tensor:
    """``[1, h, w]`` mask with ``b[i, j] = 1`` where ``(i + j) % 2 == parity`` (copied pixels)."""
    if h * w < 2:
        raise ValueError(f"checkerboard_mask needs positive integer h, w with h*w >= 2, got {h}, {w}")
    i = torch.arange(h)[:, None]
    j = torch.arange(w)[None, :]
    return ((i + j) % 2 == parity).to(torch.get_default_dtype())[None]


@checked
def channel_mask(c: AtLeast(2), parity: Parity = 0) -> Tensor:
    """``[c, 1, 1]`` mask copying the first ``c // 2`` channels (parity 0) or the rest (parity 1)."""
    return _half(c, parity)[:, None, None]


@checked
def half_mask(d: AtLeast(2), parity: Parity = 0) -> Tensor:
    """``[d]`` mask copying the first ``d // 2`` features (parity 0) or the last ``d - d//2`` (parity 1)."""
    return _half(d, parity)


def _half(d: int, parity: int) -> Tensor:
    first = (torch.arange(d) < d // 2).to(torch.get_default_dtype())
    return first if parity == 0 else 1 - first


def alternating_mask(d: int, parity: Parity = 0) -> Tensor:
    """``[d]`` mask copying the features with index ``i % 2 == parity`` (``d >= 2``, ``parity`` 0 or 1:
    built by :func:`~flowlab.flows.coupling.realnvp`, which checks them)."""
    return (torch.arange(d) % 2 == parity).to(torch.get_default_dtype())
