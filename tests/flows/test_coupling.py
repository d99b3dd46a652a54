"""Coupling layers: harness, triangular Jacobian, log-det identities, masks, errors."""
import pytest
import torch
from torch.func import jacrev

from flowlab.flows import (AdditiveCoupling, AffineCoupling, Compose, FlowModel, StandardNormal,
                           alternating_mask, channel_mask, checkerboard_mask, half_mask, realnvp)
from flowlab.flows import check_flow


def perturbed(layer, seed=0, std=0.3):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return layer


CASES = [
    (4, lambda: alternating_mask(4, 0), (4,)),
    (5, lambda: half_mask(5, 1), (5,)),
    ((3, 4, 6), lambda: checkerboard_mask(4, 6, 1), (3, 4, 6)),
    ((4, None, None), lambda: channel_mask(4, 0), (4, 3, 5)),
    ((3, 4, 4), lambda: channel_mask(3, 1), (3, 4, 4)),
]


@pytest.mark.parametrize("cls", [AdditiveCoupling, AffineCoupling])
@pytest.mark.parametrize("event_shape,mask,shape", CASES)
def test_harness(cls, event_shape, mask, shape):
    layer = perturbed(cls(event_shape, mask(), hidden=8))
    x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(1))
    report = check_flow(layer, x)
    if cls is AffineCoupling:
        assert report.jacobian_max_logdet > 1e-2  # the check is not trivially at the identity


def test_sigmoid_scale_harness():
    layer = perturbed(AffineCoupling((4, None, None), channel_mask(4, 1), hidden=8, scale="sigmoid"))
    check_flow(layer, torch.randn(2, 4, 3, 3))


def test_identity_at_init():
    layer = AffineCoupling(6, alternating_mask(6, 1))
    x = torch.randn(5, 6)
    z, ld = layer(x)
    assert torch.equal(z, x) and torch.equal(ld, torch.zeros(5))


def test_nice_logdet_zero_and_volume_preserving():
    layer = perturbed(AdditiveCoupling(4, half_mask(4, 0), hidden=8)).double()
    x = torch.randn(6, 4, dtype=torch.float64)
    _, ld = layer(x)
    assert torch.equal(ld, torch.zeros(6, dtype=torch.float64))
    for xi in x:
        det = torch.linalg.det(jacrev(lambda v: layer(v[None])[0][0])(xi))
        assert abs(det.item() - 1) < 1e-12


def test_affine_triangular_and_logdet_is_sum_s():
    d = 6
    mask = half_mask(d, 0)  # copies 0..2, transforms 3..5
    layer = perturbed(AffineCoupling(d, mask, hidden=16)).double()
    x = torch.randn(4, d, dtype=torch.float64)
    _, ld = layer(x)
    s, _ = layer.scale_and_shift(x)
    assert torch.allclose(ld, s.sum(1), atol=1e-12, rtol=0)
    for xi, si in zip(x, s):
        jac = jacrev(lambda v: layer(v[None])[0][0])(xi)
        assert torch.equal(jac[:3, 3:], torch.zeros(3, 3, dtype=torch.float64))  # upper block exactly 0
        assert torch.equal(jac[:3, :3], torch.eye(3, dtype=torch.float64))
        assert torch.allclose(jac[3:, 3:], torch.diag(si[3:].exp()), atol=1e-12, rtol=0)
        assert jac[3:, :3].abs().max() > 1e-3  # the lower block is genuinely non-zero


def test_checkerboard_partition_formula():
    b = checkerboard_mask(4, 4, 0)
    layer = perturbed(AffineCoupling((2, 4, 4), b, hidden=8)).double()
    x = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    z, _ = layer(x)
    s, t = layer.scale_and_shift(x)
    bb = b.double()
    assert torch.equal(z * bb, x * bb)  # copied pixels unchanged, bit for bit
    assert torch.allclose(z, bb * x + (1 - bb) * (x * s.exp() + t), atol=1e-14, rtol=0)
    # The conditioner only sees b*x: changing the transformed pixels leaves s, t unchanged.
    x2 = x + (1 - bb) * torch.randn_like(x)
    s2, t2 = layer.scale_and_shift(x2)
    assert torch.equal(s, s2) and torch.equal(t, t2)


def test_channel_mask_partition():
    b = channel_mask(4, 1)
    layer = perturbed(AffineCoupling((4, None, None), b, hidden=8)).double()
    x = torch.randn(2, 4, 5, 3, dtype=torch.float64)
    z, _ = layer(x)
    s, t = layer.scale_and_shift(x)
    bb = b.double()
    assert torch.equal(z[:, 2:], x[:, 2:])
    assert torch.allclose(z, bb * x + (1 - bb) * (x * s.exp() + t), atol=1e-14, rtol=0)


