"""Planar and radial flows: harness, the u-hat guarantee, log-det formula, inverse solve, errors."""
import math

import pytest
import torch

from flowlab.flows import Compose, PlanarFlow, RadialFlow, planar_u_hat
from flowlab.flows.planar import solve_tanh_residual
from flowlab.flows import autograd_logdet, check_flow


def _planar(d, gen, below=True):
    f = PlanarFlow(d).double()
    with torch.no_grad():
        for p in f.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
        if below:  # push w^T u well below -1: only u-hat makes this invertible
            f.u.add_(-(3 + f.u @ f.w) * f.w / (f.w @ f.w))
    return f


@pytest.mark.parametrize("d", [1, 2, 5])
def test_planar_harness_with_wtu_below_minus_one(d):
    gen = torch.Generator().manual_seed(d)
    f = _planar(d, gen)
    assert (f.u @ f.w).item() < -1
    assert (f.u_hat() @ f.w).item() > -1
    check_flow(f, 2 * torch.randn(64, d, generator=gen, dtype=torch.float64), atol=1e-9)


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
def test_radial_harness_and_logdet_vs_autograd(d):
    gen = torch.Generator().manual_seed(10 + d)
    f = RadialFlow(d).double()
    with torch.no_grad():
        for p in f.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
        f.beta_raw.fill_(-2.0)  # beta near -alpha: strongly contracting, still invertible
    z = 2 * torch.randn(64, d, generator=gen, dtype=torch.float64)
    check_flow(f, z, atol=1e-9)
    _, ld = f.inverse(z)
    assert torch.allclose(ld, autograd_logdet(lambda v: f.inverse(v)[0], z), atol=1e-10)


def test_planar_stack_round_trip_float32():
    torch.manual_seed(5)
    flow = Compose([PlanarFlow(2) for _ in range(8)])
    x = torch.randn(100, 2)
    z, ld = flow(x)
    x_rec, ld_inv = flow.inverse(z)
    assert torch.allclose(x_rec, x, atol=1e-4) and torch.allclose(ld, -ld_inv, atol=1e-4)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="positive integer number of features"):
        PlanarFlow(0)
    with pytest.raises(ValueError, match="positive integer number of features"):
        RadialFlow(-1)
    with pytest.raises(ValueError, match=r"expects input of shape \[batch, 3\]"):
        PlanarFlow(3)(torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"RadialFlow.inverse expects input of shape"):
        RadialFlow(3).inverse(torch.zeros(4))
    with pytest.raises(ValueError, match="same shape"):
        planar_u_hat(torch.zeros(3), torch.zeros(2))


# ------------------------------------------------------------ energies and reverse-KL fitting
from flowlab.data import ENERGIES, energy, log_normalizer  # noqa: E402
from flowlab.train import fit_reverse_kl_ensemble, kl_to_target, reverse_kl_loss  # noqa: E402


def test_log_normalizer_of_a_gaussian_energy():
    sigma = 0.7
    log_z = log_normalizer(lambda z: 0.5 * (z ** 2).sum(-1) / sigma ** 2, lim=6.0, n=601)
    assert abs(log_z - math.log(2 * math.pi * sigma ** 2)) < 1e-9


def test_energies_are_normalizable_and_grid_converged():
    for name, u in ENERGIES.items():
        coarse, fine = log_normalizer(u, n=701), log_normalizer(u, n=1401)
        assert abs(coarse - fine) < 1e-6, name


def test_kl_of_the_exact_answer_is_zero():
    # With u = w = 0 the planar flow is the identity (u-hat = 0), so q = N(0, I): against
    # U = |z|^2/2 the KL is 0 for every sample.
    f = PlanarFlow(2)
    with torch.no_grad():
        f.u.zero_()
        f.w.zero_()
    u = lambda z: 0.5 * (z ** 2).sum(-1)  # noqa: E731
    kl, se = kl_to_target(f, u, log_normalizer(u), n=1000, generator=torch.Generator().manual_seed(0))
    assert abs(kl) < 1e-5 and se < 1e-5


def test_ensemble_fit_lowers_the_loss():
    flows, hist = fit_reverse_kl_ensemble(lambda: Compose([PlanarFlow(2) for _ in range(2)]), ["U2"], [0, 1],
                                          steps=30, batch=64, lr=0.02)
    assert set(flows) == {("U2", 0), ("U2", 1)}
    assert flows[("U2", 0)][0].u.data.ne(flows[("U2", 1)][0].u.data).any()
    assert sum(hist.losses[-5:]) < sum(hist.losses[:5])
    gen = torch.Generator().manual_seed(0)
    assert torch.isfinite(reverse_kl_loss(flows[("U2", 1)], energy("U2"), 100, gen))


def test_unknown_energy_raises():
    with pytest.raises(ValueError, match="unknown energy 'U5'"):
        energy("U5")
    with pytest.raises(ValueError, match=r"u1 expects input of shape \[batch, 2\]"):
        ENERGIES["U1"](torch.zeros(3, 3))


def test_stacked_field_equals_its_members():
    from flowlab.train import StackedTimeMLP
    from flowlab.flows import TimeConcatMLP

    torch.manual_seed(0)
    members = [TimeConcatMLP(2, (5,), "tanh") for _ in range(3)]
    stacked = StackedTimeMLP(members)
    z = torch.randn(7, 6)
    out = stacked(torch.tensor(0.3), z)
    for i, m in enumerate(members):
        assert torch.allclose(out[:, 2 * i:2 * i + 2], m(torch.tensor(0.3), z[:, 2 * i:2 * i + 2]), atol=1e-6)
        assert torch.allclose(stacked.member(i)(0.3, z[:, :2]), m(0.3, z[:, :2]), atol=1e-6)
    with pytest.raises(ValueError, match="one hidden layer"):
        StackedTimeMLP([TimeConcatMLP(2, (5, 5), "tanh")])


def test_cnf_ensemble_and_single_fit_run():
    from flowlab.train import fit_reverse_kl, fit_reverse_kl_cnf_ensemble

    flows, hist = fit_reverse_kl_cnf_ensemble(["U1", "U4"], [0], hidden=4, steps=3, batch=16, lr=0.01)
    assert set(flows) == {("U1", 0), ("U4", 0)} and len(hist.losses) == 3
    kl, se = kl_to_target(flows[("U4", 0)], energy("U4"), 0.0, n=50, generator=torch.Generator().manual_seed(0))
    assert math.isfinite(kl) and math.isfinite(se)
    hist = fit_reverse_kl(Compose([PlanarFlow(2)]), energy("U2"), steps=3, batch=16, lr=0.01, seed=0)
    assert len(hist.losses) == 3
