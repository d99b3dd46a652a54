"""Coupling masks: complementary parities, the copied halves, errors."""
import pytest
import torch

from flowlab.flows import channel_mask, checkerboard_mask, half_mask
from flowlab.flows.masks import alternating_mask


def test_masks_partition():
    for parity in (0, 1):
        c0, c1 = checkerboard_mask(5, 4, 0), checkerboard_mask(5, 4, 1)
        assert torch.equal(c0 + c1, torch.ones(1, 5, 4)) and c0[0, 0, 0] == 1 and c0[0, 0, 1] == 0
        assert torch.equal(channel_mask(5, 0) + channel_mask(5, 1), torch.ones(5, 1, 1))
        assert channel_mask(5, 0).sum() == 2
        assert torch.equal(alternating_mask(5, parity) + alternating_mask(5, 1 - parity), torch.ones(5))
        assert torch.equal(half_mask(5, 0), torch.tensor([1.0, 1, 0, 0, 0]))
        assert torch.equal(half_mask(5, parity) + half_mask(5, 1 - parity), torch.ones(5))


def test_errors():
    with pytest.raises(ValueError, match="parity"):
        checkerboard_mask(4, 4, 2)
    with pytest.raises(ValueError, match="at least 2|>= 2"):
        channel_mask(1, 0)
    with pytest.raises(ValueError, match="h\\*w >= 2"):
        checkerboard_mask(1, 1)
    with pytest.raises(TypeError, match="must be an integer"):
        half_mask(4.0)
