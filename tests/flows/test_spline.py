"""Rational-quadratic spline: agreement with nflows, monotonicity, tails, normalisation, errors.
(Round trip and log-det inside and outside the interval: ``test_harness.py``.)"""
import pytest
import torch

from flowlab.flows import FlowModel, RationalQuadraticSpline, StandardNormal, randomize_parameters
from flowlab.flows.spline import rq_spline, spline_knots


def perturbed(layer, seed=0, std=1.0):
    return randomize_parameters(layer, std, seed=seed).double()


def inputs(n, d, seed, scale=2.0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale


def test_identity_at_init_and_outside_the_bound():
    layer = RationalQuadraticSpline(2, bins=4, bound=1.0).double()
    x = inputs(10, 2, seed=6)
    z, ld = layer(x)
    assert torch.allclose(z, x, atol=1e-12) and ld.abs().max() < 1e-6
    layer = perturbed(layer, seed=7)
    z, ld = layer(torch.tensor([[-3.0, 5.0]], dtype=torch.float64))
    assert z.tolist() == [[-3.0, 5.0]] and ld.item() == 0.0


def test_strictly_increasing_and_c1_at_the_ends():
    layer = perturbed(RationalQuadraticSpline(1, bins=8, bound=2.0), seed=8, std=2.0)
    grid = torch.linspace(-3, 3, 20001, dtype=torch.float64)[:, None]
    z, ld = layer(grid)
    assert (z[1:] > z[:-1]).all()
    # Derivative 1 at +-B from inside, matching the identity tails.
    edge = torch.tensor([[-2.0], [2.0]], dtype=torch.float64)
    assert layer(edge)[1].abs().max() < 1e-12


def test_matches_nflows_with_the_same_knots():
    nflows_rq = pytest.importorskip("nflows.transforms.splines.rational_quadratic")
    layer = perturbed(RationalQuadraticSpline(3, bins=7, bound=2.5), seed=9, std=1.5)
    x = inputs(64, 3, seed=10)
    b = x.shape[0]
    raw = [t.detach().expand(b, -1, -1).clone() for t in (layer.raw_widths, layer.raw_heights,
                                                           layer.raw_derivatives)]
    for inverse in (False, True):
        ours, ld = (layer.inverse if inverse else layer)(x)
        theirs, ld_theirs = nflows_rq.unconstrained_rational_quadratic_spline(
            x, *raw, inverse=inverse, tails="linear", tail_bound=2.5)
        assert torch.allclose(ours, theirs, atol=1e-12)
        assert torch.allclose(ld, ld_theirs.sum(-1), atol=1e-10)


def test_model_density_integrates_to_one():
    model = FlowModel(perturbed(RationalQuadraticSpline(1, bins=6, bound=2.0), seed=11),
                      StandardNormal(1).double())
    grid = torch.linspace(-12, 12, 48001, dtype=torch.float64)[:, None]
    mass = torch.trapezoid(model.log_prob(grid).exp().detach(), grid[:, 0])
    assert abs(mass.item() - 1) < 1e-6


def test_knots_are_ordered_and_pinned():
    xk, yk, dk = spline_knots(torch.randn(2, 5), torch.randn(2, 5), torch.randn(2, 4), bound=3.0)
    assert (xk[..., 1:] > xk[..., :-1]).all() and (yk[..., 1:] > yk[..., :-1]).all()
    assert (xk[..., 0] == -3).all() and (yk[..., -1] == 3).all() and (dk > 0).all()
    y, _ = rq_spline(torch.zeros(4, 2), xk, yk, dk)
    assert y.shape == (4, 2)


def test_errors():
    with pytest.raises(ValueError, match=r"expects input of shape \[batch, 2\]"):
        RationalQuadraticSpline(2)(torch.randn(3, 3))
    with pytest.raises(ValueError, match="bins must be a integer >= 2"):
        RationalQuadraticSpline(2, bins=1)
    with pytest.raises(ValueError, match=r"RationalQuadraticSpline: bound must be a positive"):
        RationalQuadraticSpline(2, bound=0.0)
    with pytest.raises(ValueError, match=r"min_bin_\* < 1 / bins"):
        RationalQuadraticSpline(2, bins=4, min_bin_width=0.3)
    with pytest.raises(ValueError, match=r"min_derivative in \(0, 1\)"):
        RationalQuadraticSpline(2, min_derivative=1.0)
