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

Each solve builds its own augmented dynamics holding its own probe, so the adjoint's backward
solve sees the probe of the solve it differentiates, however many solves share one ``backward()``.
``CNF.nfe`` is the number of evaluations of the dynamics in the last forward solve (a measure of
how hard they are for the adaptive solver), counted by :class:`flowlab.measure.counting.CallCounter`.
Solving uses torchdiffeq's ``odeint`` (backpropagating through the solver's operations) or
``odeint_adjoint`` (the adjoint method), by a switch; :meth:`CNF.using` changes settings for a block.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from flowlab.estimators.trace import NOISES, divergence_bottleneck, divergence_exact, divergence_hutchinson, draw_probes
from flowlab.flows.base import Flow
from flowlab.measure.counting import CallCounter
from flowlab.validate import EventShape, Module, OneOf, Positive, Rng, checked

TRACES = ("exact", "hutchinson")
ADJOINT_NORMS = ("seminorm", "full")  # the backward solve's step control: on [z, a] only, or on all it carries
SETTINGS = {"trace": OneOf(TRACES), "noise": OneOf(NOISES), "bottleneck": None, "method": None, "rtol": Positive,
            "atol": Positive, "options": None, "adjoint": None, "adjoint_norm": OneOf(ADJOINT_NORMS), "T": Positive}


