"""Permutation flows: harness, log-det 0, seeding, errors."""
import pytest
import torch

from flowlab.flows import Permutation, RandomPermutation, ReversePermutation
from flowlab.flows import check_flow


@pytest.mark.parametrize("make", [lambda: ReversePermutation(5),
                                  lambda: RandomPermutation(5, torch.Generator().manual_seed(3))])
@pytest.mark.parametrize("shape", [(4, 5), (2, 5, 3, 2)])
def test_harness(make, shape):
    layer = make()
    x = torch.randn(*shape)
    check_flow(layer, x)
    z, ld = layer(x)
    assert torch.equal(ld, torch.zeros(shape[0], dtype=ld.dtype))
    assert not torch.equal(z, x)


def test_reverse_values():
    x = torch.arange(4.0)[None]
    z, _ = ReversePermutation(4)(x)
    assert torch.equal(z, torch.tensor([[3.0, 2, 1, 0]]))


def test_random_is_seeded():
    a = RandomPermutation(10, torch.Generator().manual_seed(7)).permutation
    b = RandomPermutation(10, torch.Generator().manual_seed(7)).permutation
    c = RandomPermutation(10, torch.Generator().manual_seed(8)).permutation
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_errors():
    with pytest.raises(ValueError, match="expects \\[batch, 4\\]"):
        ReversePermutation(4)(torch.randn(2, 3))
    with pytest.raises(ValueError, match="images"):
        ReversePermutation(4).inverse(torch.randn(2, 4, 3))
    with pytest.raises(ValueError, match="positive number"):
        RandomPermutation(0)
    with pytest.raises(ValueError, match="permutation of 0..n-1"):
        Permutation(torch.tensor([0, 0, 1]))
