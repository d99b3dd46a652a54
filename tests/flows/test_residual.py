"""Residual flows: the fixed-point inverse against its geometric bound, the clear error when it cannot
converge, power iteration once per training forward, and the three log-det modes (float64)."""
import pytest
import torch
from torch import nn

from flowlab.estimators import hutchinson_variance, logdet_exact, roulette_moments
from flowlab.flows import FixedPointError, FlowModel, ResidualFlow, StandardNormal, autograd_logdet
from flowlab.nn import LipschitzMLP, SpectralNormLinear

D = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def block(features=3, seed=0, coeff=0.9, **kw):
    torch.manual_seed(seed)
    g = LipschitzMLP(features, 16, 2, coeff=coeff, generator=_gen(seed))
    with torch.no_grad():
        for m in g:
            if isinstance(m, SpectralNormLinear):
                m.weight.mul_(4.0)   # well above coeff: the normalisation is active in every layer
        g.power_iterate(200)
    return ResidualFlow(features, g, **kw).double().eval()


def linear(A):
    """torch's own linear map x -> x A^T, with weight A."""
    layer = nn.Linear(A.shape[1], A.shape[0], bias=False, dtype=A.dtype)
    with torch.no_grad():
        layer.weight.copy_(A)
    return layer


def test_fixed_point_error_decays_at_most_like_lip_to_the_k():
    blk = block()
    L = blk.lipschitz_bound()
    assert 0.6 < L < 0.9 + 1e-9
    x = 2 * torch.randn(64, 3, generator=_gen(1), dtype=D)
    z, _ = blk(x)
    xs = blk.inverse_iterates(z, 40)
    err = (xs - x).norm(dim=-1)                         # [k, batch]
    start = blk.residual(x).norm(dim=-1)                # ||x_0 - x|| = ||h g(x)||
    k = torch.arange(41, dtype=D)[:, None]
    assert (err <= L ** k * start + 1e-13).all()
    x_rec, ld = blk.inverse(z)
    assert (x_rec - x).abs().max() < 1e-10 and blk.iterations < 200


def test_the_bound_is_attained_by_a_linear_block():
    Q, _ = torch.linalg.qr(torch.randn(3, 3, generator=_gen(2), dtype=D))
    A = (Q * torch.tensor([-0.8, 0.3, 0.1], dtype=D)) @ Q.T   # symmetric: Lip = rho = 0.8
    blk = ResidualFlow(3, linear(A)).double()
    x = torch.randn(1, 3, generator=_gen(3), dtype=D)
    x = x - (x @ Q[:, 1:]) @ Q[:, 1:].T                       # along the top eigenvector only
    z, _ = blk(x)
    err = (blk.inverse_iterates(z, 30) - x).norm(dim=-1)[:, 0]
    assert torch.allclose(err[1:] / err[:-1], torch.full((30,), 0.8, dtype=D), atol=1e-8)


def test_inverse_raises_a_clear_error_when_lip_is_at_least_one():
    lin = SpectralNormLinear(2, 2, coeff=1.5).double()
    with torch.no_grad():
        lin.weight.copy_(-2 * torch.eye(2, dtype=D))
    lin.power_iterate(5)
    bad = ResidualFlow(2, lin, name="block 7").double().eval()   # g(x) = -1.5 x + b: Lip 1.5
    z, _ = bad(torch.randn(3, 2, generator=_gen(), dtype=D))
    with pytest.raises(FixedPointError, match=r"block 7\.inverse.*diverged.*iterations.*residual.*Lip\(g\) < 1"):
        bad.inverse(z)
    slow = block(max_iter=3)
    z, _ = slow(torch.randn(3, 3, generator=_gen(), dtype=D))
    with pytest.raises(FixedPointError, match=r"did not converge after 3 iterations"):
        slow.inverse(z)
    assert issubclass(FixedPointError, ValueError)


def test_euler_step_is_invertible_when_h_lip_below_one():
    f = block(coeff=0.9).g
    L_f = f.lipschitz_bound()
    x = torch.randn(16, 3, generator=_gen(4), dtype=D)
    for h in (0.5 / L_f, 0.99 / L_f):
        step = ResidualFlow(3, f, step=h).double().eval()
        z, ld = step(x)
        assert torch.allclose(z, x + h * f(x))
        assert abs(step.lipschitz_bound() - h * L_f) < 1e-12
        x_rec, ld_inv = step.inverse(z)
        assert (x_rec - x).abs().max() < 1e-9 and (ld + ld_inv).abs().max() < 1e-12


