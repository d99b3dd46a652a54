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
from flowlab.validate import check_choice, check_count, check_generator, check_shape

POSTERIORS = ("gaussian",) + AMORTIZED_FLOWS


def repeat_rows(tensors: dict[str, Tensor], times: int) -> dict[str, Tensor]:
    """Each ``[batch, ...]`` tensor repeated ``times`` times as ``[times * batch, ...]``, draw-major
    (row ``s * batch + b`` is datapoint ``b``), to match ``z.reshape(times * batch, d)``."""
    check_count(times, "times", "repeat_rows")
    if not isinstance(tensors, dict) or not all(isinstance(v, Tensor) and v.dim() >= 1 for v in tensors.values()):
        raise TypeError("repeat_rows expects a dict of tensors with a leading batch dimension")
    return {k: v.unsqueeze(0).expand(times, *v.shape).reshape(times * v.shape[0], *v.shape[1:])
            for k, v in tensors.items()}


class FlowPosterior(nn.Module):
    """:math:`q(z|x)`: Gaussian heads on the encoder's features, then ``num_flows`` amortized maps
    of kind ``flow`` (``"gaussian"``: none; else one of :data:`flowlab.flows.AMORTIZED_FLOWS`)."""

    min_var = 1e-4  # keeps log q finite when a variance head saturates

    def __init__(self, context_features: int, latent: int, flow: str = "gaussian", num_flows: int = 0,
                 **flow_options):
        super().__init__()
        self.context_features = check_count(context_features, "context_features", "FlowPosterior")
        self.latent = check_count(latent, "latent", "FlowPosterior")
        self.kind = check_choice(flow, POSTERIORS, "posterior flow", "FlowPosterior")
        self.num_flows = check_count(num_flows, "num_flows", "FlowPosterior", minimum=0)
        if (flow == "gaussian") != (num_flows == 0):
            raise ValueError(f"FlowPosterior: a 'gaussian' posterior has num_flows=0 and a flow posterior "
                             f"num_flows >= 1; got flow={flow!r}, num_flows={num_flows}")
        self.mean = nn.Linear(context_features, latent)
        self.var = nn.Linear(context_features, latent)
        self.flow = None if flow == "gaussian" else amortized_flow(flow, latent, num_flows, context_features,
                                                                   **flow_options)

    def raw_parameters(self, h: Tensor) -> dict[str, Tensor]:
        """``{"mean", "var_raw", *flow raw parameters}``, each ``[batch, ...]``."""
        check_shape(h, (self.context_features,), "FlowPosterior.raw_parameters (its features h)",
                    like=self.mean.weight)
        raw = {"mean": self.mean(h), "var_raw": self.var(h)}
        if self.flow is not None:
            raw.update(self.flow.raw_parameters(h))
        return raw

    def sample(self, raw: dict[str, Tensor], num_samples: int = 1,
               generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``num_samples`` reparametrized draws per datapoint: ``z`` [S, batch, latent] and
        ``log q(z|x)`` [S, batch]."""
        check_count(num_samples, "num_samples", "FlowPosterior.sample")
        check_generator(generator, "FlowPosterior.sample")
        if not isinstance(raw, dict) or "mean" not in raw or "var_raw" not in raw:
            raise ValueError("FlowPosterior.sample expects the raw parameters from raw_parameters(h)")
        mean = check_shape(raw["mean"], (self.latent,), "FlowPosterior.sample (its raw mean)", like=self.mean.weight)
        check_shape(raw["var_raw"], (self.latent,), "FlowPosterior.sample (its raw variance)", like=mean)
        if raw["var_raw"].shape != mean.shape:
            raise ValueError("FlowPosterior.sample: the raw mean and variance must have the same batch size")
        batch, d = mean.shape
        var = F.softplus(raw["var_raw"]) + self.min_var
        eps = torch.randn(num_samples, batch, d, generator=generator, dtype=mean.dtype,
                          device=mean.device)
        z = mean + var.sqrt() * eps
        log_q = -0.5 * (eps * eps + var.log() + math.log(2 * math.pi)).sum(-1)
        if self.flow is None:
            return z, log_q
        flow_raw = {k: v for k, v in raw.items() if k not in ("mean", "var_raw")}
        self.flow.check_raw(z[0], flow_raw)
        prepared = repeat_rows(self.flow.prepare(flow_raw), num_samples)
        z_k, logdet = self.flow.apply(z.reshape(num_samples * batch, d), prepared)
        return z_k.reshape(num_samples, batch, d), log_q - logdet.reshape(num_samples, batch)
