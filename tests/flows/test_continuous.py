"""CNF / FFJORD: closed forms on linear dynamics, one probe per solve (also under the adjoint), NFE,
settings, an image field, clear errors. (Round trip and log-det vs autograd: ``test_harness.py``.)"""
import pytest
import torch
from torch.autograd.functional import jacobian

from flowlab.flows import CNF, FlowModel, StandardNormal
from flowlab.measure.counting import CallCounter
from flowlab.nn import TimeConcatConvNet, TimeConcatMLP
from flowlab.ode import LinearField

TIGHT = dict(rtol=1e-10, atol=1e-10)


def random_field(d=2, hidden=(16, 16), seed=0, scale=0.5):
    torch.manual_seed(seed)
    f = TimeConcatMLP(d, hidden)
    for p in f.parameters():
        p.data.normal_(0, scale)
    return f.double()


def test_flow_map_is_the_forward_map():
    cnf = CNF(random_field(), 2, **TIGHT).double()
    x = torch.randn(6, 2, dtype=torch.float64)
    with torch.no_grad():
        z, _ = cnf(x)
    assert (z - x).abs().max() > 1e-2          # a non-trivial map
    assert torch.allclose(cnf.flow_map(x), z, atol=1e-8, rtol=0)
    assert torch.allclose(cnf.flow_map(z, cnf.T, 0.0), x, atol=1e-8, rtol=0)


def test_linear_dynamics_closed_form_and_the_probe_of_each_solve():
    torch.manual_seed(2)
    A = torch.randn(3, 3, dtype=torch.float64)
    g = torch.Generator().manual_seed(5)
    cnf = CNF(LinearField(A), 3, T=0.7, generator=g, **TIGHT).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    with torch.no_grad():
        z, ld = cnf(x)
    assert torch.allclose(z, x @ torch.linalg.matrix_exp(0.7 * A).T, atol=1e-9)
    assert torch.allclose(ld, torch.full_like(ld, 0.7 * torch.trace(A).item()), atol=1e-9)
    # Hutchinson with the probe held fixed along the trajectory gives exactly T e^T A e, with e the
    # solve's own probe: drawn once per solve from the CNF's generator.
    state = g.get_state()
    with torch.no_grad(), cnf.using(trace="hutchinson"):
        _, ld_h = cnf(x)
        _, ld_h2 = cnf(x)
    g.set_state(state)
    e, e2 = cnf.draw_probe(x), cnf.draw_probe(x)
    assert torch.allclose(ld_h, 0.7 * torch.einsum("bi,ij,bj->b", e, A, e), atol=1e-9)
    assert torch.allclose(ld_h2, 0.7 * torch.einsum("bi,ij,bj->b", e2, A, e2), atol=1e-9)
    assert not torch.allclose(ld_h, ld_h2)  # a fresh probe per solve
    assert cnf.trace == "exact"  # using() restored the setting


@pytest.mark.parametrize("seed", [4, 5])
def test_adjoint_gradients_match_direct_backprop_under_either_norm(seed):
    """The seminorm (the default) and the full norm of the backward step control: both give backprop's
    gradients to the solver's tolerance (how many steps each saves is measured in make bench, not here:
    the seminorm usually takes fewer, not always)."""
    x = torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    grads = {}
    for adjoint, norm in ((False, "full"), (True, "full"), (True, "seminorm")):
        cnf = CNF(random_field(seed=seed), 2, rtol=1e-9, atol=1e-9, adjoint=adjoint, adjoint_norm=norm).double()
        model = FlowModel(cnf, StandardNormal(2)).double()
        model.log_prob(x).mean().backward()
        grads[adjoint, norm] = torch.cat([p.grad.reshape(-1) for p in cnf.parameters()])
    assert torch.allclose(grads[True, "full"], grads[False, "full"], atol=1e-6)
    assert torch.allclose(grads[True, "seminorm"], grads[False, "full"], atol=1e-6)
    assert CNF(random_field(seed=seed), 2).adjoint_norm == "seminorm"
    with pytest.raises(ValueError, match="unknown adjoint_norm 'l2'"):
        CNF(random_field(seed=seed), 2, adjoint_norm="l2")


