"""ResNet as Euler: block = Euler step, convergence orders, Euler's stability limit."""
import math

import pytest
import torch
from torchdiffeq import odeint

from flowlab.measure import loglog_slope
from flowlab.nn import TimeConcatMLP
from flowlab.ode import EulerResNet, ResidualBlock, euler_amplification


def _field(dim=3, seed=0):
    torch.manual_seed(seed)
    f = TimeConcatMLP(dim, (16,), "tanh").double()
    for p in f.parameters():
        p.data.normal_(0, 0.5)
    return f


def test_block_is_one_euler_step():
    f = _field()
    z = torch.randn(5, 3, dtype=torch.float64)
    block = ResidualBlock(f)
    euler = odeint(f, z, torch.tensor([0.0, 1.0], dtype=torch.float64), method="euler",
                   options={"step_size": 1.0})[-1]
    assert torch.allclose(block(z), euler, atol=1e-14, rtol=0)
    assert not torch.allclose(block(z), z)


def test_resnet_equals_torchdiffeq_euler_and_converges():
    f = _field()
    z = torch.randn(4, 3, dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    ref = odeint(f, z, t, method="dopri5", rtol=1e-12, atol=1e-12)[-1]
    Ls, errs = [8, 16, 32, 64], []
    for L in Ls:
        net = EulerResNet(f, L)
        euler = odeint(f, z, t, method="euler", options={"step_size": 1.0 / L})[-1]
        assert torch.allclose(net(z), euler, atol=1e-12, rtol=0)
        errs.append((net(z) - ref).abs().max().item())
    assert abs(loglog_slope(Ls, errs) + 1) < 0.15
    rk4 = [(odeint(f, z, t, method="rk4", options={"step_size": 1.0 / L})[-1] - ref).abs().max().item()
           for L in [4, 8, 16]]
    assert abs(loglog_slope([4, 8, 16], rk4) + 4) < 0.5


@pytest.mark.parametrize("lam_dt, grows", [(2.5, True), (1.5, False), (0.5, False)])
def test_euler_stability(lam_dt, grows):
    lam, n = 10.0, 30
    dt = lam_dt / lam
    z0 = torch.tensor([1.0], dtype=torch.float64)
    zs = odeint(lambda t, z: -lam * z, z0, torch.tensor([0.0, n * dt], dtype=torch.float64),
                method="euler", options={"step_size": dt})
    assert math.isclose(zs[-1].abs().item(), euler_amplification(lam, dt, n), rel_tol=1e-9)
    assert (zs[-1].abs().item() > 1) == grows


def test_bad_inputs():
    with pytest.raises(ValueError, match="num_blocks"):
        EulerResNet(_field(), 0)
    with pytest.raises(ValueError, match=r"TimeConcatMLP.*\[2, 4\]"):  # the field checks its own input
        _field()(0.0, torch.zeros(2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="step"):
        ResidualBlock(_field(), step=0.0)
    with pytest.raises(ValueError, match="positive"):
        loglog_slope([1, 2], [0, 1])
