import pytest
import torch

from flowlab.flows import LogitTransform
from flowlab.flows import Affine, Compose, ElementwiseAffine, Flow, FlowModel, Inverse, StandardNormal
from flowlab.flows import check_flow


def random_affine(d, g):
    return Affine(torch.randn(d, d, generator=g, dtype=torch.float64) + 2 * torch.eye(d, dtype=torch.float64),
                  torch.randn(d, generator=g, dtype=torch.float64))


def perturbed_scale(d, g):
    layer = ElementwiseAffine(d)
    with torch.no_grad():
        layer.log_scale.copy_(torch.randn(d, generator=g) * 0.5)
        layer.shift.copy_(torch.randn(d, generator=g))
    return layer


@pytest.mark.parametrize("d", [1, 3, 5])
def test_affine_and_scale_pass_harness(d):
    g = torch.Generator().manual_seed(d)
    check_flow(random_affine(d, g), torch.randn(7, d, generator=g))
    check_flow(perturbed_scale(d, g), torch.randn(7, d, generator=g))


def test_composition_and_inverse_pass_harness():
    g = torch.Generator().manual_seed(1)
    chain = Compose(random_affine(3, g), perturbed_scale(3, g), Inverse(random_affine(3, g)))
    check_flow(chain, torch.randn(6, 3, generator=g))


def test_logit_transform_passes_harness():
    g = torch.Generator().manual_seed(2)
    check_flow(LogitTransform(0.05), torch.rand(5, 2, 2, generator=g))
    check_flow(Inverse(LogitTransform(0.0)), torch.randn(5, 3, generator=g))


class WrongLogdet(Flow):
    def forward(self, x):
        return 2 * x, torch.zeros(x.shape[0], dtype=x.dtype)

    def inverse(self, z):
        return z / 2, torch.zeros(z.shape[0], dtype=z.dtype)


class WrongInverse(Flow):
    def forward(self, x):
        return 2 * x, torch.full((x.shape[0],), x.shape[1] * 0.6931471805599453, dtype=x.dtype)

    def inverse(self, z):
        return z / 2.001, torch.full((z.shape[0],), -z.shape[1] * 0.6931471805599453, dtype=z.dtype)


@pytest.mark.parametrize("bad", [WrongLogdet(), WrongInverse()])
def test_harness_catches_broken_flows(bad):
    with pytest.raises(AssertionError, match="fails the flow harness"):
        check_flow(bad, torch.randn(4, 3))


def test_flow_model_density_matches_closed_form_gaussian():
    g = torch.Generator().manual_seed(3)
    A = torch.randn(2, 2, generator=g, dtype=torch.float64)
    b = torch.randn(2, generator=g, dtype=torch.float64)
    model = FlowModel(Inverse(Affine(A, b)), StandardNormal(2)).double()
    x = torch.randn(50, 2, generator=g, dtype=torch.float64)
    expected = torch.distributions.MultivariateNormal(b, A @ A.T).log_prob(x)
    assert torch.allclose(model.log_prob(x), expected, atol=1e-10)
    samples = model.sample(20000, generator=g)
    assert torch.allclose(samples.mean(0), b, atol=4 * (A @ A.T).diag().sqrt().max() / 20000 ** 0.5)


def test_wrong_shape_gives_clear_error():
    layer = ElementwiseAffine(3)
    with pytest.raises(ValueError, match=r"expects input of shape \[batch, 3\], got \[4, 2\]"):
        layer(torch.randn(4, 2))
    with pytest.raises(ValueError, match="square matrix"):
        Affine(torch.randn(2, 3))
    with pytest.raises(ValueError, match="invertible"):
        Affine(torch.zeros(2, 2))
    with pytest.raises(TypeError, match="Flow layers"):
        Compose(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="positive number of samples"):
        FlowModel(ElementwiseAffine(2), StandardNormal(2)).sample(0)
