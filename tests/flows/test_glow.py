"""Glow's ActNorm and invertible 1x1 convolution: closed forms (C08, C09), clear errors.

(Round trip and log-det vs autograd: ``test_harness.py``.)"""
import math

import pytest
import torch

from flowlab.flows import ActNorm, InvertibleConv1x1, randomize_parameters
from flowlab.flows.glow import random_rotation


def perturb(layer, scale=0.3, seed=0):
    return randomize_parameters(layer, scale, seed=seed, add=True)


def test_actnorm_data_dependent_init_gives_zero_mean_unit_variance():
    g = torch.Generator().manual_seed(2)
    scale = torch.tensor([0.1, 2.0, 7.0, 30.0]).reshape(1, 4, 1, 1)
    x = (torch.randn(16, 4, 5, 5, generator=g, dtype=torch.float64) * scale + 5.0)
    layer = ActNorm(4).double()
    z, logdet = layer(x)  # the first forward initialises
    assert bool(layer.initialized)
    assert torch.allclose(z.mean(dim=(0, 2, 3)), torch.zeros(4, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(z.std(dim=(0, 2, 3), unbiased=False), torch.ones(4, dtype=torch.float64), atol=1e-5)
    # log|det| = H*W*sum(log_scale) = -H*W*sum(log std)
    expected = -25 * torch.log(x.std(dim=(0, 2, 3), unbiased=False)).sum()
    assert torch.allclose(logdet, expected.expand(16), atol=1e-5)
    # a second batch does not re-initialise
    before = layer.bias.detach().clone()
    layer(x + 100)
    assert torch.equal(before, layer.bias.detach())


def test_actnorm_inverse_before_init_is_an_error():
    with pytest.raises(RuntimeError, match="before initialisation"):
        ActNorm(2).inverse(torch.zeros(1, 2, 2, 2))


@pytest.mark.parametrize("lu", [False, True])
def test_conv1x1_logdet_is_hw_times_logdet_w(lu):
    g = torch.Generator().manual_seed(3)
    layer = perturb(InvertibleConv1x1(4, lu=lu, generator=g)).double()
    x = torch.randn(2, 4, 3, 5, generator=g, dtype=torch.float64)
    _, logdet = layer(x)
    w = layer.weight_matrix()
    assert torch.allclose(logdet, 15 * torch.linalg.slogdet(w)[1].expand(2), atol=1e-10)
    assert abs(torch.linalg.slogdet(w)[1].item()) > 1e-3  # perturbed: the test is not trivially 0


def test_conv1x1_lu_equals_plain_with_same_matrix():
    g = torch.Generator().manual_seed(4)
    lu = perturb(InvertibleConv1x1(5, lu=True, generator=g)).double()
    plain = InvertibleConv1x1(5, lu=False).double()
    with torch.no_grad():
        plain.weight.copy_(lu.weight_matrix())
    x = torch.randn(3, 5, 4, 4, generator=g, dtype=torch.float64)
    (z1, ld1), (z2, ld2) = lu(x), plain(x)
    assert torch.allclose(z1, z2, atol=1e-12) and torch.allclose(ld1, ld2, atol=1e-10)


@pytest.mark.parametrize("lu", [False, True])
def test_rotation_init_has_zero_logdet(lu):
    layer = InvertibleConv1x1(6, lu=lu, generator=torch.Generator().manual_seed(5)).double()
    w = layer.weight_matrix()
    assert torch.allclose(w @ w.T, torch.eye(6, dtype=torch.float64), atol=1e-6)
    _, logdet = layer(torch.randn(2, 6, 3, 3, dtype=torch.float64))
    assert logdet.abs().max().item() < 1e-5


def test_random_rotation_is_special_orthogonal():
    q = random_rotation(7, torch.Generator().manual_seed(6), torch.float64)
    assert torch.allclose(q @ q.T, torch.eye(7, dtype=torch.float64), atol=1e-12)
    assert math.isclose(torch.linalg.det(q).item(), 1.0, abs_tol=1e-12)


@pytest.mark.parametrize("layer", [ActNorm(3), InvertibleConv1x1(3), InvertibleConv1x1(3, lu=True)])
def test_wrong_channel_count_is_a_clear_error(layer):
    with pytest.raises(ValueError, match=r"expects input of shape \[batch, 3, \*, \*\]"):
        layer(torch.zeros(2, 4, 2, 2))
    with pytest.raises(ValueError, match="expects input of shape"):
        layer(torch.zeros(2, 3, 4))


@pytest.mark.parametrize("bad,error", [(0, ValueError), (-2, ValueError), (2.5, TypeError), (True, TypeError)])
@pytest.mark.parametrize("layer", [ActNorm, InvertibleConv1x1])
def test_bad_channel_argument(layer, bad, error):
    with pytest.raises(error, match=rf"{layer.__name__}: channels must be a.* integer"):
        layer(bad)
