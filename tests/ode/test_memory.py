"""Memory held for backward (flowlab.ode.memory): exact byte counts on known graphs, the adjoint's
constant and backprop's linear memory in the number of solver steps, peak memory."""
import pytest
import torch
from torchdiffeq import odeint, odeint_adjoint

from flowlab.nn import TimeConcatMLP
from flowlab.ode import odeint_alg1, peak_memory, saved_tensor_bytes
from flowlab.ode.memory import _reset_peak_rss


def test_bytes_of_known_graphs():
    x = torch.randn(100, dtype=torch.float64, requires_grad=True)
    _, sin_bytes = saved_tensor_bytes(lambda: x.sin())  # sin saves its input: 800 bytes
    assert sin_bytes == 800
    _, both = saved_tensor_bytes(lambda: x.sin().exp())  # + exp saves its output
    assert both == 1600
    _, square = saved_tensor_bytes(lambda: x * x)  # the same storage saved twice counts once
    assert square == 800


def test_dropped_graph_is_not_counted():
    x = torch.randn(100, dtype=torch.float64, requires_grad=True)

    def fn():
        discarded = x.exp().sin()  # builds a graph that is freed before fn returns
        del discarded
        return x.cos()

    assert saved_tensor_bytes(fn)[1] == 800


def test_backprop_memory_is_linear_and_adjoint_constant_in_steps():
    torch.manual_seed(0)
    field = TimeConcatMLP(3, (8,), "tanh").double()
    z0 = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)

    def held(solve, steps):
        return saved_tensor_bytes(lambda: solve(field, z0, t, method="rk4",
                                                options=dict(step_size=1.0 / steps))[-1].sum())[1]

    backprop = [held(odeint, n) for n in (2, 4, 8)]
    assert backprop[2] - backprop[1] == 2 * (backprop[1] - backprop[0]) > 0  # exactly linear
    for solve in (odeint_alg1, odeint_adjoint):
        assert len({held(solve, n) for n in (2, 4, 8)}) == 1


@pytest.mark.skipif(not _reset_peak_rss(), reason="peak RSS cannot be reset on this system")
def test_peak_memory_sees_a_large_allocation():
    size = 64 * 2**20

    def fn():
        block = torch.ones(size // 8, dtype=torch.float64)  # touches every page
        return float(block[-1])

    result, peak = peak_memory(fn)
    assert result == 1.0
    assert peak >= 0.8 * size


def test_memory_helpers_reject_bad_input():
    with pytest.raises(TypeError, match="callable"):
        saved_tensor_bytes(3)
    with pytest.raises(TypeError, match="callable"):
        peak_memory(None)
    with pytest.raises(ValueError, match="'cpu' and 'cuda'"):
        peak_memory(lambda: 0, device="meta")


def test_measuring_does_not_change_gradients():
    torch.manual_seed(1)
    field = TimeConcatMLP(3, (8,), "tanh").double()
    z0 = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)

    def loss():
        return (odeint_alg1(field, z0, t, method="rk4", options=dict(step_size=0.1))[-1] ** 2).sum()

    measured, _ = saved_tensor_bytes(loss)
    plain = torch.autograd.grad(loss(), (z0, *field.parameters()))
    for a, b in zip(torch.autograd.grad(measured, (z0, *field.parameters())), plain):
        assert torch.equal(a, b)
