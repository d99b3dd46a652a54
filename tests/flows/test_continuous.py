"""CNF / FFJORD: round trip, log-det vs the autograd Jacobian of the ODE flow map, divergences."""
import pytest
import torch
from torch.autograd.functional import jacobian

from flowlab.flows import FlowModel, StandardNormal
from flowlab.flows.continuous import (CNF, LinearField, TimeConcatMLP, divergence_bottleneck,
                                      divergence_exact, divergence_hutchinson, draw_noise,
                                      field_jacobian)

TIGHT = dict(rtol=1e-10, atol=1e-10)


def random_field(d=2, hidden=(16, 16), seed=0, scale=0.5):
    torch.manual_seed(seed)
    f = TimeConcatMLP(d, hidden)
    for p in f.parameters():
        p.data.normal_(0, scale)
    return f.double()


def test_round_trip_and_opposite_logdets():
    cnf = CNF(random_field(), 2, **TIGHT).double()
    x = torch.randn(6, 2, dtype=torch.float64)
    with torch.no_grad():
        z, ld = cnf(x)
        x_rec, ld_inv = cnf.inverse(z)
    assert (z - x).abs().max() > 1e-2          # a non-trivial map
    assert (x_rec - x).abs().max() < 1e-8
    assert (ld + ld_inv).abs().max() < 1e-8
    assert cnf.nfe > 0


def test_logdet_matches_autograd_jacobian_of_flow_map():
    cnf = CNF(random_field(seed=1), 2, **TIGHT).double()
    x = torch.randn(4, 2, dtype=torch.float64)
    with torch.no_grad():
        _, ld = cnf(x)
    ld_auto = torch.stack([torch.linalg.slogdet(jacobian(lambda v: cnf.flow_map(v[None])[0], xi))[1]
                           for xi in x])
    assert ld.abs().max() > 0.1
    assert torch.allclose(ld, ld_auto, atol=1e-8, rtol=0)


def test_linear_dynamics_closed_form_and_fixed_noise():
    torch.manual_seed(2)
    A = torch.randn(3, 3, dtype=torch.float64)
    cnf = CNF(LinearField(A), 3, T=0.7, **TIGHT).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    with torch.no_grad():
        z, ld = cnf(x)
    assert torch.allclose(z, x @ torch.linalg.matrix_exp(0.7 * A).T, atol=1e-9)
    assert torch.allclose(ld, torch.full_like(ld, 0.7 * torch.trace(A).item()), atol=1e-9)
    # Hutchinson with the probe held fixed along the trajectory gives exactly T e^T A e.
    cnf.trace = "hutchinson"
    with torch.no_grad():
        _, ld_h = cnf(x)
    e = cnf.dynamics.noise
    assert torch.allclose(ld_h, 0.7 * torch.einsum("bi,ij,bj->b", e, A, e), atol=1e-9)


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
def test_hutchinson_divergence_unbiased(kind):
    f = random_field(d=4, hidden=(8,), seed=3)
    t = torch.tensor(0.3, dtype=torch.float64)
    z0 = torch.randn(1, 4, dtype=torch.float64)
    n = 4000
    z = z0.expand(n, 4)
    _, exact = divergence_exact(lambda v: f(t, v), z0)
    assert torch.allclose(exact, torch.diagonal(field_jacobian(f, t, z0), dim1=1, dim2=2).sum(1))
    g = torch.Generator().manual_seed(0)
    _, est = divergence_hutchinson(lambda v: f(t, v), z, draw_noise(z, kind, g))
    se = est.std() / n ** 0.5
    assert abs(est.mean() - exact[0]) < 3 * se
    _, est_b = divergence_bottleneck(lambda v: f.encode(t, v), lambda h: f.decode(t, h), z,
                                     draw_noise(torch.empty(n, 8, dtype=z.dtype), kind, g))
    assert abs(est_b.mean() - exact[0]) < 3 * est_b.std() / n ** 0.5


def test_adjoint_gradients_match_direct_backprop():
    x = torch.randn(8, 2, dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        cnf = CNF(random_field(seed=4), 2, rtol=1e-9, atol=1e-9, adjoint=adjoint).double()
        model = FlowModel(cnf, StandardNormal(2)).double()
        model.log_prob(x).mean().backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in cnf.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_sampling_shapes_and_nfe():
    cnf = CNF(TimeConcatMLP(2, (8,)), 2, trace="hutchinson", noise="rademacher", bottleneck=True,
              rtol=1e-4, atol=1e-4)
    model = FlowModel(cnf, StandardNormal(2))
    x = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert x.shape == (5, 2) and torch.isfinite(x).all()
    calls = cnf.dynamics.calls
    cnf(x)
    assert cnf.nfe == cnf.dynamics.calls - calls > 0


def test_errors_on_bad_input():
    cnf = CNF(TimeConcatMLP(2, (8,)), 2)
    with pytest.raises(ValueError, match=r"expects input of shape \[batch, 2\]"):
        cnf(torch.randn(4, 3))
    with pytest.raises(ValueError, match="expects input of shape"):
        cnf.inverse(torch.randn(4))
    with pytest.raises(ValueError, match="unknown trace"):
        CNF(TimeConcatMLP(2, (8,)), 2, trace="hutch")
    with pytest.raises(ValueError, match="unknown trace"):
        cnf.trace = "approx"
    with pytest.raises(ValueError, match="unknown noise"):
        CNF(TimeConcatMLP(2, (8,)), 2, noise="uniform")
    with pytest.raises(ValueError, match="bottleneck=True needs"):
        CNF(LinearField(torch.eye(2)), 2, trace="hutchinson", bottleneck=True)
    with pytest.raises(ValueError, match="positive integration time"):
        CNF(TimeConcatMLP(2, (8,)), 2, T=0.0)
    with pytest.raises(ValueError, match="square matrix"):
        LinearField(torch.ones(2, 3))
    with pytest.raises(ValueError, match="noise must have the shape"):
        divergence_hutchinson(lambda v: v, torch.randn(3, 2), torch.randn(3, 4))


def test_image_field_cnf_round_trip_and_logdet():
    from flowlab.nn import TimeConcatConvNet

    torch.manual_seed(5)
    field = TimeConcatConvNet((1, 2, 2), (4,))
    for p in field.parameters():
        p.data.normal_(0, 0.4)
    cnf = CNF(field, (1, 2, 2), **TIGHT).double()
    x = torch.randn(3, 1, 2, 2, dtype=torch.float64)
    with torch.no_grad():
        z, ld = cnf(x)
        x_rec, ld_inv = cnf.inverse(z)
    assert (x_rec - x).abs().max() < 1e-8 and (ld + ld_inv).abs().max() < 1e-8
    ld_auto = torch.stack([
        torch.linalg.slogdet(jacobian(lambda v: cnf.flow_map(v.reshape(1, 1, 2, 2)).reshape(-1), xi.reshape(-1)))[1]
        for xi in x])
    assert torch.allclose(ld, ld_auto, atol=1e-8, rtol=0)
    with pytest.raises(ValueError, match=r"expects input of shape \[batch, 1, 2, 2\]"):
        field(torch.tensor(0.0), torch.randn(2, 1, 3, 3))
    with pytest.raises(ValueError, match="image shape"):
        TimeConcatConvNet((8, 8), (4,))
