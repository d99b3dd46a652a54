"""Toy 2D densities: shapes, scale and determinism from an explicit generator; errors."""
import pytest
import torch

from flowlab.data import sample_toy
from flowlab.data.toy2d import TOY_DENSITIES


@pytest.mark.parametrize("name", sorted(TOY_DENSITIES))
def test_toy_densities_shape_and_determinism(name):
    a = sample_toy(name, 500, torch.Generator().manual_seed(1))
    b = sample_toy(name, 500, torch.Generator().manual_seed(1))
    assert a.shape == (500, 2) and torch.equal(a, b) and torch.isfinite(a).all()
    assert 0.3 < a.std(0).min() and a.abs().max() < 12


def test_toy_errors():
    with pytest.raises(ValueError, match="sample_toy: unknown name 'spiral'; expected one of"):
        sample_toy("spiral", 10)
    with pytest.raises(ValueError, match="positive integer"):
        sample_toy("moons", 0)
