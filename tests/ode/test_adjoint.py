"""Algorithm 1 (flowlab.ode.adjoint) against backprop through the solver, torchdiffeq's
odeint_adjoint and the closed form."""
import pytest
import torch
from torchdiffeq import odeint, odeint_adjoint

from flowlab.nn import TimeConcatMLP
from flowlab.ode import ScalarGrowthField, odeint_alg1

TOL = 1e-10  # solver rtol = atol in the adaptive checks


def _random_mlp(seed, dim=3, hidden=16):
    torch.manual_seed(seed)
    field = TimeConcatMLP(dim, (hidden,), "tanh").double()
    for p in field.parameters():
        p.data.normal_(0, 0.6)
    return field


def _gradients(solve, field, z0, t, loss="last", **solver):
    zs = solve(field, z0, t, **solver)
    value = (zs[-1] ** 2).sum() if loss == "last" else (zs.sin() * zs).sum()
    grads = torch.autograd.grad(value, (z0, *field.parameters()))
    return torch.cat([g.flatten() for g in grads])


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("seed", [0, 1])
def test_alg1_matches_backprop_and_odeint_adjoint_on_mlp(seed):
    field = _random_mlp(seed)
    z0 = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    solver = dict(method="dopri5", rtol=TOL, atol=TOL)
    ours = _gradients(odeint_alg1, field, z0, t, **solver)
    # Each is a different O(tol) approximation of the true gradient (local error per step <= ~tol,
    # accumulated over tens of steps; backprop differentiates the discretisation): 1000 x tol.
    assert _rel(ours, _gradients(odeint, field, z0, t, **solver)) < 1e3 * TOL
    assert _rel(ours, _gradients(odeint_adjoint, field, z0, t, **solver)) < 1e3 * TOL


def test_alg1_equals_odeint_adjoint_to_round_off_on_a_fixed_grid():
    field = _random_mlp(2)
    z0 = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    solver = dict(method="rk4", options=dict(step_size=0.05))
    ours = _gradients(odeint_alg1, field, z0, t, loss="trajectory", **solver)
    theirs = _gradients(odeint_adjoint, field, z0, t, loss="trajectory", **solver)
    assert _rel(ours, theirs) < 1e-12  # same equations, same grid: only floating-point round-off


def test_alg1_with_several_output_times_matches_backprop():
    field = _random_mlp(3)
    z0 = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 0.3, 0.7, 1.2], dtype=torch.float64)
    solver = dict(method="dopri5", rtol=TOL, atol=TOL)
    ours = _gradients(odeint_alg1, field, z0, t, loss="trajectory", **solver)
    assert _rel(ours, _gradients(odeint, field, z0, t, loss="trajectory", **solver)) < 1e3 * TOL


def test_alg1_matches_closed_form_on_growth_field():
    field = ScalarGrowthField(theta=0.7).double()
    z0 = torch.randn(6, dtype=torch.float64, requires_grad=True)
    T = 1.5
    zs = odeint_alg1(field, z0, torch.tensor([0.0, T], dtype=torch.float64), rtol=TOL, atol=TOL)
    assert _rel(zs[-1].detach(), field.solution(z0.detach(), T)) < 1e2 * TOL
    gz, gtheta = torch.autograd.grad(0.5 * (zs[-1] ** 2).sum(), (z0, field.theta))
    ez, etheta = field.squared_norm_gradients(z0, T)
    assert _rel(gz, ez) < 1e2 * TOL
    assert _rel(gtheta, etheta) < 1e2 * TOL


def test_alg1_gradient_is_wrong_if_sign_flipped():
    # The comparison can fail: the gradient for the opposite growth rate is far from the closed form.
    field = ScalarGrowthField(theta=-0.7).double()
    z0 = torch.randn(6, dtype=torch.float64, requires_grad=True)
    zs = odeint_alg1(field, z0, torch.tensor([0.0, 1.0], dtype=torch.float64))
    gz, _ = torch.autograd.grad(0.5 * (zs[-1] ** 2).sum(), (z0, field.theta))
    assert _rel(gz, ScalarGrowthField(0.7).squared_norm_gradients(z0, 1.0)[0]) > 0.5


def test_alg1_rejects_bad_input():
    field = _random_mlp(6)
    z0 = torch.randn(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="strictly monotone"):
        odeint_alg1(field, z0, torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64))
    with pytest.raises(ValueError, match="1-D tensor"):
        odeint_alg1(field, z0, torch.zeros(2, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="floating-point"):
        odeint_alg1(field, torch.ones(2, 3, dtype=torch.long), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="nn.Module"):
        odeint_alg1(lambda t, z: -z, z0, torch.tensor([0.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match=r"TimeConcatMLP.*\[2, 4\]"):  # the field checks its own input
        field(torch.tensor(0.0), torch.zeros(2, 4, dtype=torch.float64))


@pytest.mark.parametrize("seed", [0, 1])
def test_alg1_seminorm_matches_torchdiffeq_seminorm_and_full_algorithm_1(seed):
    # The seminorm only changes which steps the backward solver takes, so its gradient is another
    # O(tol) approximation of the same one: within the same 1000 x tol of the full norm's and of
    # torchdiffeq's odeint_adjoint(adjoint_options=dict(norm="seminorm")).
    field = _random_mlp(seed, hidden=32)
    z0 = torch.randn(16, 3, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    solver = dict(method="dopri5", rtol=TOL, atol=TOL)
    semi = _gradients(lambda *a, **k: odeint_alg1(*a, norm="seminorm", **k), field, z0, t, **solver)
    theirs = _gradients(lambda *a, **k: odeint_adjoint(*a, adjoint_options=dict(norm="seminorm"), **k),
                        field, z0, t, **solver)
    assert _rel(semi, theirs) < 1e3 * TOL
    assert _rel(semi, _gradients(odeint_alg1, field, z0, t, **solver)) < 1e3 * TOL


def test_alg1_refuses_an_unknown_norm():
    field = _random_mlp(0)
    z0 = torch.randn(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="unknown norm 'l1'.*'full'.*'seminorm'"):
        odeint_alg1(field, z0, torch.tensor([0.0, 1.0], dtype=torch.float64), norm="l1")


def test_the_adaptive_methods_are_torchdiffeqs():
    """odeint_alg1 names the methods a norm applies to; they are torchdiffeq's step-controlled solvers
    (read from its private table here, in a test, so that a reorganised torchdiffeq fails this test
    rather than ``import flowlab.ode``)."""
    from torchdiffeq._impl.odeint import SOLVERS
    from torchdiffeq._impl.solvers import AdaptiveStepsizeODESolver

    from flowlab.ode.adjoint import _ADAPTIVE

    adaptive = {name for name, solver in SOLVERS.items() if issubclass(solver, AdaptiveStepsizeODESolver)}
    assert set(_ADAPTIVE) == adaptive
