r"""Gradient estimators for :math:`\nabla_\phi\, \mathbb E_{q_\phi}[f(z)]`,
:math:`q_\phi = \mathcal N(\mu, \mathrm{diag}\,\sigma^2)`, :math:`\phi = (\mu, \log\sigma)`: the two of lecture 001
("What about Reparametrization?").

Both return one gradient estimate per draw, ``[num_samples, d]`` for each of :math:`\mu` and
:math:`\log\sigma` (:class:`GradientSamples`): their mean is the estimate, their spread its variance.

- **Reparametrization** (pathwise): :math:`z = \mu + \sigma \odot \varepsilon`,
  :math:`\varepsilon \sim \mathcal N(0, I)`, so
  :math:`\nabla_\mu f(z) = \nabla f(z)` and
  :math:`\nabla_{\log\sigma} f(z) = \nabla f(z) \odot \sigma \odot \varepsilon`.
  It needs :math:`f` differentiable and uses its gradient.
- **REINFORCE** (score function, likelihood ratio):
  :math:`\nabla_\phi \mathbb E_q[f] = \mathbb E_q[(f(z) - c)\,\nabla_\phi \log q_\phi(z)]`
  with :math:`\nabla_\mu \log q = \varepsilon / \sigma` and :math:`\nabla_{\log\sigma} \log q = \varepsilon^2 - 1`,
  for any constant baseline :math:`c` (default 0; :math:`\mathbb E[\nabla \log q] = 0` keeps it unbiased).
  It needs only values of :math:`f`, and its variance grows with the size of :math:`f` and the dimension.

``f`` maps a batch of points ``[n, d]`` to values ``[n]``; draws come from an explicit ``generator``.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from flowlab.validate import Count, Function, Number, SeededRng, Shape, checked

__all__ = ["GradientSamples", "reparametrization_gradient", "score_function_gradient"]


class GradientSamples(NamedTuple):
    """Per-draw gradient estimates with respect to the mean and the log standard deviation, [n, d] each."""

    mean: Tensor
    log_std: Tensor


def _draw(mean: Tensor, num_samples: int, generator: torch.Generator) -> Tensor:
    return torch.randn(num_samples, mean.shape[0], generator=generator, dtype=mean.dtype, device=mean.device)


def _values(f, z: Tensor, who: str) -> Tensor:
    values = f(z)
    if not isinstance(values, Tensor) or values.shape != (z.shape[0],):
        got = list(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise ValueError(f"{who}: f must map points [n, d] to values [n]; got {got} for n = {z.shape[0]}")
    return values


@checked
def reparametrization_gradient(f: Function, mean: Shape("d"), log_std: Shape("d"), *, num_samples: Count,
                               generator: SeededRng) -> GradientSamples:
    """Pathwise estimates :math:`\\nabla f(z_s)` and :math:`\\nabla f(z_s) \\odot \\sigma \\odot \\varepsilon_s`."""
    who = "reparametrization_gradient"
    eps = _draw(mean, num_samples, generator)
    std = log_std.detach().exp()
    with torch.enable_grad():
        z = (mean.detach() + std * eps).requires_grad_(True)
        (grad,) = torch.autograd.grad(_values(f, z, who).sum(), z)  # rows are independent: per-draw gradients
    return GradientSamples(grad, grad * std * eps)


@checked
def score_function_gradient(f: Function, mean: Shape("d"), log_std: Shape("d"), *, num_samples: Count,
                            generator: SeededRng, baseline: Number = 0.0) -> GradientSamples:
    """REINFORCE estimates :math:`(f(z_s) - c)\\,\\varepsilon_s/\\sigma` and
    :math:`(f(z_s) - c)(\\varepsilon_s^2 - 1)`."""
    who = "score_function_gradient"
    eps = _draw(mean, num_samples, generator)
    std = log_std.detach().exp()
    with torch.no_grad():
        centred = (_values(f, mean.detach() + std * eps, who) - baseline).unsqueeze(-1)
    return GradientSamples(centred * eps / std, centred * (eps * eps - 1))
