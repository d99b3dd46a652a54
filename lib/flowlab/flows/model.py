r"""A density model: a base distribution pushed through a flow.

.. math:: \log p_X(x) = \log p_Z(f(x)) + \log\left|\det \frac{\partial f}{\partial x}\right|

Sampling draws :math:`z \sim p_Z` and returns :math:`f^{-1}(z)`.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, distributions as D, nn

from flowlab.flows.base import Flow


class StandardNormal(nn.Module):
    """:math:`\\mathcal N(0, I)` over events of ``shape``, living on the module's device/dtype."""

    def __init__(self, shape: Sequence[int] | int):
        super().__init__()
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if not shape or any(int(s) <= 0 for s in shape):
            raise ValueError(f"StandardNormal needs a non-empty positive event shape, got {shape}")
        self.shape = shape
        # A buffer so that .to(device, dtype) moves the distribution with the model.
        self.register_buffer("_zero", torch.zeros(()), persistent=False)

    def distribution(self) -> D.Distribution:
        loc = self._zero.expand(self.shape)
        return D.Independent(D.Normal(loc, torch.ones_like(loc)), len(self.shape))

    def log_prob(self, z: Tensor) -> Tensor:
        return self.distribution().log_prob(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        shape = (n, *self.shape)
        return torch.randn(shape, generator=generator, dtype=self._zero.dtype, device=self._zero.device)


class FlowModel(nn.Module):
    """``log_prob(x)`` and ``sample(n)`` for a flow ``f`` (data to latent) over a base ``p_Z``."""

    def __init__(self, flow: Flow, base: nn.Module):
        super().__init__()
        if not isinstance(flow, Flow):
            raise TypeError(f"FlowModel expects a Flow, got {type(flow).__name__}")
        self.flow = flow
        self.base = base

    def log_prob(self, x: Tensor) -> Tensor:
        z, logdet = self.flow(x)
        return self.base.log_prob(z) + logdet

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"sample expects a positive number of samples, got {n!r}")
        x, _ = self.flow.inverse(self.base.sample(n, generator=generator))
        return x
