r"""Affine autoregressive flows: MADE, MAF and IAF.

An affine autoregressive map, in an order :math:`\pi` of the :math:`D` coordinates, is

.. math:: y_t = x_t \, e^{a_t(u_{<t})} + m_t(u_{<t}),

where the conditioner :math:`(m, a)` is a MADE network that sees only the coordinates that come
before :math:`t` in the order. Its Jacobian :math:`\partial y / \partial x` (when :math:`u = x`) is
triangular in that order with diagonal :math:`e^{a_t}`, so :math:`\log|\det| = \sum_t a_t`.

**MADE** (:class:`flowlab.nn.MADE`) enforces the ordering with binary masks on a plain MLP: the
Jacobian of its outputs with respect to its inputs is *strictly* triangular in the order.

**MAF** (Papamakarios et al. 2017) conditions on the data: in the normalizing direction
:math:`z_t = (x_t - m_t(x_{<t})) e^{-a_t(x_{<t})}`. Every :math:`(m_t, a_t)` depends on :math:`x`
only, so the density needs **one** network pass; sampling must rebuild :math:`x_1, x_2, \dots` in
order, **D** passes.

**IAF** (Kingma et al. 2016) conditions on the latent: :math:`x_t = z_t e^{a_t(z_{<t})} + m_t(z_{<t})`.
Sampling is **one** pass; the density of a given :math:`x` must recover :math:`z` coordinate by
coordinate, **D** passes. (The lectures' :math:`f(x)_t = s(x_{<t}) x_t + m(x_{<t})`, with
:math:`s = e^{a}`, positive hence invertible.)

With ``context_features = C`` both layers take an optional ``context`` [batch, C] that the MADE sees
beside its input (an amortized IAF posterior's encoder output, Kingma et al. 2016); the map stays
triangular in its input for every context.

Network passes are counted with :class:`flowlab.measure.counting.CallCounter` on the layers' ``made``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from flowlab.flows.base import Compose, Flow
from flowlab.nn.made import MADE
from flowlab.validate import Count, Positive, check_shape, checked

__all__ = ["MAF", "IAF", "maf", "iaf"]


class _AffineAutoregressive(Flow):
    """Shared machinery: ``_parallel`` is the one-pass direction, ``_sequential`` the D-pass one."""

    @checked
    def __init__(self, features: Count, hidden: Count = 64, layers: Count = 2,
                 order: str | Sequence[int] | Tensor = "natural", max_log_scale: Positive = 3.0,
                 context_features: int = 0):
        super().__init__()
        self.features, self.max_log_scale = features, max_log_scale
        self.event_shape = (features,)
        self.made = MADE(features, hidden, layers, params_per_feature=2, order=order,  # MADE checks the order
                         context_features=context_features)
        # Start at the identity; tests perturb the parameters so the harness is not trivial.
        last = self.made.net[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def check_input(self, x, direction: str = "forward", context: Tensor | None = None, **kwargs) -> Tensor:
        """The input, and the context [batch, C] of a layer built with ``context_features = C`` (else None)."""
        super().check_input(x, direction, **kwargs)
        wanted, who = self.made.context_features, self.name_of(direction)
        takes = f"[batch, {wanted}]" if wanted else None
        if (context is None) != (wanted == 0):
            raise ValueError(f"{who} (context_features={wanted}) takes context={takes}")
        if context is not None:
            check_shape(context, (wanted,), f"{who} (its context)", like=x)
            if context.shape[0] != x.shape[0]:
                raise ValueError(f"{who}: context has {context.shape[0]} rows for a batch of {x.shape[0]}")
        return x

    def _shift_logscale(self, u: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out = self.made(u, context)
        # A soft clamp keeps e^a finite early in training without changing the triangular structure.
        log_scale = self.max_log_scale * torch.tanh(out[..., 1] / self.max_log_scale)
        return out[..., 0], log_scale

    def _parallel(self, u: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """y = u * e^a(u) + m(u): one pass, conditioner on the input."""
        m, a = self._shift_logscale(u, context)
        return u * a.exp() + m, a.sum(-1)

    def _parallel_inverse(self, u: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """y = (u - m(u)) e^{-a(u)}: one pass, conditioner on the input."""
        m, a = self._shift_logscale(u, context)
        return (u - m) * (-a).exp(), -a.sum(-1)

    def _sequential(self, v: Tensor, inverse_of: str, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Solve for u given v, D passes: after pass k the first k coordinates in the order are exact."""
        u = torch.zeros_like(v)
        for _ in range(self.features):
            m, a = self._shift_logscale(u, context)
            if inverse_of == "affine":        # v = u e^a + m  =>  u = (v - m) e^{-a}
                u = (v - m) * (-a).exp()
            else:                             # v = (u - m) e^{-a}  =>  u = v e^a + m
                u = v * a.exp() + m
        # The last pass's (m, a) were computed from the exact u: the log-det is exact too.
        return u, (-a.sum(-1) if inverse_of == "affine" else a.sum(-1))


class MAF(_AffineAutoregressive):
    r"""Masked autoregressive flow layer. ``forward`` (density): 1 MADE pass; ``inverse`` (sampling): D.

    .. math:: z_t = (x_t - m_t(x_{<t}))\, e^{-a_t(x_{<t})}, \qquad
              \log|\det \partial z/\partial x| = -\textstyle\sum_t a_t(x_{<t}).
    """

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._parallel_inverse(x, context)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._sequential(z, "standardize", context)


class IAF(_AffineAutoregressive):
    r"""Inverse autoregressive flow layer. ``inverse`` (sampling): 1 MADE pass; ``forward`` (density): D.

    .. math:: x_t = z_t\, e^{a_t(z_{<t})} + m_t(z_{<t}), \qquad
              \log|\det \partial x/\partial z| = \textstyle\sum_t a_t(z_{<t}).
    """

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._sequential(x, "affine", context)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self._parallel(z, context)


def _stack(cls, features: int, num_layers: int, hidden: int, layers: int) -> Compose:
    # Sizes are the caller's (the model zoo, benchmarks, tests); each layer checks its own.
    # Alternating the order lets every coordinate condition on every other across the stack.
    return Compose([cls(features, hidden, layers, order="natural" if i % 2 == 0 else "reverse")
                    for i in range(num_layers)])


def maf(features: int, num_layers: int = 4, hidden: int = 64, layers: int = 2) -> Compose:
    """A stack of MAF layers with alternating natural / reverse orders."""
    return _stack(MAF, features, num_layers, hidden, layers)


def iaf(features: int, num_layers: int = 4, hidden: int = 64, layers: int = 2) -> Compose:
    """A stack of IAF layers with alternating natural / reverse orders."""
    return _stack(IAF, features, num_layers, hidden, layers)
