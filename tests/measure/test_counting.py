"""The one call counter: calls of modules inside a block, split by autograd phase, VJPs."""
import pytest
import torch
from torch import nn

from flowlab.flows import realnvp
from flowlab.measure.counting import CallCounter


def test_counts_calls_of_several_modules_inside_the_block_only():
    flow = realnvp(6, num_layers=4, hidden=8)
    nets = [layer.conditioner for layer in flow]
    with CallCounter(nets) as c:
        flow.inverse(torch.randn(3, 6))
    assert c.count == c.forward == 4 and c.backward == 0
    flow(torch.randn(3, 6))  # outside the block: not counted, and the hooks are gone
    assert c.count == 4 and all(not net._forward_hooks for net in nets)
    with CallCounter(nets) as c:
        pass
    assert c.count == 0


def test_backward_phase_and_vjps():
    net = nn.Linear(3, 3)
    x = torch.randn(2, 3, requires_grad=True)

    class Recompute(torch.autograd.Function):  # calls the network again inside backward, like an adjoint
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            with torch.enable_grad():
                net(x.detach())
            return grad

    with CallCounter(net, vjps=True) as c:
        (net(Recompute.apply(x)) ** 2).sum().backward()
    assert c.counts() == {"forward": 1, "backward": 1, "vjp": 1}
    with CallCounter(net) as c, c.phase("backward"):
        net(x)
    assert (c.forward, c.backward) == (0, 1)


def test_errors():
    with pytest.raises(TypeError, match="CallCounter"):
        CallCounter([])
    with pytest.raises(TypeError, match="CallCounter"):
        CallCounter([nn.Linear(2, 2), 3])
    with pytest.raises(ValueError, match="unknown phase"):
        with CallCounter(nn.Linear(2, 2)).phase("sideways"):
            pass
