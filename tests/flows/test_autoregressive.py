"""MADE masks, MAF and IAF: harness, strict triangularity by autograd, pass counts, errors."""
import pytest
import torch
from torch.func import jacrev

from flowlab.flows import Compose, FlowModel, StandardNormal
from flowlab.flows.autoregressive import (IAF, MADE, MAF, CallCounter, iaf, maf, network_passes,
                                          reset_passes)
from flowlab.flows import realnvp
from flowlab.flows import check_flow
from parameters import randomize_parameters

ORDERS = ["natural", "reverse", [2, 0, 4, 1, 3]]


def perturbed(module, seed=0, std=0.3):
    return randomize_parameters(module, std, seed).double()


@pytest.mark.parametrize("cls", [MAF, IAF])
@pytest.mark.parametrize("order", ORDERS)
def test_harness_single_layer(cls, order):
    layer = perturbed(cls(5, hidden=16, order=order), seed=1)
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 1.5
    report = check_flow(layer, x)
    assert report.jacobian_max_logdet > 1e-2  # the parameters really are non-trivial


@pytest.mark.parametrize("build", [maf, iaf])
def test_harness_stack_and_one_dimension(build):
    g = torch.Generator().manual_seed(3)
    check_flow(perturbed(build(4, num_layers=3, hidden=12), seed=4), torch.randn(5, 4, generator=g))
    check_flow(perturbed(build(1, num_layers=2, hidden=4), seed=5), torch.randn(5, 1, generator=g))


@pytest.mark.parametrize("order", ORDERS)
def test_made_jacobian_is_strictly_triangular_in_its_order(order):
    d = 5
    made = perturbed(MADE(d, hidden=16, layers=2, params_per_feature=2, order=order), seed=6)
    x = torch.randn(8, d, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    jac = torch.stack([jacrev(lambda v: made(v[None])[0])(xi) for xi in x])   # [N, D out, 2, D in]
    deg = made.degrees
    allowed = deg[:, None] > deg[None, :]                  # output t may see input s iff deg s < deg t
    # Union over points: a ReLU may be off at one point and hide a dependency there.
    dep = jac.abs().amax(dim=(0, 2)) > 0
    assert not (dep & ~allowed).any(), "an output depends on its own or a later coordinate"
    assert dep[allowed].all(), "the masks cut a dependency the order allows"


@pytest.mark.parametrize("cls", [MAF, IAF])
def test_flow_jacobian_is_triangular_with_exp_diagonal(cls):
    d = 4
    layer = perturbed(cls(d, hidden=8), seed=7)
    x = torch.randn(d, dtype=torch.float64)
    jac = jacrev(lambda v: layer(v[None])[0][0])(x)
    assert torch.count_nonzero(torch.triu(jac, 1)) == 0
    assert torch.allclose(jac.diagonal().log().sum(), layer(x[None])[1][0], atol=1e-12)


def test_pass_counts_maf_one_and_d_iaf_the_reverse():
    for d in (1, 3, 7):
        x = torch.randn(4, d)
        for cls, fwd, inv in ((MAF, 1, d), (IAF, d, 1)):
            layer = cls(d, hidden=max(d, 2))
            reset_passes(layer)
            layer(x)
            assert network_passes(layer) == fwd
            reset_passes(layer)
            layer.inverse(x)
            assert network_passes(layer) == inv
    model = FlowModel(maf(6, num_layers=3, hidden=8), StandardNormal(6))
    reset_passes(model)
    model.log_prob(torch.randn(2, 6))
    assert network_passes(model) == 3
    reset_passes(model)
    model.sample(2)
    assert network_passes(model) == 18


def test_call_counter_counts_coupling_conditioner_passes():
    flow = realnvp(6, num_layers=4, hidden=8)
    nets = [layer.conditioner for layer in flow]
    with CallCounter(nets) as c:
        flow.inverse(torch.randn(3, 6))
    assert c.count == 4
    with CallCounter(nets) as c:
        pass
    assert c.count == 0


def test_maf_log_prob_is_normalised_in_one_dimension():
    model = FlowModel(perturbed(maf(1, num_layers=2, hidden=4), seed=8), StandardNormal(1).double())
    grid = torch.linspace(-30, 30, 60001, dtype=torch.float64)[:, None]
    mass = torch.trapezoid(model.log_prob(grid).exp().detach(), grid[:, 0])
    assert abs(mass.item() - 1) < 1e-6


def test_errors():
    with pytest.raises(ValueError, match=r"expects input of shape \[batch, 3\]"):
        MAF(3, hidden=4)(torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"IAF.inverse expects"):
        IAF(3, hidden=4).inverse(torch.randn(2))
    with pytest.raises(ValueError, match="hidden >= features - 1"):
        MADE(10, hidden=4)
    with pytest.raises(ValueError, match="permutation"):
        MADE(3, hidden=4, order=[0, 0, 1])
    with pytest.raises(ValueError, match="order must be"):
        MADE(3, hidden=4, order="random")
    with pytest.raises(ValueError, match="positive integer"):
        maf(3, num_layers=0)
    with pytest.raises(ValueError, match="CallCounter"):
        CallCounter([])


def test_loglog_slope_recovers_power_laws():
    from flowlab.measure import loglog_slope
    dims = [2, 4, 8, 16]
    assert abs(loglog_slope(dims, [3e-3 * d for d in dims]) - 1) < 1e-12
    assert abs(loglog_slope(dims, [5e-4] * 4)) < 1e-12
    with pytest.raises(ValueError, match="at least two"):
        loglog_slope([2], [1.0])


def test_direction_costs_counts_passes_and_times_every_dimension():
    from flowlab.flows.autoregressive import direction_costs
    dims = [2, 3, 5]
    out = direction_costs(lambda d: MAF(d, hidden=8), dims, batch=4, repeats=2, inner=1)
    assert out["passes"] == {"forward": [1, 1, 1], "inverse": dims}
    for key in ("seconds", "cpu_seconds"):
        for direction in ("forward", "inverse"):
            t = out[key][direction]
            assert len(t) == 2 and all(len(row) == 3 and min(row) >= 0 for row in t)
    flow = direction_costs(lambda d: realnvp(d, num_layers=3, hidden=8), [4], batch=2, repeats=1,
                           networks=lambda f: [layer.conditioner for layer in f])
    assert flow["passes"] == {"forward": [3], "inverse": [3]}
    with pytest.raises(ValueError, match="repeats must be a positive integer"):
        direction_costs(lambda d: MAF(d), [2], repeats=0)
