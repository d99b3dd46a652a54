"""MAF and IAF: triangular Jacobians with exp diagonal, one pass against D passes, normalisation, errors.

(The MADE's masks are tested in ``tests/test_nn.py``; round trips and log-dets in ``test_harness.py``;
pass counts against the dimension through ``measure.direction_costs`` in ``tests/measure``.)"""
import pytest
import torch
from torch.func import jacrev

from flowlab.flows import IAF, MAF, FlowModel, StandardNormal, randomize_parameters
from flowlab.flows.autoregressive import iaf, maf
from flowlab.measure.counting import CallCounter


def perturbed(module, seed=0, std=0.3):
    return randomize_parameters(module, std, seed=seed).double()


@pytest.mark.parametrize("cls", [MAF, IAF])
def test_flow_jacobian_is_triangular_with_exp_diagonal(cls):
    d = 4
    layer = perturbed(cls(d, hidden=8), seed=7)
    x = torch.randn(d, dtype=torch.float64)
    jac = jacrev(lambda v: layer(v[None])[0][0])(x)
    assert torch.count_nonzero(torch.triu(jac, 1)) == 0
    assert torch.count_nonzero(torch.tril(jac, -1)) > 0  # really autoregressive, not elementwise
    assert torch.allclose(jac.diagonal().log().sum(), layer(x[None])[1][0], atol=1e-12)


def test_pass_counts_maf_one_and_d_iaf_the_reverse():
    for d in (1, 3, 7):
        x = torch.randn(4, d)
        for cls, fwd, inv in ((MAF, 1, d), (IAF, d, 1)):
            layer = cls(d, hidden=max(d, 2))
            with CallCounter(layer.made) as c:
                layer(x)
            assert c.count == c.forward == fwd
            with CallCounter(layer.made) as c:
                layer.inverse(x)
            assert c.count == inv
    model = FlowModel(maf(6, num_layers=3, hidden=8), StandardNormal(6))
    nets = [layer.made for layer in model.flow]
    with CallCounter(nets) as c:
        model.log_prob(torch.randn(2, 6))
    assert c.count == 3
    with CallCounter(nets) as c:
        model.sample(2)
    assert c.count == 18


def test_stacks_alternate_the_order():
    for build in (maf, iaf):
        flow = build(4, num_layers=3, hidden=8)
        assert [layer.made.degrees.tolist() for layer in flow] == [[1, 2, 3, 4], [4, 3, 2, 1], [1, 2, 3, 4]]


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
        MAF(10, hidden=4)
    with pytest.raises(ValueError, match=r"^MAF \(context_features=0\) takes context=None"):
        MAF(3, hidden=4)(torch.randn(2, 3), torch.randn(2, 2))
    with pytest.raises(ValueError, match=r"^IAF\.inverse \(context_features=2\) takes context=\[batch, 2\]"):
        IAF(3, hidden=4, context_features=2).inverse(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"IAF: context has 1 rows for a batch of 2"):
        IAF(3, hidden=4, context_features=2)(torch.randn(2, 3), torch.randn(1, 2))
