r"""Approximate posteriors :math:`q(z | x)`: a diagonal Gaussian, optionally followed by an amortized flow.

From the encoder's features :math:`h(x)`, linear heads give the mean :math:`\mu`, the variance
:math:`\sigma^2 = \mathrm{softplus}(\cdot) + \sigma^2_{\min}` and the flow's raw parameters
(:mod:`flowlab.flows.amortized`). A draw is reparametrized,

.. math:: z_0 = \mu + \sigma \odot \varepsilon,\ \varepsilon \sim \mathcal N(0, I),
          \qquad z_K = g_K \circ \dots \circ g_1(z_0),

.. math:: \log q(z_K | x) = \log \mathcal N(z_0; \mu, \mathrm{diag}\,\sigma^2)
          - \sum_k \log\left|\det \frac{\partial g_k}{\partial z_{k-1}}\right|,

so every quantity is a differentiable function of :math:`\varepsilon` and the parameters (the
reparametrization trick of lecture 003, "A Digression on Variational Inference"). The raw parameters
of a batch are one dict of ``[batch, ...]`` tensors: the encoder's output, or free tensors
optimised per datapoint (:class:`flowlab.models.LocalPosterior`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowlab.flows.amortized import AMORTIZED_FLOWS, amortized_flow

POSTERIORS = ("gaussian",) + AMORTIZED_FLOWS


def repeat_rows(tensors: dict[str, Tensor], times: int) -> dict[str, Tensor]:
    """Each ``[batch, ...]`` tensor repeated ``times`` times as ``[times * batch, ...]``, draw-major
    (row ``s * batch + b`` is datapoint ``b``), to match ``z.reshape(times * batch, d)``."""
    return {k: v.unsqueeze(0).expand(times, *v.shape).reshape(times * v.shape[0], *v.shape[1:])
            for k, v in tensors.items()}


class FlowPosterior(nn.Module):
    """:math:`q(z|x)`: Gaussian heads on the encoder's features, then ``num_flows`` amortized maps
    of kind ``flow`` (``"gaussian"``: none; else one of :data:`flowlab.flows.amortized.AMORTIZED_FLOWS`).

    A part of :class:`~flowlab.models.VAE`, which checks the sizes, the kind and the images once: the
    posterior trusts what the VAE hands it (the encoder's features, raw parameters of ``raw_shapes``)."""

    min_var = 1e-4  # keeps log q finite when a variance head saturates

    def __init__(self, context_features: int, latent: int, flow: str = "gaussian", num_flows: int = 0,
                 **flow_options):
        super().__init__()
        self.context_features, self.latent, self.kind, self.num_flows = context_features, latent, flow, num_flows
        self.mean = nn.Linear(context_features, latent)
        self.var = nn.Linear(context_features, latent)
        self.flow = None if flow == "gaussian" else amortized_flow(flow, latent, num_flows, context_features,
                                                                   **flow_options)

    @property
    def raw_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of one datapoint's entry of each raw parameter."""
        return {"mean": (self.latent,), "var_raw": (self.latent,), **(self.flow.shapes if self.flow else {})}

    def raw_parameters(self, h: Tensor) -> dict[str, Tensor]:
        """``{"mean", "var_raw", *flow raw parameters}``, each ``[batch, ...]``."""
        raw = {"mean": self.mean(h), "var_raw": self.var(h)}
        if self.flow is not None:
            raw.update(self.flow.raw_parameters(h))
        return raw

    def sample(self, raw: dict[str, Tensor], num_samples: int = 1,
               generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``num_samples`` reparametrized draws per datapoint: ``z`` [S, batch, latent] and
        ``log q(z|x)`` [S, batch]."""
        mean = raw["mean"]
        batch, d = mean.shape
        var = F.softplus(raw["var_raw"]) + self.min_var
        eps = torch.randn(num_samples, batch, d, generator=generator, dtype=mean.dtype,
                          device=mean.device)
        z = mean + var.sqrt() * eps
        log_q = -0.5 * (eps * eps + var.log() + math.log(2 * math.pi)).sum(-1)
        if self.flow is None:
            return z, log_q
        flow_raw = {k: v for k, v in raw.items() if k not in ("mean", "var_raw")}
        prepared = repeat_rows(self.flow.prepare(flow_raw), num_samples)
        z_k, logdet = self.flow.apply(z.reshape(num_samples * batch, d), prepared)
        return z_k.reshape(num_samples, batch, d), log_q - logdet.reshape(num_samples, batch)
