r"""Amortized flows: :math:`K` maps whose parameters are computed, per sample, from a context vector.

A VAE posterior with flows (Rezende & Mohamed 2015; van den Berg et al. 2018) is

.. math:: z_0 \sim \mathcal N(\mu(x), \mathrm{diag}\,\sigma^2(x)), \qquad z_K = g_K \circ \dots \circ g_1(z_0),
          \qquad \log q(z_K | x) = \log q_0(z_0 | x)
          - \sum_k \log\left|\det \frac{\partial g_k}{\partial z_{k-1}}\right|,

where the parameters of every :math:`g_k` depend on :math:`x`: the encoder outputs them ("amortized").
An amortized flow holds only the *heads*, linear maps from the encoder's features :math:`h(x)` to the
raw parameters of all :math:`K` maps (:meth:`AmortizedFlow.raw_parameters`, one tensor per name, each
``[batch, ...]``), and applies the maps with :meth:`AmortizedFlow.transform` in the sampling direction
:math:`z_0 \mapsto z_K`, returning :math:`\sum_k \log|\det \partial g_k / \partial z_{k-1}|`.
``transform`` is :meth:`~AmortizedFlow.prepare` (raw to constrained per-sample factors, once per
datapoint) then :meth:`~AmortizedFlow.apply` (the maps, on as many draws as the factors have rows).

Raw parameters are unconstrained; the constraints that keep each map invertible are applied by
``prepare`` (u-hat for planar maps, :math:`\tanh` diagonals and orthonormal :math:`Q` for Sylvester
maps, a zero-initialised MADE for IAF). So the raw parameters of one datapoint can be optimised freely
(the per-datapoint optimum of the approximation gap) without leaving the family.

The maps themselves are the library's one implementation of each: :func:`~flowlab.flows.planar.planar_map`,
:func:`~flowlab.flows.sylvester.sylvester_map` (with :math:`Q` orthogonalized, from Householder
reflections, or the identity and reversal permutation alternating: O-, H- and T-SNF), and
:class:`~flowlab.flows.autoregressive.IAF` layers that see a context (IAF's amortization, Kingma et
al. 2016: the encoder's context enters every MADE).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from flowlab.flows.autoregressive import IAF
from flowlab.flows.base import trusted
from flowlab.flows.planar import planar_map, u_hat_of
from flowlab.flows.sylvester import householder_q, orthogonalize, sylvester_map, triangle
from flowlab.validate import Count, MaybeCount, check_shape, checked

AMORTIZED_FLOWS = ("planar", "iaf", "orthogonal", "householder", "triangular")


class AmortizedFlow(nn.Module):
    """Base: heads ``context -> raw parameters`` and ``transform(z, raw) -> (z_K, logdet)``.

    Built and fed by a VAE posterior (:class:`flowlab.models.posteriors.FlowPosterior`), which checks the
    sizes, the kind and the encoder's features ``h``; the options of each kind are checked here.
    """

    def __init__(self, features: int, num_flows: int, context_features: int):
        super().__init__()
        self.features, self.num_flows, self.context_features = features, num_flows, context_features
        self.heads = nn.ModuleDict()
        self.shapes: dict[str, tuple[int, ...]] = {}

    def _head(self, name: str, shape: tuple[int, ...], init_scale: float = 1.0) -> None:
        head = nn.Linear(self.context_features, math.prod(shape))
        with torch.no_grad():
            head.weight.mul_(init_scale)
            head.bias.mul_(init_scale)
        self.heads[name] = head
        self.shapes[name] = shape

    def raw_parameters(self, h: Tensor) -> dict[str, Tensor]:
        """The unconstrained per-sample parameters of all maps: ``{name: [batch, *shape]}`` from the
        encoder's features ``h`` [batch, context_features]."""
        return {name: head(h).reshape(h.shape[0], *self.shapes[name]) for name, head in self.heads.items()}

    def check_raw(self, z: Tensor, raw: dict[str, Tensor]) -> None:
        """``z`` [batch, features] and raw parameters of this flow for its ``batch`` rows (from
        ``raw_parameters``, or free tensors optimised per datapoint): the one check of a transform."""
        who = f"{type(self).__name__}.transform"
        check_shape(z, (self.features,), f"{who} (its z)", like=self.heads[next(iter(self.heads))].weight)
        if not isinstance(raw, dict) or set(raw) != set(self.shapes):
            got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
            raise ValueError(f"{who} expects raw parameters {sorted(self.shapes)} (from raw_parameters), got {got}")
        for name, t in raw.items():
            check_shape(t, self.shapes[name], f"{who} (its raw parameter {name!r})", like=z)
            if t.shape[0] != z.shape[0]:
                raise ValueError(f"{who}: raw parameter {name!r} has {t.shape[0]} rows for {z.shape[0]} samples")

    def transform(self, z: Tensor, raw: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """:math:`z_K` and :math:`\\sum_k \\log|\\det \\partial g_k/\\partial z_{k-1}|` [batch], for ``raw`` as
        :meth:`check_raw` accepts them (the owner checks raw parameters that do not come from its heads)."""
        return self.apply(z, self.prepare(raw))

    def prepare(self, raw: dict[str, Tensor]) -> dict[str, Tensor]:
        """The constrained factors of every map, each ``[batch, ...]`` (repeat rows to reuse them)."""
        return dict(raw)

    def apply(self, z: Tensor, prepared: dict[str, Tensor]) -> tuple[Tensor, Tensor]:  # pragma: no cover
        """The maps on ``z`` [n, d] with prepared factors of ``n`` rows (no input checks: internal)."""
        raise NotImplementedError

    def forward(self, z: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        return self.transform(z, self.raw_parameters(h))


class AmortizedPlanar(AmortizedFlow):
    r""":math:`K` planar maps :math:`z \mapsto z + \hat u \tanh(w^\top z + b)`, with :math:`u, w, b`
    per sample (Rezende & Mohamed 2015, Sec. 4; van den Berg et al.'s ``PlanarVAE``)."""

    def __init__(self, features: int, num_flows: int, context_features: int):
        super().__init__(features, num_flows, context_features)
        self._head("u", (num_flows, features))
        self._head("w", (num_flows, features))
        self._head("b", (num_flows,))

    def prepare(self, raw):  # the heads' outputs (or raw parameters check_raw accepts)
        return {"u_hat": u_hat_of(raw["u"], raw["w"]), "w": raw["w"], "b": raw["b"]}

    def apply(self, z, prepared):
        total = z.new_zeros(z.shape[0])
        for k in range(self.num_flows):
            z, logdet = planar_map(z, prepared["u_hat"][:, k], prepared["w"][:, k], prepared["b"][:, k])
            total = total + logdet
        return z, total


SYLVESTER_KINDS = ("orthogonal", "householder", "triangular")


class AmortizedSylvester(AmortizedFlow):
    r""":math:`K` Sylvester maps :math:`z \mapsto z + Q R \tanh(\tilde R Q^\top z + b)` with every
    factor per sample (van den Berg et al. 2018).

    ``kind``: ``"orthogonal"`` (O-SNF: :math:`Q` [m, M] from a free matrix by
    :func:`~flowlab.flows.sylvester.orthogonalize`, ``hidden = M`` columns), ``"householder"`` (H-SNF:
    :math:`Q` [m, m] a product of ``reflections`` Householder matrices) or ``"triangular"`` (T-SNF:
    :math:`Q` the identity for even :math:`k` and the reversal permutation for odd :math:`k`). As in the
    paper's code, :math:`R` and :math:`\tilde R` share one free square matrix (its upper and its
    transposed lower part) and have :math:`\tanh` diagonals of their own.
    """

    @checked
    def __init__(self, features: int, num_flows: int, context_features: int, kind: str = "householder",
                 hidden: MaybeCount = None, reflections: Count = 8, orthogonalize_steps: Count = 100):
        super().__init__(features, num_flows, context_features)
        self.kind = kind  # one of SYLVESTER_KINDS (the posterior checked it, and the sizes)
        d = features
        if kind == "orthogonal":
            d = features if hidden is None else hidden
            if d > features:
                raise ValueError(f"AmortizedSylvester needs hidden <= features (M <= m), got {d} > {features}")
            self._head("q", (num_flows, features, d))
        elif kind == "householder":
            self._head("vectors", (num_flows, reflections, features))
        self.hidden = d
        self.orthogonalize_steps = orthogonalize_steps
        self._head("full", (num_flows, d, d))
        self._head("diag", (num_flows, d))
        self._head("diag_tilde", (num_flows, d))
        self._head("b", (num_flows, d))
        eye = torch.eye(features)
        self.register_buffer("permutations", torch.stack([eye, eye.flip(0)]), persistent=False)

    def prepare(self, raw):
        out = {"r": triangle(raw["full"], raw["diag"]),
               "r_tilde": triangle(raw["full"].transpose(-1, -2), raw["diag_tilde"]), "b": raw["b"]}
        if self.kind == "orthogonal":
            out["q"] = orthogonalize(raw["q"], self.orthogonalize_steps)       # [batch, K, m, M]
        elif self.kind == "householder":
            out["q"] = householder_q(raw["vectors"], self.features)            # [batch, K, m, m]
        return out

    def apply(self, z, prepared):
        total = z.new_zeros(z.shape[0])
        for k in range(self.num_flows):
            # T-SNF: Q is the identity, then the reversal permutation, alternating.
            q = prepared["q"][:, k] if "q" in prepared else self.permutations[k % 2].to(z.dtype)
            z, logdet = sylvester_map(z, q, prepared["r"][:, k], prepared["r_tilde"][:, k], prepared["b"][:, k])
            total = total + logdet
        return z, total


class AmortizedIAF(AmortizedFlow):
    r""":math:`K` IAF layers :math:`z_t \mapsto z_t e^{a_t(z_{<t}, c)} + m_t(z_{<t}, c)` in alternating
    orders, all seeing one per-sample context :math:`c = W h(x)` of ``context_size`` units (the raw
    parameter); each layer starts at the identity (zero-initialised MADE output)."""

    @checked
    def __init__(self, features: int, num_flows: int, context_features: int, hidden: Count = 320,
                 layers: Count = 1, context_size: MaybeCount = None):
        super().__init__(features, num_flows, context_features)
        size = hidden if context_size is None else context_size
        self._head("context", (size,))
        self.layers = nn.ModuleList(IAF(features, hidden, layers, order="natural" if k % 2 == 0 else "reverse",
                                        context_features=size) for k in range(num_flows))

    def apply(self, z, prepared):
        total = z.new_zeros(z.shape[0])
        with trusted():  # z and the context were checked (check_raw) or computed by the heads
            for layer in self.layers:
                z, logdet = layer.inverse(z, context=prepared["context"])  # IAF's one-pass sampling direction
                total = total + logdet
        return z, total


def amortized_flow(kind: str, features: int, num_flows: int, context_features: int, **options) -> AmortizedFlow:
    """An amortized flow by name: ``planar``, ``iaf``, ``orthogonal``, ``householder`` or ``triangular``
    (the posteriors of the lecture's Sylvester table); ``options`` go to its class. ``kind`` and the
    sizes are those the posterior checked."""
    if kind == "planar":
        return AmortizedPlanar(features, num_flows, context_features, **options)
    if kind == "iaf":
        return AmortizedIAF(features, num_flows, context_features, **options)
    return AmortizedSylvester(features, num_flows, context_features, kind=kind, **options)