@pytest.mark.parametrize("bottleneck", [False, True])
def test_adjoint_differentiates_each_solve_with_its_own_probe(bottleneck):
    """Two Hutchinson solves, one backward(): the adjoint of each must use the probe of its solve."""
    x = torch.randn(6, 2, dtype=torch.float64)
    grads = []
    for adjoint in (False, True):
        cnf = CNF(random_field(hidden=(8,), seed=6), 2, trace="hutchinson", noise="rademacher",
                  bottleneck=bottleneck, rtol=1e-9, atol=1e-9, adjoint=adjoint,
                  generator=torch.Generator().manual_seed(7)).double()
        (cnf(x)[1].sum() + 2 * cnf(0.5 * x)[1].sum()).backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in cnf.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_nfe_is_the_number_of_field_evaluations_of_the_last_solve():
    field = TimeConcatMLP(2, (8,))
    cnf = CNF(field, 2, trace="hutchinson", noise="rademacher", bottleneck=True, rtol=1e-4, atol=1e-4)
    model = FlowModel(cnf, StandardNormal(2))
    x = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert x.shape == (5, 2) and torch.isfinite(x).all()
    # The bottleneck calls encode/decode, not field(); decode's layers run only inside the solve
    # (encode also runs once outside it, to size the probe).
    with CallCounter(field.layers[-1]) as calls:
        cnf(x)
    assert cnf.nfe == calls.count > 0
    with cnf.using(trace="exact", bottleneck=False), CallCounter(field) as calls:
        cnf(x)
    assert cnf.nfe == calls.count > 0


def test_using_restores_settings_also_after_an_error():
    cnf = CNF(TimeConcatMLP(2, (8,)), 2)
    with pytest.raises(RuntimeError, match="inside"):
        with cnf.using(rtol=1e-3, method="rk4", options={"step_size": 0.5}):
            assert (cnf.rtol, cnf.method) == (1e-3, "rk4")
            raise RuntimeError("inside")
    assert (cnf.rtol, cnf.method, cnf.options) == (1e-5, "dopri5", None)
    with pytest.raises(ValueError, match="no setting"):
        with cnf.using(tolerance=1e-3):
            pass


def test_errors_on_bad_input():
    cnf = CNF(TimeConcatMLP(2, (8,)), 2)
    with pytest.raises(ValueError, match=r"expects input of shape \[batch, 2\]"):
        cnf(torch.randn(4, 3))
    with pytest.raises(ValueError, match="expects input of shape"):
        cnf.inverse(torch.randn(4))
    with pytest.raises(ValueError, match="unknown trace"):
        CNF(TimeConcatMLP(2, (8,)), 2, trace="hutch")
    with pytest.raises(ValueError, match="unknown trace"):
        with cnf.using(trace="approx"):
            pass
    with pytest.raises(ValueError, match="unknown trace 'approx'"):
        cnf.trace = "approx"  # settings are checked when they are set, also by plain assignment
    with pytest.raises(ValueError, match="CNF: T must be a positive"):
        cnf.T = -1.0
    assert (cnf.trace, cnf.T) == ("exact", 1.0)  # a refused value is not set
    with pytest.raises(ValueError, match="unknown noise"):
        CNF(TimeConcatMLP(2, (8,)), 2, noise="uniform")
    with pytest.raises(ValueError, match="bottleneck=True needs"):
        CNF(LinearField(torch.eye(2)), 2, trace="hutchinson", bottleneck=True)
    with pytest.raises(ValueError, match="CNF: T must be a positive"):
        CNF(TimeConcatMLP(2, (8,)), 2, T=0.0)


def test_image_field_cnf_round_trip_and_logdet():
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
    assert ld.abs().max() > 0.1
    assert torch.allclose(ld, ld_auto, atol=1e-8, rtol=0)
