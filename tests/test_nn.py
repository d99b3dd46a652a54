"""flowlab.nn: the networks that parametrize things. MADE's masks by autograd, zero-initialised last
layers, the time-conditioned fields (t in every layer, f = decode o encode), clear errors."""
import pytest
import torch
from torch.func import jacrev

from flowlab.flows import randomize_parameters
from flowlab.nn import MADE, TimeConcatConvNet, TimeConcatMLP, TimeLabelMLP
from flowlab.nn.conditioners import MLP, ConvNet
from flowlab.nn.fields import StackedTimeMLP
from flowlab.nn.made import autoregressive_degrees

ORDERS = ["natural", "reverse", [2, 0, 4, 1, 3]]


def perturbed(module, seed=0, std=0.3):
    return randomize_parameters(module, std, seed=seed).double()


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


def test_made_in_one_dimension_has_no_past():
    made = perturbed(MADE(1, hidden=4), seed=1)
    x = torch.randn(6, 1, dtype=torch.float64)
    out = made(x)
    assert out.shape == (6, 1, 2) and torch.allclose(out, out[:1].expand_as(out))  # a constant


def test_autoregressive_degrees():
    assert autoregressive_degrees(4, "natural").tolist() == [1, 2, 3, 4]
    assert autoregressive_degrees(4, "reverse").tolist() == [4, 3, 2, 1]
    # order [2, 0, 3, 1]: coordinate 2 first, then 0, 3, 1
    assert autoregressive_degrees(4, [2, 0, 3, 1]).tolist() == [2, 4, 1, 3]


def test_last_layers_start_at_zero():
    x = torch.randn(3, 4)
    assert torch.equal(MLP(4, 6, hidden=8)(x), torch.zeros(3, 6))
    assert MLP(4, 6, hidden=8, zero_last=False)(x).abs().max() > 0
    assert torch.equal(ConvNet(2, 4, hidden=8)(torch.randn(2, 2, 5, 3)), torch.zeros(2, 4, 5, 3))
    assert len([m for m in MLP(4, 6, hidden=8, layers=3) if isinstance(m, torch.nn.Linear)]) == 4


@pytest.mark.parametrize("field", [TimeConcatMLP(3, (8, 5), "tanh"), TimeConcatConvNet((2, 3, 3), (4, 4))])
def test_time_concat_field_sees_time_and_splits_as_decode_encode(field):
    field = perturbed(field, seed=2, std=0.5)
    z = torch.randn(4, *field.event_shape, dtype=torch.float64)
    t0, t1 = torch.tensor(0.1, dtype=torch.float64), torch.tensor(0.9, dtype=torch.float64)
    out = field(t0, z)
    assert out.shape == z.shape
    assert torch.equal(out, field.decode(t0, field.encode(t0, z)))
    assert (field(t1, z) - out).abs().max() > 1e-3  # time enters the field
    assert (field(t0, z[:1]) - out[:1]).abs().max() < 1e-12  # rows are independent


def test_errors():
    with pytest.raises(ValueError, match="hidden >= features - 1"):
        MADE(10, hidden=4)
    with pytest.raises(ValueError, match="permutation"):
        MADE(3, hidden=4, order=[0, 0, 1])
    with pytest.raises(ValueError, match="MADE: unknown order 'random'"):
        MADE(3, hidden=4, order="random")
    with pytest.raises(TypeError, match="TimeLabelMLP: hidden must be an integer"):  # MLP trusts its builders
        TimeLabelMLP(2, hidden=2.5)
    with pytest.raises(ValueError, match="layers must be a positive integer"):
        MADE(3, layers=0)
    with pytest.raises(ValueError, match=r"expects z of shape \[batch, 3\]"):
        TimeConcatMLP(3, (8,))(0.0, torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"expects z of shape \[batch, 1, 2, 2\]"):
        TimeConcatConvNet((1, 2, 2), (4,))(torch.tensor(0.0), torch.randn(2, 1, 3, 3))
    with pytest.raises(ValueError, match="image shape"):
        TimeConcatConvNet((8, 8), (4,))
    with pytest.raises(ValueError, match="hidden.*is empty"):
        TimeConcatMLP(2, ())
    with pytest.raises(ValueError, match="unknown activation"):
        TimeConcatMLP(2, (4,), "sigmoid")


@pytest.mark.parametrize("order", ORDERS)
def test_made_with_a_context_keeps_its_order_and_sees_the_context(order):
    d, c = 5, 3
    made = perturbed(MADE(d, hidden=16, layers=2, order=order, context_features=c), seed=7)
    gen = torch.Generator().manual_seed(10)
    x = torch.randn(8, d, generator=gen, dtype=torch.float64)
    h = torch.randn(8, c, generator=gen, dtype=torch.float64)
    jac = torch.stack([jacrev(lambda v, hi=hi: made(v[None], hi[None])[0])(xi) for xi, hi in zip(x, h)])
    deg = made.degrees
    dep = jac.abs().amax(dim=(0, 2)) > 0
    assert not (dep & ~(deg[:, None] > deg[None, :])).any(), "the context broke the autoregressive order"
    jac_h = torch.stack([jacrev(lambda v, xi=xi: made(xi[None], v[None])[0])(hi) for xi, hi in zip(x, h)])
    # the context enters the hidden layers, so every output fed by them sees it; the first coordinate in
    # the order has no hidden input (nothing precedes it) and stays a constant, as in MADE itself
    sees = jac_h.abs().amax(dim=(0, 2, 3)) > 0
    assert torch.equal(sees, deg > 1), "outputs after the first in the order must depend on the context"
    with pytest.raises(ValueError, match="pass a context iff"):
        made(x)
    with pytest.raises(ValueError, match="pass a context iff"):
        MADE(d, hidden=8)(x.float(), h.float())


def test_stacked_field_equals_its_members():
    """StackedTimeMLP (the CNF ensembles' field) is its members side by side, and gives them back."""
    torch.manual_seed(0)
    members = [TimeConcatMLP(2, (5,), "tanh") for _ in range(3)]
    stacked = StackedTimeMLP(members)
    z = torch.randn(7, 6)
    out = stacked(torch.tensor(0.3), z)
    for i, m in enumerate(members):
        assert torch.allclose(out[:, 2 * i:2 * i + 2], m(torch.tensor(0.3), z[:, 2 * i:2 * i + 2]), atol=1e-6)
        assert torch.allclose(stacked.member(i)(0.3, z[:, :2]), m(0.3, z[:, :2]), atol=1e-6)
