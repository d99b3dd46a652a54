"""NFE counting (flowlab.ode.counting): forward, backward and VJP counts of backprop, Algorithm 1 and
torchdiffeq's adjoint on a fixed grid; forced phases; errors."""
import pytest
import torch
from torchdiffeq import odeint, odeint_adjoint

from flowlab.nn import TimeConcatMLP
from flowlab.ode import CountingField, odeint_alg1


def _random_mlp(seed, dim=3, hidden=16):
    torch.manual_seed(seed)
    field = TimeConcatMLP(dim, (hidden,), "tanh").double()
    for p in field.parameters():
        p.data.normal_(0, 0.6)
    return field


@pytest.mark.parametrize("steps", [5, 12])
def test_counter_on_fixed_grid(steps):
    field = CountingField(_random_mlp(4))
    z0 = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    solver = dict(method="rk4", options=dict(step_size=1.0 / steps))
    for solve, backward in ((odeint, 0), (odeint_alg1, 4 * steps), (odeint_adjoint, 4 * steps)):
        field.reset()
        (solve(field, z0, t, **solver)[-1] ** 2).sum().backward()
        # rk4 = 4 evaluations a step; backprop re-evaluates nothing but takes one VJP per recorded
        # evaluation; the adjoint re-evaluates f (and its VJP) at each stage of the backward solve.
        assert field.counts() == {"forward": 4 * steps, "backward": backward, "vjp": 4 * steps}


def test_counter_phase_and_errors():
    field = CountingField(_random_mlp(5))
    z = torch.randn(2, 3, dtype=torch.float64)
    with field.phase("backward"):
        field(torch.tensor(0.0, dtype=torch.float64), z)
    field(torch.tensor(0.0, dtype=torch.float64), z)
    assert (field.nfe_forward, field.nfe_backward, field.nfe) == (1, 1, 2)
    with pytest.raises(ValueError, match="unknown phase"):
        with field.phase("sideways"):
            pass
    with pytest.raises(TypeError, match="nn.Module"):
        CountingField(3)
