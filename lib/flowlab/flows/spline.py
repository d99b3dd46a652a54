r"""Monotone rational-quadratic splines (Durkan et al. 2019), elementwise, with linear tails.

A universal 1D flow: any continuous, strictly increasing map of :math:`\mathbb R` can be approximated
by one, so by the probability integral transform (the lectures' "Universal Flows in 1D") it can carry
any continuous 1D density to the base Gaussian.

On :math:`[-B, B]` the map is given by :math:`K` bins with knots :math:`(x_k, y_k)`,
:math:`x_0 = y_0 = -B`, :math:`x_K = y_K = B`, and positive derivatives :math:`d_k` at the knots.
In bin :math:`k`, with :math:`w_k = x_{k+1} - x_k`, :math:`h_k = y_{k+1} - y_k`,
:math:`s_k = h_k / w_k` and :math:`\xi = (x - x_k)/w_k \in [0, 1]`:

.. math:: y = y_k + \frac{h_k\,[s_k \xi^2 + d_k \xi(1-\xi)]}{s_k + (d_{k+1} + d_k - 2 s_k)\,\xi(1-\xi)},

.. math:: \frac{dy}{dx} = \frac{s_k^2\,[d_{k+1}\xi^2 + 2 s_k \xi(1-\xi) + d_k (1-\xi)^2]}
                              {[s_k + (d_{k+1} + d_k - 2 s_k)\,\xi(1-\xi)]^2} > 0.

The inverse solves the quadratic :math:`a\xi^2 + b\xi + c = 0` for the root in :math:`[0,1]`,
with :math:`\Delta = y - y_k`, :math:`\delta = d_{k+1} + d_k - 2 s_k`,
:math:`a = h_k(s_k - d_k) + \Delta\delta`, :math:`b = h_k d_k - \Delta\delta`, :math:`c = -s_k\Delta`:
:math:`\xi = 2c / (-b - \sqrt{b^2 - 4ac})` (the numerically stable form).

Outside :math:`[-B, B]` the map is the identity, and :math:`d_0 = d_K = 1` makes it :math:`C^1`.
Parameters are unconstrained: widths and heights go through a softmax with a minimum bin size, inner
derivatives through a softplus with a minimum (the parametrization of nflows and the paper).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowlab.flows.base import Flow
from flowlab.validate import AtLeast, Count, Positive, checked

__all__ = ["spline_knots", "rq_spline", "RationalQuadraticSpline"]


def spline_knots(raw_widths: Tensor, raw_heights: Tensor, raw_derivatives: Tensor, bound: float,
                 min_bin_width: float = 1e-3, min_bin_height: float = 1e-3,
                 min_derivative: float = 1e-3) -> tuple[Tensor, Tensor, Tensor]:
    """Knots ``(x_k, y_k, d_k)``, each ``[..., K+1]``, from unconstrained ``[..., K]``, ``[..., K]``, ``[..., K-1]``
    (shapes and minima as :class:`RationalQuadraticSpline` checks them: ``min * K < 1``)."""
    bins = raw_widths.shape[-1]

    def edges(raw, minimum):
        frac = minimum + (1 - minimum * bins) * torch.softmax(raw, dim=-1)
        cum = F.pad(torch.cumsum(frac, dim=-1), (1, 0))
        cum = 2 * bound * cum - bound
        # Pin the ends exactly: rounding in the cumsum must not move the tails.
        return torch.cat([torch.full_like(cum[..., :1], -bound), cum[..., 1:-1],
                          torch.full_like(cum[..., :1], bound)], dim=-1)

    inner = min_derivative + F.softplus(raw_derivatives)
    ones = torch.ones_like(inner[..., :1])
    return edges(raw_widths, min_bin_width), edges(raw_heights, min_bin_height), torch.cat([ones, inner, ones], -1)


def _gather(t: Tensor, idx: Tensor) -> Tensor:
    return t.gather(-1, idx).squeeze(-1)


def rq_spline(inputs: Tensor, xk: Tensor, yk: Tensor, dk: Tensor, inverse: bool = False) -> tuple[Tensor, Tensor]:
    """Apply the spline with knots ``xk, yk, dk`` ([..., K+1], broadcast against ``inputs[..., None]``).

    Returns the output and the elementwise log-derivative of the direction computed. Inputs outside
    ``[x_0, x_K]`` pass through unchanged (log-derivative 0).
    """
    shape = inputs.shape + xk.shape[-1:]
    xk, yk, dk = xk.expand(shape), yk.expand(shape), dk.expand(shape)
    lo, hi = (yk if inverse else xk)[..., 0], (yk if inverse else xk)[..., -1]
    inside = (inputs >= lo) & (inputs <= hi)
    u = torch.where(inside, inputs, torch.zeros_like(inputs))  # keeps gradients finite off the interval
    inner_knots = (yk if inverse else xk)[..., 1:-1].contiguous()
    idx = torch.searchsorted(inner_knots, u[..., None].contiguous(), right=True)
    x0, x1 = _gather(xk, idx), _gather(xk, idx + 1)
    y0, y1 = _gather(yk, idx), _gather(yk, idx + 1)
    d0, d1 = _gather(dk, idx), _gather(dk, idx + 1)
    w, h = x1 - x0, y1 - y0
    s = h / w
    delta = d1 + d0 - 2 * s
    if inverse:
        dy = u - y0
        a = h * (s - d0) + dy * delta
        b = h * d0 - dy * delta
        c = -s * dy
        disc = (b * b - 4 * a * c).clamp_min(0)
        xi = (2 * c / (-b - disc.sqrt())).clamp(0, 1)
        out = x0 + xi * w
    else:
        xi = (u - x0) / w
        out = y0 + h * (s * xi ** 2 + d0 * xi * (1 - xi)) / (s + delta * xi * (1 - xi))
    t = xi * (1 - xi)
    denom = s + delta * t
    log_deriv = (2 * s.log() + (d1 * xi ** 2 + 2 * s * t + d0 * (1 - xi) ** 2).log() - 2 * denom.log())
    if inverse:
        log_deriv = -log_deriv
    out = torch.where(inside, out, inputs)
    return out, torch.where(inside, log_deriv, torch.zeros_like(log_deriv))


class RationalQuadraticSpline(Flow):
    r"""An elementwise monotone RQ spline per feature on :math:`[-B, B]`, identity outside.

    ``forward`` maps data to latent; log-det is the sum over features of :math:`\log dy/dx`.
    Initialised to the identity (uniform bins, unit derivatives).
    """

    @checked
    def __init__(self, features: Count, bins: AtLeast(2) = 8, bound: Positive = 3.0, min_bin_width: float = 1e-3,
                 min_bin_height: float = 1e-3, min_derivative: float = 1e-3):
        super().__init__()
        if not (0 < min_derivative < 1 and min_bin_width * bins < 1 and min_bin_height * bins < 1):
            raise ValueError("RationalQuadraticSpline needs min_derivative in (0, 1), min_bin_* < 1 / bins")
        self.features, self.bins, self.bound = features, bins, bound
        self.event_shape = (features,)
        self.mins = (min_bin_width, min_bin_height, min_derivative)
        self.raw_widths = nn.Parameter(torch.zeros(features, bins))
        self.raw_heights = nn.Parameter(torch.zeros(features, bins))
        # softplus(c) + min_derivative = 1: unit inner derivatives, so the spline starts as the identity.
        c = math.log(math.expm1(1 - min_derivative))
        self.raw_derivatives = nn.Parameter(torch.full((features, bins - 1), c))

    def knots(self) -> tuple[Tensor, Tensor, Tensor]:
        return spline_knots(self.raw_widths, self.raw_heights, self.raw_derivatives, self.bound, *self.mins)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z, ld = rq_spline(x, *self.knots())
        return z, ld.sum(-1)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        x, ld = rq_spline(z, *self.knots(), inverse=True)
        return x, ld.sum(-1)
