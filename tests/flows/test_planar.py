"""Planar and radial flows: the u-hat guarantee, the log-det formula, the inverse solve and its
gradients, errors. (Round trip and forward log-det vs autograd: ``test_harness.py``.)"""
import pytest
import torch

from flowlab.flows import Compose, PlanarFlow, RadialFlow, autograd_logdet, planar_u_hat
from flowlab.flows.planar import solve_tanh_residual


def _planar(d, gen, below=True):
    f = PlanarFlow(d).double()
    with torch.no_grad():
        for p in f.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
        if below:  # push w^T u well below -1: only u-hat makes this invertible
            f.u.add_(-(3 + f.u @ f.w) * f.w / (f.w @ f.w))
    return f


@pytest.mark.parametrize("d", [1, 2, 5])
def test_planar_with_wtu_below_minus_one_is_inverted_exactly(d):
    gen = torch.Generator().manual_seed(d)
    f = _planar(d, gen)
    assert (f.u @ f.w).item() < -1
    assert (f.u_hat() @ f.w).item() > -1
    x = 2 * torch.randn(64, d, generator=gen, dtype=torch.float64)
    z, _ = f(x)  # the numerical solve of g(z) = x ...
    assert (f.inverse(z)[0] - x).abs().max() < 1e-12  # ... against the closed-form g


def test_planar_inverse_logdet_is_the_lecture_formula_and_autograd():
    gen = torch.Generator().manual_seed(1)
    f = _planar(3, gen)
    z = torch.randn(40, 3, generator=gen, dtype=torch.float64)
    _, ld = f.inverse(z)
    u_hat = f.u_hat()
    h_prime = 1 - torch.tanh(z @ f.w + f.b) ** 2
    formula = torch.log((1 + h_prime * (u_hat @ f.w)).abs())
    auto = autograd_logdet(lambda v: f.inverse(v)[0], z)
    assert torch.allclose(ld, formula, atol=1e-12)
    assert torch.allclose(ld, auto, atol=1e-10)


def test_u_hat_keeps_wtu_above_minus_one_on_many_draws():
    gen = torch.Generator().manual_seed(2)
    scale = 10 ** torch.empty(20000, 1, dtype=torch.float64).uniform_(-2, 2, generator=gen)
    u = torch.randn(20000, 4, generator=gen, dtype=torch.float64) * scale
    w = torch.randn(20000, 4, generator=gen, dtype=torch.float64)
    wtu_hat = (planar_u_hat(u, w) * w).sum(-1)
    assert ((u * w).sum(-1) < -1).float().mean() > 0.2  # many draws start non-invertible
    assert wtu_hat.min() >= -1 - 1e-9
    expected = -1 + torch.nn.functional.softplus((u * w).sum(-1))
    assert torch.allclose(wtu_hat, expected, atol=1e-9 * scale.max().item())


def test_without_u_hat_the_map_folds():
    # Sanity that the guarantee matters: with w^T u = -3 the raw map is not monotone along w.
    w = torch.tensor([1.0, 0.0], dtype=torch.float64)
    u = torch.tensor([-3.0, 0.0], dtype=torch.float64)
    a = torch.linspace(-1, 1, 201, dtype=torch.float64)
    raw = a + (u @ w) * torch.tanh(a)
    assert (raw.diff() < 0).any()
    fixed = a + (planar_u_hat(u, w) @ w) * torch.tanh(a)
    assert (fixed.diff() > 0).all()


def test_solve_tanh_residual_matches_the_equation():
    gen = torch.Generator().manual_seed(3)
    c = torch.randn(500, generator=gen, dtype=torch.float64) * 3
    a = (torch.rand(500, generator=gen, dtype=torch.float64) * 2 - 1) * (0.999 / c.abs())
    s = torch.randn(500, generator=gen, dtype=torch.float64)
    y = torch.randn(500, generator=gen, dtype=torch.float64) * 4
    v = solve_tanh_residual(y, c, a, s)
    assert (v + c * torch.tanh(a * v + s) - y).abs().max() < 1e-12


def test_planar_forward_gradients_are_implicit_ones():
    gen = torch.Generator().manual_seed(4)
    f = _planar(2, gen)
    x = torch.randn(5, 2, generator=gen, dtype=torch.float64)
    torch.autograd.gradcheck(lambda u, w, b: torch.func.functional_call(f, {"u": u, "w": w, "b": b}, (x,))[0],
                             (f.u.detach().clone().requires_grad_(), f.w.detach().clone().requires_grad_(),
                              f.b.detach().clone().requires_grad_()))


@pytest.mark.parametrize("d", [1, 2, 4])
def test_radial_inverse_logdet_vs_autograd(d):
    gen = torch.Generator().manual_seed(10 + d)
    f = RadialFlow(d).double()
    with torch.no_grad():
        for p in f.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
        f.beta_raw.fill_(-2.0)  # beta near -alpha: strongly contracting, still invertible
    z = 2 * torch.randn(64, d, generator=gen, dtype=torch.float64)
    x, ld = f.inverse(z)
    assert (f(x)[0] - z).abs().max() < 1e-12  # the closed-form inverse of g
    assert torch.allclose(ld, autograd_logdet(lambda v: f.inverse(v)[0], z), atol=1e-10)


def test_planar_stack_round_trip_float32():
    torch.manual_seed(5)
    flow = Compose([PlanarFlow(2) for _ in range(8)])
    x = torch.randn(100, 2)
    z, ld = flow(x)
    x_rec, ld_inv = flow.inverse(z)
    assert torch.allclose(x_rec, x, atol=1e-4) and torch.allclose(ld, -ld_inv, atol=1e-4)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="PlanarFlow: features must be a positive integer"):
        PlanarFlow(0)
    with pytest.raises(ValueError, match="RadialFlow: features must be a positive integer"):
        RadialFlow(-1)
    with pytest.raises(TypeError, match="RadialFlow: features must be an integer"):
        RadialFlow(2.0)
    with pytest.raises(ValueError, match=r"expects input of shape \[batch, 3\]"):
        PlanarFlow(3)(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"RadialFlow.inverse expects input of shape"):
        RadialFlow(3).inverse(torch.zeros(4))
    with pytest.raises(ValueError, match=r"planar_u_hat: w must have shape \[\.\.\., d\] \(d = 3"):
        planar_u_hat(torch.zeros(3), torch.zeros(2))
