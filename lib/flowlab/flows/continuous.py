r"""Continuous normalizing flows (CNF, FFJORD): a flow defined by an ODE.

A time-dependent vector field :math:`f_\theta(t, z)` moves a point along
:math:`dz/dt = f_\theta(t, z)`. The flow map :math:`\phi_T: z(0) \mapsto z(T)` is a bijection
whenever :math:`f` is Lipschitz in :math:`z` (Picard), and its log-determinant obeys the
instantaneous change of variables (the continuity equation along a trajectory):

.. math:: \frac{d}{dt}\log p_t(z(t)) = -\operatorname{tr}\frac{\partial f}{\partial z}(t, z(t)),
          \qquad \log\left|\det\frac{\partial \phi_T}{\partial z(0)}\right|
          = \int_0^T \operatorname{tr}\frac{\partial f}{\partial z}\,dt .

So one ODE solve of the augmented state :math:`[z, \ell]` with :math:`\dot\ell = -\operatorname{tr}
\partial f/\partial z` gives both the latent and the log-det. Here the *forward* (normalizing)
direction solves data :math:`\to` latent from :math:`t=0` to :math:`T`; ``inverse`` (sampling) solves
back from :math:`T` to :math:`0`. Both return ``logdet = -(\ell_{end} - \ell_{start})``.

The trace is computed exactly (:math:`D` vector-Jacobian products) or by Hutchinson's estimator
(FFJORD): :math:`\operatorname{tr} J = \mathbb E[\epsilon^\top J \epsilon]` with
:math:`\mathbb E\epsilon = 0`, :math:`\operatorname{Cov}\epsilon = I` (Gaussian or Rademacher), one
VJP per evaluation. The noise :math:`\epsilon` is drawn **once per solve** and held fixed along the
trajectory, so the integrand is a smooth function of :math:`t` that the adaptive solver can
integrate, and the log-det estimate is unbiased. With the *bottleneck* option and a field
:math:`f = g \circ h`, :math:`h: \mathbb R^D \to \mathbb R^H`, the probe lives in
:math:`\mathbb R^H` instead: :math:`\operatorname{tr}(\partial g/\partial h\, \partial h/\partial z)
= \operatorname{tr}(\partial h/\partial z\, \partial g/\partial h)
= \mathbb E[\epsilon^\top \partial h/\partial z\, \partial g/\partial h\, \epsilon]`, which has lower
variance when :math:`H < D`.

``CNF.nfe`` is the number of field evaluations of the last solve (a measure of how hard the
dynamics are for the adaptive solver). Solving uses torchdiffeq's ``odeint`` (backpropagating
through the solver's operations) or ``odeint_adjoint`` (the adjoint method), by a switch.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import jacrev, vmap

from flowlab.estimators.trace import NOISES, draw_probes
from flowlab.flows.base import Flow, check_shape

TRACES = ("exact", "hutchinson")
_ACTIVATIONS = {"softplus": nn.Softplus, "tanh": nn.Tanh, "elu": nn.ELU, "swish": nn.SiLU}


class ConcatLinear(nn.Module):
    """A linear layer that sees time: :math:`W[z; t] + b` (FFJORD's ``concat`` layer)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features + 1, out_features)

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        tt = torch.as_tensor(t, dtype=h.dtype, device=h.device).reshape(1, 1).expand(h.shape[0], 1)
        return self.linear(torch.cat([h, tt], dim=1))


class TimeConcatStack(nn.Module):
    r"""Layers that each see time, with the activation between them: :math:`f = g \circ h`.

    ``encode`` is the first layer and its activation (:math:`h`), ``decode`` the rest (:math:`g`): the
    split the bottleneck trick needs. Subclasses build ``self.layers`` and ``self.act`` and check shapes.
    """

    layers: nn.ModuleList

    def _build(self, layers, hidden: Sequence[int], activation: str) -> None:
        name = type(self).__name__
        if not hidden or any(int(h) <= 0 for h in hidden):
            raise ValueError(f"{name} needs at least one positive hidden width, got {tuple(hidden)}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {tuple(_ACTIVATIONS)}")
        self.layers = nn.ModuleList(layers)
        self.act = _ACTIVATIONS[activation]()

    def encode(self, t: Tensor, z: Tensor) -> Tensor:
        return self.act(self.layers[0](t, z))

    def decode(self, t: Tensor, h: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers[1:]):
            h = layer(t, h)
            if i < len(self.layers) - 2:
                h = self.act(h)
        return h


class TimeConcatMLP(TimeConcatStack):
    r"""A vector field :math:`f(t, z)` on :math:`\mathbb R^D`: an MLP with :math:`t` concatenated to
    the input of every layer. ``encode`` (first layer and activation, :math:`h: \mathbb R^D \to
    \mathbb R^H`) and ``decode`` (the rest, :math:`g`) split it for the bottleneck trick.
    """

    def __init__(self, features: int, hidden: Sequence[int] = (64, 64, 64), activation: str = "softplus"):
        super().__init__()
        if not isinstance(features, int) or features <= 0:
            raise ValueError(f"TimeConcatMLP needs a positive number of features, got {features!r}")
        self.features = features
        widths = (features, *tuple(hidden), features)
        self._build((ConcatLinear(a, b) for a, b in zip(widths[:-1], widths[1:])), tuple(hidden), activation)

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        check_shape(z, (self.features,), "TimeConcatMLP")
        return self.decode(t, self.encode(t, z))


class LinearField(nn.Module):
    r"""Linear dynamics :math:`dz/dt = Az`: the flow map is :math:`e^{tA}`, so
    :math:`\log|\det \partial\phi_T/\partial z| = \log\det e^{TA} = T\operatorname{tr}A` (closed form)."""

    def __init__(self, A: Tensor):
        super().__init__()
        if A.dim() != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"LinearField needs a square matrix A, got shape {list(A.shape)}")
        self.A = nn.Parameter(A.clone())

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        check_shape(z, (self.A.shape[0],), "LinearField")
        return z @ self.A.T


