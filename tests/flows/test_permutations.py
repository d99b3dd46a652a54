"""Permutation flows (built by the multi-scale builder from checked sizes): what they move where,
seeding, input errors. (Round trip and log-det 0:
``test_harness.py``.)"""
import pytest
import torch

from flowlab.flows.permutations import Permutation, RandomPermutation, ReversePermutation


def test_permutes_features_or_channels_and_inverts():
    layer = Permutation(torch.tensor([2, 0, 3, 1]))
    x = torch.randn(3, 4, 2, 5)
    z, ld = layer(x)
    assert torch.equal(z, x[:, [2, 0, 3, 1]]) and torch.equal(ld, torch.zeros(3))
    assert torch.equal(layer.inverse(z)[0], x)


def test_reverse_values():
    x = torch.arange(4.0)[None]
    z, _ = ReversePermutation(4)(x)
    assert torch.equal(z, torch.tensor([[3.0, 2, 1, 0]]))


def test_random_is_seeded():
    a = RandomPermutation(10, torch.Generator().manual_seed(7)).permutation
    b = RandomPermutation(10, torch.Generator().manual_seed(7)).permutation
    c = RandomPermutation(10, torch.Generator().manual_seed(8)).permutation
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_input_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"ReversePermutation expects input of shape \[batch, 4\], got \[2, 3\]"):
        ReversePermutation(4)(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"ReversePermutation\.inverse expects input of shape \[batch, 4, \*, \*\]"):
        ReversePermutation(4).inverse(torch.randn(2, 4, 3))
