r"""A density model: a base distribution pushed through a flow.

.. math:: \log p_X(x) = \log p_Z(f(x)) + \log\left|\det \frac{\partial f}{\partial x}\right|

Sampling draws :math:`z \sim p_Z` and returns :math:`f^{-1}(z)`. ``log_prob`` checks its data once,
against the events the flow takes; the flow and the base then trust what they are given.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch import distributions as D

from flowlab.flows.base import Flow, first_parameter, inside, trusted
from flowlab.validate import Count, EventShape, IsA, Rng, check_shape, checked


class StandardNormal(nn.Module):
    """:math:`\\mathcal N(0, I)` over events of ``shape``, living on the module's device/dtype."""

    @checked
    def __init__(self, shape: EventShape):
        super().__init__()
        self.shape = shape
        # A buffer so that .to(device, dtype) moves the distribution with the model.
        self.register_buffer("_zero", torch.zeros(()), persistent=False)

    def distribution(self) -> D.Distribution:
        loc = self._zero.expand(self.shape)
        return D.Independent(D.Normal(loc, torch.ones_like(loc)), len(self.shape))

    def log_prob(self, z: Tensor) -> Tensor:
        if not inside():  # a model's latent was checked as its data
            check_shape(z, self.shape, "StandardNormal.log_prob")
        return self.distribution().log_prob(z)

    @checked
    def sample(self, n: Count, generator: Rng = None) -> Tensor:
        return torch.randn((n, *self.shape), generator=generator, dtype=self._zero.dtype, device=self._zero.device)


class FlowModel(nn.Module):
    """``log_prob(x)`` and ``sample(n)`` for a flow ``f`` (data to latent) over a base ``p_Z``."""

    @checked
    def __init__(self, flow: IsA(Flow, "a flowlab Flow"), base: nn.Module):
        super().__init__()
        if not (callable(getattr(base, "log_prob", None)) and callable(getattr(base, "sample", None))):
            raise TypeError(f"FlowModel expects a base with log_prob(z) and sample(n), got {type(base).__name__}")
        self.flow = flow
        self.base = base

    def log_prob(self, x: Tensor) -> Tensor:
        if inside():  # a caller that validated x (a compiled training step's loss, in trusted()): no checks,
            return self._log_prob(x)  # and no context to enter, which would break a compiled graph
        if isinstance(x, Tensor) and not (x.is_floating_point() or x.dtype == torch.bool or x.is_complex()):
            raise TypeError(f"FlowModel.log_prob expects floating point data (pixels dequantized into [0, 1)), got "
                            f"{x.dtype}: y = flowlab.data.dequantize(x, levels, generator); .float() keeps 0..levels-1")
        self.flow.check_input(x, who="FlowModel.log_prob", like=first_parameter(self))
        with trusted():
            return self._log_prob(x)

    def _log_prob(self, x: Tensor) -> Tensor:
        z, logdet = self.flow(x)
        return self.base.log_prob(z) + logdet

    @torch.no_grad()
    @checked
    def sample(self, n: Count, generator: Rng = None) -> Tensor:
        z = self.base.sample(n, generator=generator)
        with trusted():  # the base's own draws
            x, _ = self.flow.inverse(z)
        return x