class AugmentedDynamics(nn.Module):
    r"""The augmented dynamics :math:`\frac{d}{dt}[z, \ell] = [f(t,z), -\operatorname{tr}\partial f/\partial z]`
    of one solve; ``probe`` is that solve's Hutchinson probe (``None`` for the exact trace)."""

    def __init__(self, field: nn.Module, trace: str, bottleneck: bool, probe: Tensor | None):
        super().__init__()
        self.field, self.trace, self.bottleneck, self.probe = field, trace, bottleneck, probe

    def forward(self, t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        z = state[0]
        if self.trace == "exact":
            dz, div = divergence_exact(lambda v: self.field(t, v), z)
        elif self.bottleneck:
            dz, div = divergence_bottleneck(lambda v: self.field.encode(t, v),
                                            lambda h: self.field.decode(t, h), z, self.probe)
        else:
            dz, div = divergence_hutchinson(lambda v: self.field(t, v), z, self.probe)
        return dz, -div


class _FieldOnly(nn.Module):
    """The plain ODE :math:`dz/dt = f(t, z)`, no log-density."""

    def __init__(self, field: nn.Module):
        super().__init__()
        self.field = field

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        return self.field(t, z)


class CNF(Flow):
    r"""A continuous normalizing flow :math:`x = z(0) \mapsto z(T)` with the log-det by the
    instantaneous change of variables (see the module docstring).

    Args:
        field: a module ``field(t, z) -> dz/dt`` over events of ``event_shape`` (with ``encode`` /
            ``decode`` for ``bottleneck=True``).
        event_shape: the shape of one sample, e.g. ``(2,)`` or ``(1, 8, 8)``.
        T: the integration time.
        trace: ``"exact"`` or ``"hutchinson"``.
        noise: ``"gaussian"`` or ``"rademacher"`` probes for Hutchinson.
        bottleneck: Hutchinson probes in the field's first hidden layer (:math:`f = g\circ h`).
        method, rtol, atol, options: passed to torchdiffeq (``options`` e.g. ``{"step_size": 0.1}``
            for fixed-step methods).
        adjoint: solve with ``odeint_adjoint`` (memory O(1) in the number of steps) instead of
            backpropagating through the solver.
        adjoint_norm: the adjoint's backward step control: ``"seminorm"`` (the default) measures the error
            of the state and its adjoint only, not of the parameter-gradient integral, which feeds back into
            nothing (Kidger, Chen and Lyons 2021: fewer backward steps, the same gradients to the solver's
            tolerance); ``"full"`` controls everything the backward solve carries.
        generator: a torch Generator for the probes (default: the global RNG).
    """

    SETTINGS = SETTINGS

    @checked
    def __init__(self, field: Module, event_shape: EventShape, *, T: float = 1.0,
                 trace: str = "exact", noise: str = "gaussian", bottleneck: bool = False,
                 method: str = "dopri5", rtol: float = 1e-5, atol: float = 1e-5,
                 options: dict | None = None, adjoint: bool = False, adjoint_norm: str = "seminorm",
                 generator: Rng = None):
        super().__init__()
        self.field, self.event_shape, self.generator = field, event_shape, generator
        self.nfe = 0
        for name, value in dict(T=T, trace=trace, noise=noise, bottleneck=bottleneck, method=method, rtol=rtol,
                                atol=atol, options=options, adjoint=adjoint, adjoint_norm=adjoint_norm).items():
            setattr(self, name, value)  # checked by _check_setting

    def _check_setting(self, name: str, value):
        # Checked when set (here, by using() or by assignment: cnf.trace = "approx" fails at once, not in a solve).
        if name == "bottleneck" and value and not (hasattr(self.field, "encode") and hasattr(self.field, "decode")):
            raise ValueError("CNF: bottleneck=True needs a field with encode(t, z) and decode(t, h)")
        return super()._check_setting(name, value)

    def _odeint(self, func, y0, t):
        from torchdiffeq import odeint, odeint_adjoint

        kwargs = dict(method=self.method, rtol=self.rtol, atol=self.atol, options=self.options)
        if self.adjoint:
            return odeint_adjoint(func, y0, t, adjoint_params=tuple(self.field.parameters()),
                                  adjoint_options=dict(norm="seminorm") if self.adjoint_norm == "seminorm" else None,
                                  **kwargs)
        return odeint(func, y0, t, **kwargs)

    def _times(self, t0: float, t1: float, like: Tensor) -> Tensor:
        return torch.tensor([t0, t1], dtype=like.dtype, device=like.device)

    def draw_probe(self, x: Tensor) -> Tensor:
        """A fresh probe for one solve from ``x``: of ``x``'s shape, or of the bottleneck's."""
        shape = x.shape
        if self.bottleneck:  # the probe lives in the field's first hidden layer
            with torch.no_grad():
                shape = (x.shape[0], *self.field.encode(x.new_zeros(()), x[:1]).shape[1:])
        generator = self.generator if self.generator is not None else torch.default_generator
        probe = draw_probes(shape, self.noise, generator, dtype=x.dtype, device=generator.device)
        return probe.to(x.device)

    def _solve(self, x: Tensor, t0: float, t1: float) -> tuple[Tensor, Tensor]:
        probe = self.draw_probe(x) if self.trace == "hutchinson" else None
        dynamics = AugmentedDynamics(self.field, self.trace, self.bottleneck, probe)
        with CallCounter(dynamics) as counter:
            zs, ells = self._odeint(dynamics, (x, x.new_zeros(x.shape[0])), self._times(t0, t1, x))
        self.nfe = counter.count
        return zs[-1], -ells[-1]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Data to latent: solve from 0 to T; ``logdet = ∫ tr(∂f/∂z) dt``."""
        return self._solve(x, 0.0, self.T)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Latent to data: solve back from T to 0; ``logdet = -∫ tr(∂f/∂z) dt``."""
        return self._solve(z, self.T, 0.0)

    def flow_map(self, x: Tensor, t0: float = 0.0, t1: float | None = None) -> Tensor:
        """Only the transported points ``z(t1)`` from ``z(t0) = x`` (no log-det; differentiable)."""
        from torchdiffeq import odeint

        self.check_input(x, who="CNF.flow_map")
        t1 = self.T if t1 is None else t1
        plain = _FieldOnly(self.field)
        with CallCounter(plain) as counter:
            zs = odeint(plain, x, self._times(t0, t1, x), method=self.method, rtol=self.rtol,
                        atol=self.atol, options=self.options)
        self.nfe = counter.count
        return zs[-1]

    def extra_repr(self) -> str:
        return (f"event_shape={self.event_shape}, T={self.T}, trace={self.trace!r}, noise={self.noise!r}, "
                f"method={self.method!r}, rtol={self.rtol}, atol={self.atol}, adjoint={self.adjoint}")
