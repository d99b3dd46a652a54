"""The closed-form fields (flowlab.ode.fields): their solutions and gradients are what they claim."""
import pytest
import torch
from torchdiffeq import odeint

from flowlab.ode import LinearField, ScalarGrowthField


def test_scalar_growth_solution_and_gradients_are_the_closed_forms():
    field = ScalarGrowthField(theta=0.4).double()
    z0 = torch.randn(5, dtype=torch.float64, requires_grad=True)
    zs = odeint(field, z0, torch.tensor([0.0, 1.3], dtype=torch.float64), rtol=1e-12, atol=1e-12)
    assert torch.allclose(zs[-1], field.solution(z0, 1.3), atol=1e-10)
    gz, gtheta = torch.autograd.grad(0.5 * (zs[-1] ** 2).sum(), (z0, field.theta))
    ez, etheta = field.squared_norm_gradients(z0, 1.3)
    assert torch.allclose(gz, ez, atol=1e-8) and torch.allclose(gtheta, etheta, atol=1e-8)


def test_linear_field_flow_map_is_the_matrix_exponential():
    A = torch.randn(3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z0 = torch.randn(4, 3, dtype=torch.float64)
    zs = odeint(LinearField(A).double(), z0, torch.tensor([0.0, 0.6], dtype=torch.float64), rtol=1e-12, atol=1e-12)
    assert torch.allclose(zs[-1], z0 @ torch.linalg.matrix_exp(0.6 * A).T, atol=1e-10)


def test_errors():
    with pytest.raises(ValueError, match="square matrix"):
        LinearField(torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"expects z of shape \[batch, 2\]"):
        LinearField(torch.eye(2))(0.0, torch.zeros(3, 4))
