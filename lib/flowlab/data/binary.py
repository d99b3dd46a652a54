r"""Binarized images for Bernoulli likelihoods.

From integer pixels :math:`x \in \{0, \dots, K-1\}`, a binary image is either drawn,
:math:`b \sim \mathrm{Bernoulli}(x / (K-1))` (*stochastic* binarization; drawing afresh for every
training batch is the "dynamic binarization" of the VAE literature, and the expected image is the
grey-level one), or thresholded, :math:`b = [x / (K-1) > t]` (deterministic).
"""
from __future__ import annotations

import torch
from torch import Tensor

from flowlab.validate import FractionIn, Rng, check_pixels, checked


@checked
def binarize(images: Tensor, levels: int, generator: Rng = None, *,
             threshold: FractionIn(zero=True, optional=True) = None) -> Tensor:
    """Binary int64 images (0/1) of the shape of ``images`` (integer pixels ``0 .. levels - 1``):
    Bernoulli draws from ``generator``, or ``pixel / (levels - 1) > threshold`` when ``threshold`` is given."""
    who = "binarize"
    check_pixels(images, levels, who)
    p = images.to(torch.float64) / (levels - 1)
    if threshold is not None:
        return (p > threshold).long()
    u = torch.rand(p.shape, generator=generator, dtype=torch.float64, device=p.device)
    return (u < p).long()