def test_training_forward_runs_one_power_iteration_and_the_inverse_none():
    blk = block()
    blk.train()
    layer = blk.g[0]
    x = torch.randn(8, 3, generator=_gen(5), dtype=D)
    with torch.no_grad():
        layer.weight.add_(0.5)          # a "training step": the buffers are now stale
    u0 = layer.u.clone()
    z, ld = blk(x)
    u1 = layer.u.clone()
    assert not torch.equal(u0, u1)
    # the log-det used the same normalised weights as the output: compare with autograd at those weights
    blk.eval()
    assert torch.allclose(ld, autograd_logdet(lambda v: blk(v)[0], x), atol=1e-12)
    assert torch.allclose(z, blk(x)[0], atol=0)
    blk.train()
    x_rec, _ = blk.inverse(z)
    assert torch.equal(layer.u, u1) and (x_rec - x).abs().max() < 1e-9


def test_estimator_modes_are_unbiased_and_differentiable():
    blk = block(features=2, seed=3, coeff=0.6)    # Lip <= 0.6^3: finite roulette variance (2 rho^2 < 1)
    x = torch.randn(4, 2, generator=_gen(6), dtype=D)
    exact = logdet_exact(blk.residual, x)
    assert torch.allclose(blk(x)[1], exact, atol=1e-14)
    J = torch.func.vmap(torch.func.jacrev(blk.residual))(x)
    n, terms = 4000, 6
    blk.generator = _gen(7)
    with torch.no_grad(), blk.using(logdet="series", terms=terms, probes=n, noise="gaussian"):
        series = blk(x)[1]
    with torch.no_grad(), blk.using(logdet="roulette", probes=n, noise="gaussian"):
        roulette = blk(x)[1]
    assert blk.logdet == "exact"
    M = sum((-1) ** (k + 1) / k * torch.linalg.matrix_power(J, k) for k in range(1, terms + 1))
    z_series = (series - torch.diagonal(M, dim1=-2, dim2=-1).sum(-1)) / (hutchinson_variance(M, "gaussian") / n).sqrt()
    var_roulette = torch.stack([roulette_moments(Ji, noise="gaussian").variance for Ji in J])
    z_roulette = (roulette - exact) / (var_roulette / n).sqrt()
    assert z_series.abs().max() < 4 and z_roulette.abs().max() < 4, (z_series, z_roulette)   # 8 z's: ~5e-4
    for mode in ("exact", "series", "roulette"):
        blk.zero_grad()
        with blk.using(logdet=mode, probes=2):
            blk(x)[1].sum().backward()
        grads = [p.grad for p in blk.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads), mode


def test_trains_as_a_density_model_in_float32():
    torch.manual_seed(0)
    model = FlowModel(ResidualFlow(2, hidden=8, logdet="roulette", generator=_gen()), StandardNormal(2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = torch.randn(128, 2, generator=_gen(1)) * 0.5 + 1
    for _ in range(5):
        loss = -model.log_prob(data).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.isfinite(loss)
    assert model.sample(4, generator=_gen(2)).shape == (4, 2)


def test_settings_and_inputs_are_checked():
    blk = block()
    with pytest.raises(ValueError, match="logdet"):
        blk.using(logdet="approx").__enter__()
    with pytest.raises(ValueError, match="no setting"):
        blk.using(bogus=1).__enter__()
    with pytest.raises(ValueError, match=r"p must lie in \(0, 1\)"):
        ResidualFlow(2, p=1.0)
    with pytest.raises(ValueError, match="ResidualFlow expects input of shape"):
        blk(torch.randn(2, 4, dtype=D))
    with pytest.raises(ValueError, match=r"ResidualFlow\.inverse"):
        blk.inverse(torch.full((2, 3), float("nan"), dtype=D))
    with pytest.raises(TypeError, match="g must be a torch.nn.Module"):
        ResidualFlow(2, lambda x: x)
    with pytest.raises(ValueError, match="step"):
        ResidualFlow(2, step=0.0)
    with pytest.raises(TypeError, match="lipschitz_bound"):
        ResidualFlow(2, linear(torch.eye(2))).lipschitz_bound()
