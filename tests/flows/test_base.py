"""The flow protocol: composition, inversion, the density model, clear errors.

Round trips and log-dets of every layer are in ``test_harness.py``."""
import pytest
import torch

from flowlab.flows import Affine, Compose, ElementwiseAffine, FlowModel, Inverse, StandardNormal


def random_affine(d, g):
    return Affine(torch.randn(d, d, generator=g, dtype=torch.float64) + 2 * torch.eye(d, dtype=torch.float64),
                  torch.randn(d, generator=g, dtype=torch.float64))


def test_composition_sums_logdets_and_inverse_swaps_directions():
    g = torch.Generator().manual_seed(1)
    a, b = random_affine(3, g), random_affine(3, g)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64)
    z, ld = Compose(a, Inverse(b))(x)
    za, lda = a(x)
    zb, ldb = b.inverse(za)
    assert torch.equal(z, zb) and torch.allclose(ld, lda + ldb, atol=1e-14, rtol=0)
    assert len(Compose([a, b])) == 2 and Compose(a, b)[1] is b
    z_inv, ld_inv = Inverse(a).inverse(x)
    assert torch.equal(z_inv, za) and torch.equal(ld_inv, lda)


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
    with pytest.raises(ValueError, match=r"FlowModel\.sample: n must be a positive integer"):
        FlowModel(ElementwiseAffine(2), StandardNormal(2)).sample(0)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64])
def test_integer_pixels_get_one_message_with_floating_point_range_and_dequantize(dtype):
    """Not only '.float()': integer pixels need dequantizing into floating point values in [0, 1)."""
    model = FlowModel(ElementwiseAffine(4), StandardNormal(4))
    pixels = torch.arange(12).reshape(3, 4).mul(23).to(dtype)           # values 0 .. 253
    with pytest.raises(TypeError, match=r"^FlowModel\.log_prob expects floating point") as info:
        model.log_prob(pixels)
    text = str(info.value)
    assert "[0, 1)" in text and "floating point" in text and "flowlab.data.dequantize(x, levels" in text
    assert str(dtype) in text