# ------------------------------------------------------------------------------------ divergences
def _track(z: Tensor) -> Tensor:
    # The solver hands over a tensor that may not require grad (data at t=0, or no_grad evaluation):
    # a detached copy that does is enough then, as there is no graph behind it to keep.
    return z if z.requires_grad else z.detach().requires_grad_(True)


def _vjp(out: Tensor, z: Tensor, cotangent: Tensor, keep: bool) -> Tensor:
    return torch.autograd.grad(out, z, cotangent, create_graph=keep, retain_graph=True)[0]


def divergence_exact(fn: Callable[[Tensor], Tensor], z: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(f(z), tr ∂f/∂z)`` per sample, exactly, by :math:`D` VJPs with the basis vectors.

    ``fn`` maps a batch to a batch and treats samples independently (no batch statistics), so one
    VJP with cotangent :math:`e_i` in every row gives row :math:`i` of every sample's Jacobian.
    The result stays differentiable when grad mode is on (training), and is detached otherwise.
    """
    keep = torch.is_grad_enabled()
    with torch.enable_grad():
        z = _track(z)
        out = fn(z)
        flat = out.reshape(z.shape[0], -1)
        div = z.new_zeros(z.shape[0])
        for i in range(flat.shape[1]):
            e = torch.zeros_like(flat)
            e[:, i] = 1
            div = div + _vjp(out, z, e.reshape(out.shape), keep).reshape(z.shape[0], -1)[:, i]
    return (out, div) if keep else (out.detach(), div.detach())


def divergence_hutchinson(fn: Callable[[Tensor], Tensor], z: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(f(z), ε^T (∂f/∂z) ε)`` per sample: one VJP, an unbiased estimate of the divergence."""
    if noise is None or noise.shape != z.shape:
        got = None if noise is None else list(noise.shape)
        raise ValueError(f"Hutchinson noise must have the shape of z {list(z.shape)}, got {got}")
    keep = torch.is_grad_enabled()
    with torch.enable_grad():
        z = _track(z)
        out = fn(z)
        div = (_vjp(out, z, noise, keep) * noise).reshape(z.shape[0], -1).sum(dim=1)
    return (out, div) if keep else (out.detach(), div.detach())


def divergence_bottleneck(encode: Callable[[Tensor], Tensor], decode: Callable[[Tensor], Tensor],
                          z: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(g(h(z)), ε^T (∂h/∂z)(∂g/∂h) ε)`` with ε of the bottleneck's shape: two VJPs."""
    keep = torch.is_grad_enabled()
    with torch.enable_grad():
        z = _track(z)
        h = encode(z)
        if noise is None or noise.shape != h.shape:
            got = None if noise is None else list(noise.shape)
            raise ValueError(f"bottleneck noise must have the shape of h {list(h.shape)}, got {got}")
        out = decode(h)
        u = _vjp(h, z, noise, keep)       # ε^T ∂h/∂z, in z-space
        w = _vjp(out, h, u, keep)         # ε^T ∂h/∂z ∂g/∂h, in h-space
        div = (w * noise).reshape(z.shape[0], -1).sum(dim=1)
    return (out, div) if keep else (out.detach(), div.detach())


def draw_noise(like: Tensor, kind: str, generator: torch.Generator | None = None) -> Tensor:
    """A probe of ``like``'s shape with zero mean and identity covariance (``draw_probes``' noise).

    Without a generator the draw comes from torch's global one (it is seeded by ``seed_everything``).
    """
    generator = generator if generator is not None else torch.default_generator
    probe = draw_probes(like.shape, kind, generator, dtype=like.dtype, device=generator.device)
    return probe.to(like.device)


def field_jacobian(field: nn.Module, t: float | Tensor, z: Tensor) -> Tensor:
    """Per-sample Jacobians ``∂f/∂z`` of ``field(t, ·)`` at a batch ``z`` of vectors: ``[B, D, D]``."""
    t = torch.as_tensor(t, dtype=z.dtype, device=z.device)
    return vmap(jacrev(lambda v: field(t, v[None])[0]))(z)


# ------------------------------------------------------------------------------------- dynamics
class CNFDynamics(nn.Module):
    r"""The augmented dynamics :math:`\frac{d}{dt}[z, \ell] = [f(t,z), -\operatorname{tr}\partial f/\partial z]`.

    Counts its evaluations in ``calls``. ``noise`` is the probe held fixed during one solve
    (set by :class:`CNF`); ``None`` with ``trace="exact"``.
    """

    def __init__(self, field: nn.Module, trace: str = "exact", bottleneck: bool = False):
        super().__init__()
        self.field = field
        self.trace = trace
        self.bottleneck = bottleneck
        self.noise: Tensor | None = None
        self.calls = 0

    def forward(self, t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        self.calls += 1
        z = state[0]
        if self.trace == "exact":
            dz, div = divergence_exact(lambda v: self.field(t, v), z)
        elif self.bottleneck:
            dz, div = divergence_bottleneck(lambda v: self.field.encode(t, v),
                                            lambda h: self.field.decode(t, h), z, self.noise)
        else:
            dz, div = divergence_hutchinson(lambda v: self.field(t, v), z, self.noise)
        return dz, -div


class FieldOnly(nn.Module):
    """The plain ODE :math:`dz/dt = f(t, z)` (no log-density), with an evaluation counter."""

    def __init__(self, field: nn.Module):
        super().__init__()
        self.field = field
        self.calls = 0

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        self.calls += 1
        return self.field(t, z)


# ------------------------------------------------------------------------------------------ CNF
class CNF(Flow):
    r"""A continuous normalizing flow :math:`x = z(0) \mapsto z(T)` with the log-det by the
    instantaneous change of variables (see the module docstring).

    Args:
        field: a module ``field(t, z) -> dz/dt`` over events of ``event_shape`` (with ``encode`` /
            ``decode`` for ``bottleneck=True``).
        event_shape: the shape of one sample, e.g. ``(2,)`` or ``(1, 8, 8)``.
        T: the integration time.
        trace: ``"exact"`` or ``"hutchinson"`` (settable later, e.g. exact for evaluation).
        noise: ``"gaussian"`` or ``"rademacher"`` probes for Hutchinson.
        bottleneck: Hutchinson probes in the field's first hidden layer (:math:`f = g\circ h`).
        method, rtol, atol, options: passed to torchdiffeq (``options`` e.g. ``{"step_size": 0.1}``
            for fixed-step methods).
        adjoint: solve with ``odeint_adjoint`` (memory O(1) in the number of steps) instead of
            backpropagating through the solver.
        generator: a torch Generator for the probes (default: the global RNG).
    """

    def __init__(self, field: nn.Module, event_shape: Sequence[int] | int, *, T: float = 1.0,
                 trace: str = "exact", noise: str = "gaussian", bottleneck: bool = False,
                 method: str = "dopri5", rtol: float = 1e-5, atol: float = 1e-5,
                 options: dict | None = None, adjoint: bool = False,
                 generator: torch.Generator | None = None):
        super().__init__()
        event_shape = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)
        if not event_shape or any(int(s) <= 0 for s in event_shape):
            raise ValueError(f"CNF needs a non-empty positive event shape, got {event_shape}")
        if not T > 0:
            raise ValueError(f"CNF needs a positive integration time T, got {T!r}")
        if trace not in TRACES:
            raise ValueError(f"unknown trace {trace!r}; expected one of {TRACES}")
        if noise not in NOISES:
            raise ValueError(f"unknown noise {noise!r}; expected one of {NOISES}")
        if bottleneck and not (hasattr(field, "encode") and hasattr(field, "decode")):
            raise ValueError("bottleneck=True needs a field with encode(t, z) and decode(t, h)")
        if rtol <= 0 or atol <= 0:
            raise ValueError(f"rtol and atol must be positive, got rtol={rtol!r}, atol={atol!r}")
        self.event_shape = event_shape
        self.dynamics = CNFDynamics(field, trace, bottleneck)
        self.plain = FieldOnly(field)
        self.T = float(T)
        self.noise = noise
        self.method, self.rtol, self.atol, self.options = method, rtol, atol, options
        self.adjoint = adjoint
        self.generator = generator
        self.nfe = 0

    @property
    def field(self) -> nn.Module:
        return self.dynamics.field

    @property
    def trace(self) -> str:
        return self.dynamics.trace

    @trace.setter
    def trace(self, value: str) -> None:
        if value not in TRACES:
            raise ValueError(f"unknown trace {value!r}; expected one of {TRACES}")
        self.dynamics.trace = value

    def _odeint(self, func, y0, t):
        from torchdiffeq import odeint, odeint_adjoint

        kwargs = dict(method=self.method, rtol=self.rtol, atol=self.atol, options=self.options)
        if self.adjoint:
            return odeint_adjoint(func, y0, t, adjoint_params=tuple(self.parameters()), **kwargs)
        return odeint(func, y0, t, **kwargs)

    def _times(self, t0: float, t1: float, like: Tensor) -> Tensor:
        return torch.tensor([t0, t1], dtype=like.dtype, device=like.device)

    def _solve(self, x: Tensor, t0: float, t1: float) -> tuple[Tensor, Tensor]:
        check_shape(x, self.event_shape, "CNF")
        dyn = self.dynamics
        if dyn.trace == "hutchinson":
            shape = x.shape
            if dyn.bottleneck:  # the probe lives in the field's first hidden layer
                with torch.no_grad():
                    shape = (x.shape[0], *dyn.field.encode(x.new_zeros(()), x[:1]).shape[1:])
            dyn.noise = draw_noise(x.new_empty(shape), self.noise, self.generator)
        start = dyn.calls
        ell0 = x.new_zeros(x.shape[0])
        zs, ells = self._odeint(dyn, (x, ell0), self._times(t0, t1, x))
        self.nfe = dyn.calls - start
        # dyn.noise stays: the adjoint's backward solve must see the same probe.
        return zs[-1], -ells[-1]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Data to latent: solve from 0 to T; ``logdet = ∫ tr(∂f/∂z) dt``."""
        return self._solve(x, 0.0, self.T)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Latent to data: solve back from T to 0; ``logdet = -∫ tr(∂f/∂z) dt``."""
        return self._solve(z, self.T, 0.0)

    def flow_map(self, x: Tensor, t0: float = 0.0, t1: float | None = None) -> Tensor:
        """Only the transported points ``z(t1)`` from ``z(t0) = x`` (no log-det; differentiable)."""
        check_shape(x, self.event_shape, "CNF")
        t1 = self.T if t1 is None else t1
        start = self.plain.calls
        from torchdiffeq import odeint

        zs = odeint(self.plain, x, self._times(t0, t1, x), method=self.method, rtol=self.rtol,
                    atol=self.atol, options=self.options)
        self.nfe = self.plain.calls - start
        return zs[-1]

    def extra_repr(self) -> str:
        return (f"event_shape={self.event_shape}, T={self.T}, trace={self.trace!r}, noise={self.noise!r}, "
                f"method={self.method!r}, rtol={self.rtol}, atol={self.atol}, adjoint={self.adjoint}")


def nll_loss(model: nn.Module, cnf: CNF, nfe_log: list | None = None) -> Callable[[Tensor], Tensor]:
    """The loss for ``fit``: mean negative log-likelihood of a batch under ``model``, appending the
    forward solve's NFE of ``cnf`` to ``nfe_log`` at every step (the cost curve of training)."""
    def loss(x: Tensor) -> Tensor:
        value = -model.log_prob(x).mean()
        if nfe_log is not None:
            nfe_log.append(cnf.nfe)
        return value

    return loss
