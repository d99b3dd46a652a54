"""flowlab.nn's Lipschitz networks: spectral normalisation by power iteration against the SVD and
torch's own spectral_norm, the power-iteration error bound, LipSwish's Lipschitz constant, and the
Lipschitz bound of an MLP of such layers (tests/test_nn.py covers the other networks)."""
import pytest
import torch
from torch import nn

from flowlab.nn import LipschitzMLP, SpectralNormLinear
from flowlab.nn.lipschitz import LipSwish, frozen_power_iteration

D = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _layer(i=5, o=7, seed=0, **kw):
    return SpectralNormLinear(i, o, generator=_gen(seed), **kw).double()


def test_power_iteration_matches_svd_within_its_bound():
    layer = _layer(6, 9, init_iterations=0)
    W = layer.weight.detach()
    s = torch.linalg.svdvals(W)
    _, _, Vh = torch.linalg.svd(W)
    cos2 = float((Vh[0] @ layer.v) ** 2)
    tan2 = (1 - cos2) / cos2
    done = 0
    for n in (1, 2, 4, 8, 16):
        est = layer.power_iterate(n - done)
        done = n
        rel = float(1 - est / s[0])
        bound = tan2 * float(s[1] / s[0]) ** (4 * n - 2)
        assert -1e-14 <= rel <= bound + 1e-14, (n, rel, bound)
    est = layer.power_iterate(300)
    assert torch.allclose(est, torch.linalg.matrix_norm(W, 2), rtol=1e-12)


def test_same_buffers_same_iterations_as_torch_spectral_norm():
    layer = _layer(4, 6, init_iterations=0, coeff=1.0)
    ref = nn.Linear(4, 6).double()
    with torch.no_grad():
        ref.weight.copy_(layer.weight)
    ref = nn.utils.parametrizations.spectral_norm(ref, n_power_iterations=3)
    param = ref.parametrizations.weight[0]
    with torch.no_grad():   # start torch's iteration from our vectors
        param._u.copy_(layer.u)
        param._v.copy_(layer.v)
    ref.train()
    w_ref = ref.weight     # one forward of the parametrization: 3 iterations, then W / sigma
    layer.power_iterate(3)
    assert torch.allclose(layer.u, param._u, atol=1e-14) and torch.allclose(layer.v, param._v, atol=1e-14)
    sigma = layer.power_iterate(0)
    assert torch.allclose(layer.weight / sigma, w_ref, atol=1e-13)


def test_normalised_weight_has_spectral_norm_at_most_coeff_and_small_weights_are_left_alone():
    layer = _layer(5, 5, coeff=0.9, init_iterations=0)
    with torch.no_grad():
        layer.weight.mul_(5.0)
    layer.power_iterate(200)
    assert abs(torch.linalg.matrix_norm(layer.normalized_weight(), 2) - 0.9) < 1e-10
    with torch.no_grad():
        layer.weight.mul_(0.01)
    layer.power_iterate(100)
    assert torch.equal(layer.normalized_weight(), layer.weight)   # sigma < coeff: no rescaling


def test_power_iteration_runs_per_forward_in_training_only_and_not_when_frozen():
    layer = _layer(3, 4, init_iterations=0, n_power_iterations=2)
    x = torch.randn(2, 3, dtype=D)
    u0 = layer.u.clone()
    layer.eval()
    layer(x)
    assert torch.equal(layer.u, u0)
    layer.train()
    with frozen_power_iteration(layer):
        layer(x)
        assert torch.equal(layer.u, u0)
    assert layer.frozen is False
    layer(x)
    assert not torch.equal(layer.u, u0)
    # gradients reach the weight through sigma and W, not the buffers
    (layer(x) ** 2).sum().backward()
    assert layer.weight.grad is not None and not layer.u.requires_grad


def test_lipswish_is_one_lipschitz_for_every_beta():
    act = LipSwish().double()
    u = torch.linspace(-30, 30, 200_001, dtype=D)
    for raw in (-5.0, 0.5, 4.0):
        with torch.no_grad():
            act.beta_raw.fill_(raw)
        x = (u / act.beta).detach().requires_grad_(True)   # the same range of beta * x for every beta
        (d,) = torch.autograd.grad(act(x).sum(), x)
        assert d.abs().max() < 1.0 and d.max() > 0.99   # the sup 1.0998 / 1.1 is nearly attained
        assert act.beta > 0


def test_lipschitz_mlp_bound_bounds_the_jacobian_norm():
    net = LipschitzMLP(3, 16, 2, coeff=0.9, generator=_gen(3)).double()
    bound = net.lipschitz_bound()
    assert bound <= 0.9 ** 3 + 1e-9
    x = torch.randn(200, 3, generator=_gen(4), dtype=D)
    J = torch.func.vmap(torch.func.jacrev(net))(x)
    assert torch.linalg.matrix_norm(J, 2).max() <= bound + 1e-12


@pytest.mark.parametrize("kwargs,error", [(dict(coeff=0.0), ValueError), (dict(coeff=True), TypeError),
                                          (dict(n_power_iterations=-1), ValueError),
                                          (dict(generator=3), TypeError)])
def test_bad_arguments_raise(kwargs, error):
    with pytest.raises(error, match="SpectralNormLinear"):
        SpectralNormLinear(3, 3, **kwargs)
    with pytest.raises(TypeError, match="LipschitzMLP"):
        LipschitzMLP(2.0)
