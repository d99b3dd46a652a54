r"""Planar and radial flows (Rezende & Mohamed 2015): residual maps whose Jacobian is a rank-one update.

Both are defined in the *generative* direction :math:`g: z \mapsto z'` (latent to data), where
they have a closed form and a cheap log-det.

**Planar**, with :math:`h = \tanh`:

.. math:: g(z) = z + \hat u\, h(w^\top z + b), \qquad
          \log\left|\det \frac{\partial g}{\partial z}\right| = \log\left|1 + h'(w^\top z + b)\,\hat u^\top w\right|

(the matrix determinant lemma: :math:`\det(I + a w^\top) = 1 + w^\top a`). The map is invertible
when :math:`w^\top \hat u \ge -1`; the u-hat reparametrization guarantees it for any free :math:`u`:

.. math:: \hat u = u + \big[m(w^\top u) - w^\top u\big]\frac{w}{\|w\|^2}, \qquad
          m(x) = -1 + \log(1 + e^x), \qquad\text{so}\quad w^\top \hat u = m(w^\top u) > -1.

**Radial**, with :math:`r = \|z - z_0\|`, :math:`h(\alpha, r) = 1/(\alpha + r)`:

.. math:: g(z) = z + \beta h(\alpha, r)(z - z_0), \qquad
          \log|\det| = (d - 1)\log(1 + \beta h) + \log(1 + \beta h + \beta h'(\alpha, r)\, r),

with :math:`\alpha = \mathrm{softplus}(a) > 0` and :math:`\beta = -\alpha + \mathrm{softplus}(\beta')
\ge -\alpha`, which keeps :math:`g` invertible.

The closed-form map is :func:`planar_map`, with parameters shared (the layer) or one set per sample
(an amortized VAE posterior, :mod:`flowlab.flows.amortized`).

**Directions.** flowlab's ``forward`` is the normalizing direction :math:`x \mapsto z`, so here
``inverse(z)`` is the closed-form map :math:`g` with its log-det (the sampling path, the one that
reverse-KL fitting and VAE posteriors use), and ``forward(x)`` computes :math:`g^{-1}` numerically:

- planar: writing :math:`x = g(z)` and projecting on :math:`w` gives one scalar equation in
  :math:`\alpha = w^\top z`, :math:`\alpha + c\tanh(\alpha + b) = w^\top x` with
  :math:`c = w^\top \hat u \ge -1`; its left side is increasing (this is where u-hat is needed) and
  :math:`\alpha` lies within :math:`|c|` of :math:`w^\top x`, so bisection in that bracket finds it,
  Newton polishes it, and :math:`z = x - \hat u \tanh(\alpha + b)`;
- radial: :math:`\|x - z_0\| = r(1 + \beta/(\alpha + r))` is a quadratic in :math:`r` (closed form).

The last Newton step of the planar solve is taken with autograd on, at the detached root, so that
gradients with respect to ``x`` and the parameters are the implicit-function ones.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowlab.flows.base import Flow
from flowlab.flows.monotone import bisect_increasing
from flowlab.validate import Count, Shape, checked


@checked
def planar_u_hat(u: Shape("... d"), w: Shape("... d")) -> Tensor:
    r""":math:`\hat u = u + [m(w^\top u) - w^\top u] w / \|w\|^2`, batched over leading dimensions.

    Guarantees :math:`w^\top \hat u = -1 + \log(1 + e^{w^\top u}) > -1` (up to rounding) for any
    ``u`` and nonzero ``w``. Checks ``u`` and ``w``; the layer and the amortized posterior call
    :func:`u_hat_of`, which trusts their parameters.
    """
    return u_hat_of(u, w)


def u_hat_of(u: Tensor, w: Tensor) -> Tensor:
    """:func:`planar_u_hat` without input checks (``u``, ``w`` a layer's parameters or a posterior's heads)."""
    wtu = (w * u).sum(-1, keepdim=True)
    m = -1.0 + F.softplus(wtu)
    w_sq = (w * w).sum(-1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)
    return u + (m - wtu) * w / w_sq


def planar_map(z: Tensor, u_hat: Tensor, w: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    r""":math:`g(z) = z + \hat u \tanh(w^\top z + b)` and :math:`\log|1 + h'(w^\top z + b)\,\hat u^\top w|`.

    The one planar map: the parameters are shared (``u_hat``, ``w`` of shape [d], ``b`` a scalar) or
    one set per sample (``[batch, d]`` and ``[batch]``, an amortized posterior's). ``u_hat`` is taken
    as given: pass :func:`planar_u_hat` of free parameters to keep the map invertible.
    Returns ``(g(z), logdet)`` with ``logdet`` of shape [batch]. No input checks: its callers (the
    layer, the amortized posterior) have checked ``z`` and shaped the parameters.
    """
    t = torch.tanh((z * w).sum(-1) + b)
    # w^T u_hat > -1 (u-hat), so 1 + h' w^T u_hat > 0: log1p needs no absolute value. Few ops on
    # purpose: an 80-map posterior applies this 80 times per draw.
    logdet = torch.log1p((1 - t * t) * (u_hat * w).sum(-1))
    return torch.addcmul(z, t.unsqueeze(-1), u_hat), logdet


def solve_tanh_residual(target: Tensor, c: Tensor, a: Tensor, s: Tensor, iters: int = 64) -> Tensor:
    r"""Solve :math:`v + c\tanh(a v + s) = y` elementwise, without gradients, assuming :math:`ac \ge -1`.

    The left side then has derivative :math:`1 + ac\,\mathrm{sech}^2 \ge 0` (increasing) and, since
    :math:`|\tanh| \le 1`, the root lies in :math:`[y - |c|, y + |c|]`: bisection there always
    converges; two Newton steps then bring it to machine precision. Fixed iteration counts keep it
    free of data-dependent control flow.
    """
    with torch.no_grad():
        target, c, a, s = torch.broadcast_tensors(target.detach(), c.detach(), a.detach(), s.detach())
        v = bisect_increasing(lambda m: m + c * torch.tanh(a * m + s), target, target - c.abs(), target + c.abs(),
                              iters)
        for _ in range(2):
            t = torch.tanh(a * v + s)
            slope = 1 + a * c * (1 - t * t)
            step = (v + c * t - target) / slope
            v = torch.where(slope > 0, v - step, v)
        return v


class PlanarFlow(Flow):
    r"""Planar flow :math:`g(z) = z + \hat u \tanh(w^\top z + b)` with the u-hat reparametrization.

    ``inverse(z)`` is :math:`g` (closed form, sampling direction); ``forward(x)`` is :math:`g^{-1}`
    by a scalar root-find along :math:`w` (see the module docstring). Parameters ``u``, ``w``, ``b``
    are free: u-hat makes every value invertible.
    """

    @checked
    def __init__(self, features: Count, init_scale: float = 0.5):
        super().__init__()
        self.features = features
        self.event_shape = (self.features,)
        scale = init_scale / math.sqrt(features)
        self.u = nn.Parameter(torch.randn(features) * scale)
        self.w = nn.Parameter(torch.randn(features) * scale)
        self.b = nn.Parameter(torch.zeros(()))

    def u_hat(self) -> Tensor:
        return u_hat_of(self.u, self.w)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return planar_map(z, self.u_hat(), self.w, self.b)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        u_hat = self.u_hat()
        c = u_hat @ self.w
        y = x @ self.w
        root = solve_tanh_residual(y, c, torch.ones_like(c), self.b)
        # One Newton step from the detached root: same value, implicit-function gradients.
        t0 = torch.tanh(root + self.b)
        alpha = root - (root + c * t0 - y) / (1 + c * (1 - t0 * t0))
        t = torch.tanh(alpha + self.b)
        logdet = -torch.log((1 + (1 - t * t) * c).abs())
        return x - t.unsqueeze(-1) * u_hat, logdet


class RadialFlow(Flow):
    r"""Radial flow :math:`g(z) = z + \beta (z - z_0)/(\alpha + \|z - z_0\|)`, contracting or expanding
    around :math:`z_0`.

    ``inverse(z)`` is :math:`g` (sampling direction); ``forward(x)`` inverts it in closed form: with
    :math:`R = \|x - z_0\|`, :math:`r` is the positive root of
    :math:`r^2 + (\alpha + \beta - R) r - \alpha R = 0` and :math:`z - z_0 = (x - z_0)/(1 + \beta/(\alpha + r))`.
    """

    @checked
    def __init__(self, features: Count, init_scale: float = 0.5):
        super().__init__()
        self.features = features
        self.event_shape = (self.features,)
        self.z0 = nn.Parameter(torch.randn(features) * init_scale)
        self.alpha_raw = nn.Parameter(torch.zeros(()))
        self.beta_raw = nn.Parameter(torch.zeros(()))

    def alpha_beta(self) -> tuple[Tensor, Tensor]:
        alpha = F.softplus(self.alpha_raw)
        return alpha, -alpha + F.softplus(self.beta_raw)

    def _logdet(self, r: Tensor, alpha: Tensor, beta: Tensor) -> Tensor:
        h = 1 / (alpha + r)
        dh = -h * h
        d = self.features
        return (d - 1) * torch.log1p(beta * h) + torch.log((1 + beta * h + beta * dh * r).abs())

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        alpha, beta = self.alpha_beta()
        diff = z - self.z0
        r = diff.norm(dim=-1)
        x = z + (beta / (alpha + r)).unsqueeze(-1) * diff
        return x, self._logdet(r, alpha, beta)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        alpha, beta = self.alpha_beta()
        diff = x - self.z0
        big_r = diff.norm(dim=-1)
        p = alpha + beta - big_r
        root = torch.sqrt(p * p + 4 * alpha * big_r)
        # The two algebraically equal forms of the positive root; each avoids cancellation on its side.
        r = torch.where(p > 0, 2 * alpha * big_r / (p + root), 0.5 * (root - p))
        z = self.z0 + diff / (1 + beta / (alpha + r)).unsqueeze(-1)
        return z, -self._logdet(r, alpha, beta)
