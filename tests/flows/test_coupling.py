"""Coupling layers: identity at init, triangular Jacobian, log-det identities, the partitions, errors,
agreement with nflows. (Round trip and log-det of every mask and map: ``test_harness.py``.)"""
import pytest
import torch
from torch.func import jacrev

from flowlab.flows import (
    AdditiveCoupling,
    AffineCoupling,
    FlowModel,
    StandardNormal,
    channel_mask,
    checkerboard_mask,
    half_mask,
    randomize_parameters,
    realnvp,
)
from flowlab.flows.coupling import AdditiveMap, AffineMap, Coupling, IndexSplit, MaskSplit
from flowlab.flows.masks import alternating_mask


def perturbed(layer, seed=0, std=0.3):
    return randomize_parameters(layer, std, seed=seed)


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


def test_named_couplings_are_the_generic_one_with_their_map():
    x = torch.randn(5, 6, dtype=torch.float64)
    for named, elementwise in ((AdditiveCoupling(6, alternating_mask(6, 0), hidden=8), AdditiveMap()),
                               (AffineCoupling(6, alternating_mask(6, 0), hidden=8, scale="sigmoid"),
                                AffineMap("sigmoid"))):
        named = perturbed(named).double()
        generic = Coupling(6, alternating_mask(6, 0), elementwise, conditioner=named.conditioner).double()
        for direction in ("forward", "inverse"):
            (z1, ld1), (z2, ld2) = getattr(named, direction)(x), getattr(generic, direction)(x)
            assert torch.equal(z1, z2) and torch.equal(ld1, ld2)


def test_split_kind_follows_the_mask_and_slices_equal_gathers():
    assert isinstance(AffineCoupling((2, 4, 4), checkerboard_mask(4, 4, 0)).partition, MaskSplit)
    assert isinstance(AffineCoupling((4, None, None), channel_mask(4, 0)).partition, IndexSplit)
    x = torch.randn(3, 6, dtype=torch.float64)
    for mask, keep_first in ((half_mask(6, 0), True), (half_mask(6, 1), False), (alternating_mask(6, 1), None)):
        split = IndexSplit(mask)
        assert split.keep_first is keep_first  # contiguous halves are sliced, other masks gathered
        x_a, x_b = split.split(x)
        assert torch.equal(x_a, x[:, mask.bool()]) and torch.equal(x_b, x[:, ~mask.bool()])
        assert torch.equal(split.merge(x_a, x_b), x)


def test_realnvp_alternates_parities_and_builds_a_density():
    flow = realnvp(5, num_layers=4, hidden=8)
    assert [type(layer) for layer in flow] == [AffineCoupling] * 4
    masks = [layer.partition.keep.tolist() for layer in flow]
    assert masks[0] == masks[2] == [0, 2, 4] and masks[1] == masks[3] == [1, 3]
    assert all(type(layer) is AdditiveCoupling for layer in realnvp(4, num_layers=2, additive=True))
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
    with pytest.raises(ValueError, match=r"AffineCoupling: for events \(3,\) the mask must have shape \[3\], got \[4"):
        AffineCoupling(3, alternating_mask(4, 0))
    with pytest.raises(ValueError, match=r"must have shape \[1, 1, 1\] or \[1, 4, 4\], got \[1, 4, 6\]"):
        AffineCoupling((1, 4, 4), checkerboard_mask(4, 6, 0))
    with pytest.raises(ValueError, match=r"must have shape \[3, 1, 1\] or \[1, 4, 4\] or \[3, 4, 4\], got \[4, 1, 1\]"):
        AffineCoupling((3, 4, 4), channel_mask(4, 0))
    with pytest.raises(ValueError, match=r"got \[2, 4, 4\]"):
        AffineCoupling((3, 4, 4), torch.ones(2, 4, 4))
    with pytest.raises(ValueError, match=r"shape \[1, 1, 1\] \(a pixel mask needs fixed H, W\), got \[1, 4, 4\]"):
        AffineCoupling((1, None, None), checkerboard_mask(4, 4, 0))
    with pytest.raises(ValueError, match="unknown scale .exp.; expected one of"):
        AffineCoupling(2, alternating_mask(2, 0), scale="exp")
    with pytest.raises(ValueError, match="event_shape"):
        AffineCoupling((3, 4), torch.ones(3, 4))
    wrong = AffineCoupling(4, alternating_mask(4, 0), conditioner=torch.nn.Linear(2, 3))
    with pytest.raises(ValueError, match=r"AffineCoupling: conditioner gave shape \[2, 3\], expected \[2, 4\]"):
        wrong(torch.randn(2, 4))


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