def test_masks_partition():
    for parity in (0, 1):
        c0, c1 = checkerboard_mask(5, 4, 0), checkerboard_mask(5, 4, 1)
        assert torch.equal(c0 + c1, torch.ones(1, 5, 4)) and c0[0, 0, 0] == 1 and c0[0, 0, 1] == 0
        assert torch.equal(channel_mask(5, 0) + channel_mask(5, 1), torch.ones(5, 1, 1))
        assert channel_mask(5, 0).sum() == 2
        assert torch.equal(alternating_mask(5, parity) + alternating_mask(5, 1 - parity), torch.ones(5))
        assert torch.equal(half_mask(5, 0), torch.tensor([1.0, 1, 0, 0, 0]))


def test_realnvp_fits_shapes_and_stack_harness():
    flow = perturbed(realnvp(2, num_layers=4, hidden=8), std=0.2)
    check_flow(flow, torch.randn(4, 2))
    model = FlowModel(realnvp(2, num_layers=2, hidden=8), StandardNormal(2))
    assert model.log_prob(torch.randn(7, 2)).shape == (7,)
    assert model.sample(3, torch.Generator().manual_seed(0)).shape == (3, 2)


def test_errors():
    layer = AffineCoupling(4, alternating_mask(4, 0))
    with pytest.raises(ValueError, match=r"shape \[batch, 4\]"):
        layer(torch.randn(3, 5))
    img = AffineCoupling((3, 4, 4), checkerboard_mask(4, 4, 0), hidden=4)
    with pytest.raises(ValueError, match="expects input of shape"):
        img(torch.randn(2, 2, 4, 4))  # wrong channel count
    with pytest.raises(ValueError, match="expects input of shape"):
        img.inverse(torch.randn(2, 3, 4, 5))
    ch = AdditiveCoupling((4, None, None), channel_mask(4, 0), hidden=4)
    with pytest.raises(ValueError, match=r"\[batch, 4, \*, \*\]"):
        ch(torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="binary"):
        AffineCoupling(2, torch.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match="copy some coordinates"):
        AffineCoupling(3, torch.ones(3))
    with pytest.raises(ValueError, match="vector mask must have shape"):
        AffineCoupling(3, alternating_mask(4, 0))
    with pytest.raises(ValueError, match="spatial shape"):
        AffineCoupling((1, 4, 4), checkerboard_mask(4, 6, 0))
    with pytest.raises(ValueError, match="image mask must have shape"):
        AffineCoupling((3, 4, 4), channel_mask(4, 0))
    with pytest.raises(ValueError, match="fixed H, W"):
        AffineCoupling((1, None, None), checkerboard_mask(4, 4, 0))
    with pytest.raises(ValueError, match="scale must be"):
        AffineCoupling(2, alternating_mask(2, 0), scale="exp")
    with pytest.raises(ValueError, match="parity"):
        checkerboard_mask(4, 4, 2)
    with pytest.raises(ValueError, match="at least 2"):
        channel_mask(1, 0)
    with pytest.raises(ValueError, match="event_shape"):
        AffineCoupling((3, 4), torch.ones(3, 4))


def test_matches_nflows_with_shared_weights():
    """Cross-check against nflows' coupling layers, same conditioner weights, same mask."""
    coupling = pytest.importorskip("nflows.transforms.coupling")
    torch.manual_seed(0)
    d, b = 5, alternating_mask(5, 1)  # ours: 1 = copied; nflows: mask > 0 = transformed
    net = perturbed(torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 6))).double()

    class NflowsNet(torch.nn.Module):  # nflows calls net(identity_split, context)
        def forward(self, x, context=None):
            return net(x)

    class OursAffine(torch.nn.Module):  # ours wants [raw_s, t]; nflows gives [t, u], scale sigmoid(u+2)+1e-3
        def forward(self, x):
            t, u = net(x).chunk(2, dim=1)
            return torch.cat([torch.logit(torch.sigmoid(u + 2) + 1e-3) - 2, t], 1)

    x = torch.randn(8, d, dtype=torch.float64)
    theirs = coupling.AffineCouplingTransform(1 - b, lambda i, o: NflowsNet()).double()
    ours = AffineCoupling(d, b, conditioner=OursAffine(), scale="sigmoid").double()
    (z1, ld1), (z2, ld2) = ours(x), theirs(x)
    assert torch.allclose(z1, z2, atol=1e-12, rtol=0) and torch.allclose(ld1, ld2, atol=1e-12, rtol=0)

    net_add = perturbed(torch.nn.Linear(2, 3)).double()

    class Net(torch.nn.Module):
        def forward(self, x, context=None):
            return net_add(x)

    theirs = coupling.AdditiveCouplingTransform(1 - b, lambda i, o: Net()).double()
    ours = AdditiveCoupling(d, b, conditioner=Net()).double()
    (z1, ld1), (z2, ld2) = ours(x), theirs(x)
    assert torch.allclose(z1, z2, atol=1e-12, rtol=0) and torch.equal(ld1, torch.zeros(8, dtype=torch.float64))
    assert torch.allclose(ld2, torch.zeros(8, dtype=torch.float64))
