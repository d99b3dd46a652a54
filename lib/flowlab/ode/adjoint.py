r"""Algorithm 1 of the Neural ODE paper (Chen et al. 2018), written out: the adjoint sensitivity method.

Forward, one ODE solve and nothing recorded for backward except the outputs:

.. math:: z(t_1) = z(t_0) + \int_{t_0}^{t_1} f(z(t), t, \theta)\, dt .

Backward, given :math:`\partial L / \partial z(t_1)`, the *adjoint* :math:`a(t) = \partial L / \partial z(t)`
obeys (Pontryagin)

.. math::
    \frac{da}{dt} = -a(t)^\top \frac{\partial f(z(t), t, \theta)}{\partial z}, \qquad
    \frac{dL}{d\theta} = -\int_{t_1}^{t_0} a(t)^\top \frac{\partial f(z(t), t, \theta)}{\partial \theta}\, dt .

Algorithm 1 solves these together with :math:`z` itself (recomputed backward instead of stored, hence
constant memory) as one ODE on the augmented state :math:`s = [z, a, a_\theta]`, from :math:`t_1` to
:math:`t_0`:

.. math::
    s(t_1) = [z(t_1),\; \partial L / \partial z(t_1),\; 0_{|\theta|}], \qquad
    \frac{ds}{dt} = [f,\; -a^\top \partial f / \partial z,\; -a^\top \partial f / \partial \theta],

    [z(t_0),\; \partial L / \partial z(t_0),\; dL / d\theta] = \mathrm{ODESolve}(s(t_1), t_1 \to t_0).

The two vector-Jacobian products :math:`a^\top \partial f / \partial (z, \theta)` come from one call to
``torch.autograd.grad`` per evaluation of the augmented dynamics. With several output times
:math:`t_0 < \dots < t_N` the backward solve runs interval by interval, adding
:math:`\partial L / \partial z(t_i)` to :math:`a` at each :math:`t_i` and restarting :math:`z` from the
stored forward value there (as torchdiffeq's ``odeint_adjoint`` does). Gradients with respect to the
time points are not computed.

With ``norm="seminorm"`` (Kidger, Chen and Lyons, ICML 2021) the backward solver's step-size control
measures the error on :math:`[z, a]` only, as the RMS of each, and ignores :math:`a_\theta`: the
parameter-gradient integral is read off the solution and never feeds back into the dynamics, so its
error need not hold the steps back. Algorithm 1 as written (``norm="full"``) controls all of :math:`s`.

``odeint_alg1`` wraps this as a ``torch.autograd.Function``, so ``loss.backward()`` runs it; it is
meant for teaching and for checking torchdiffeq's ``odeint_adjoint``, which implements the same idea.
"""
from __future__ import annotations

import torch
from torch import nn
from torchdiffeq import odeint

from flowlab.validate import FloatTensor, OneOf, checked

WHO = "odeint_alg1"
# The methods with step-size control, the only ones a norm applies to. Named here, not read from
# torchdiffeq's private solver table (a reorganised torchdiffeq would break importing flowlab.ode);
# tests/ode/test_adjoint.py checks that the two agree.
_ADAPTIVE = ("dopri8", "dopri5", "bosh3", "fehlberg2", "adaptive_heun")


class _Algorithm1(torch.autograd.Function):
    """Forward: ``odeint`` without a graph. Backward: the augmented ODE solved from t_N to t_0."""

    @staticmethod
    def forward(ctx, func, t, solver, backward_solver, z0, *params):
        with torch.no_grad():
            zs = odeint(func, z0, t, **solver)
        ctx.func = func
        ctx.solver = backward_solver
        # Only the outputs and the parameters are kept: the memory held is independent of the steps.
        ctx.save_for_backward(t, zs, *params)
        return zs

    @staticmethod
    def backward(ctx, grad_zs):
        t, zs, *params = ctx.saved_tensors
        func, solver = ctx.func, ctx.solver
        params = tuple(params)

        def augmented_dynamics(s, state):
            z, a = state[0], state[1]
            with torch.enable_grad():
                z = z.detach().requires_grad_(True)
                f = func(s, z)
                vjps = torch.autograd.grad(f, (z, *params), -a, allow_unused=True)
            vjps = tuple(torch.zeros_like(x) if g is None else g for x, g in zip((z, *params), vjps))
            return (f.detach(), *vjps)

        with torch.no_grad():
            a = grad_zs[-1]
            a_theta = [torch.zeros_like(p) for p in params]
            for i in range(len(t) - 1, 0, -1):
                state = (zs[i], a, *a_theta)
                solution = odeint(augmented_dynamics, state, t[i - 1:i + 1].flip(0), **solver)
                _, a, *a_theta = (component[-1] for component in solution)
                a = a + grad_zs[i - 1]
        return (None, None, None, None, a, *a_theta)


def _state_and_adjoint_rms(state) -> torch.Tensor:
    # The seminorm: the error of [z, a] (the first two components of the augmented state) alone.
    return torch.stack([state[0].pow(2).mean().sqrt(), state[1].pow(2).mean().sqrt()]).max()


@checked
def odeint_alg1(func, z0: FloatTensor, t: FloatTensor, *, method: str = "dopri5", rtol: float = 1e-7,
                atol: float = 1e-9, options: dict | None = None, adjoint_params=None,
                norm: OneOf(("full", "seminorm")) = "full") -> torch.Tensor:
    """Solve ``dz/dt = func(t, z)`` from ``z0`` at the times ``t``; differentiate by Algorithm 1.

    Same call and result as ``torchdiffeq.odeint`` (the trajectory, shape ``[len(t), *z0.shape]``);
    the backward pass uses the same solver, tolerances and options. Gradients flow to ``z0`` and to
    ``adjoint_params`` (default: the parameters of ``func`` that require grad). ``norm="seminorm"``
    lets the backward step-size control ignore the parameter-gradient integral (module docstring);
    it applies to adaptive methods, and to a fixed grid it changes nothing.
    """
    if not callable(func) or (adjoint_params is None and not isinstance(func, nn.Module)):
        raise ValueError(f"{WHO}: func(t, z) must be an nn.Module, or pass adjoint_params, got {type(func).__name__}")
    if t.dim() != 1 or t.numel() < 2 or not (bool((t.diff() > 0).all()) or bool((t.diff() < 0).all())):
        raise ValueError(f"{WHO}: t must be a 1-D tensor of >= 2 strictly monotone times, got {t.tolist()}")
    if adjoint_params is None:
        adjoint_params = func.parameters()
    params = tuple(p for p in adjoint_params if p.requires_grad)
    solver = {"method": method, "rtol": rtol, "atol": atol, "options": options}
    backward_solver = solver
    if norm == "seminorm" and method in _ADAPTIVE:
        backward_solver = {**solver, "options": {**(options or {}), "norm": _state_and_adjoint_rms}}
    return _Algorithm1.apply(func, t, solver, backward_solver, z0, *params)
