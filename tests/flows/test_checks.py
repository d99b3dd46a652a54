"""The harness itself (flowlab.flows.checks): it catches broken flows, both Jacobian routes agree,
and randomize_parameters really moves parameters, reproducibly."""
import pytest
import torch

from flowlab.flows import ElementwiseAffine, autograd_logdet, check_flow, randomize_parameters
from flowlab.flows.base import Flow

LOG2 = 0.6931471805599453


class WrongLogdet(Flow):
    def forward(self, x):
        return 2 * x, torch.zeros(x.shape[0], dtype=x.dtype)

    def inverse(self, z):
        return z / 2, torch.zeros(z.shape[0], dtype=z.dtype)


class WrongInverse(Flow):
    def forward(self, x):
        return 2 * x, torch.full((x.shape[0],), x.shape[1] * LOG2, dtype=x.dtype)

    def inverse(self, z):
        return z / 2.001, torch.full((z.shape[0],), -z.shape[1] * LOG2, dtype=z.dtype)


class WrongLogdetShape(Flow):
    def forward(self, x):
        return 2 * x, torch.full((x.shape[0], 1), x.shape[1] * LOG2, dtype=x.dtype)

    def inverse(self, z):
        return z / 2, torch.full((z.shape[0], 1), -z.shape[1] * LOG2, dtype=z.dtype)


@pytest.mark.parametrize("jacobian", ["jacrev", "autograd"])
@pytest.mark.parametrize("bad", [WrongLogdet(), WrongInverse()])
def test_harness_catches_broken_flows(bad, jacobian):
    with pytest.raises(AssertionError, match="fails the flow harness"):
        check_flow(bad, torch.randn(4, 3), jacobian=jacobian)


def test_harness_catches_a_logdet_of_the_wrong_shape():
    with pytest.raises(AssertionError, match=r"log-det must have shape \[batch\]"):
        check_flow(WrongLogdetShape(), torch.randn(4, 3))


def test_both_jacobian_routes_agree():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 3, generator=g, dtype=torch.float64)

    def fn(v):
        return torch.tanh(v @ w.T) + 2 * v

    x = torch.randn(5, 3, generator=g, dtype=torch.float64)
    a, b = autograd_logdet(fn, x), autograd_logdet(fn, x, jacobian="autograd")
    assert torch.allclose(a, b, atol=1e-13, rtol=0) and a.abs().max() > 0.1
    with pytest.raises(ValueError, match="unknown jacobian"):
        check_flow(ElementwiseAffine(2), torch.randn(2, 2), jacobian="numeric")


def test_randomize_parameters_moves_every_parameter_reproducibly():
    layer = ElementwiseAffine(4)
    before = [p.detach().clone() for p in layer.parameters()]
    randomize_parameters(layer, 0.3, generator=torch.Generator().manual_seed(1))
    after = [p.detach().clone() for p in layer.parameters()]
    assert all((a != b).all() for a, b in zip(after, before))
    again = randomize_parameters(ElementwiseAffine(4), 0.3, seed=1)
    assert all(torch.equal(a, p) for a, p in zip(after, again.parameters()))
    randomize_parameters(layer, 0.3, seed=2, add=True)
    assert all(not torch.equal(a, p) for a, p in zip(after, layer.parameters()))
