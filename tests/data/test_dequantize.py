"""Uniform dequantization: every value strictly inside its pixel's bin, also at the top edge; errors."""
import pytest
import torch

from flowlab.data import dequantize


def test_dequantize_range_and_errors():
    x = torch.randint(0, 17, (100, 1, 8, 8))
    y = dequantize(x, 17, torch.Generator().manual_seed(0))
    assert (y >= 0).all() and (y < 1).all() and torch.equal((y * 17).floor().long(), x)
    with pytest.raises(ValueError, match=r"pixel values must lie in \[0, 16\]"):
        dequantize(x + 1, 17)
    with pytest.raises(ValueError, match="integer-valued"):
        dequantize(torch.rand(3), 17)


def test_top_bin_stays_below_one_in_float32():
    x = torch.full((10000,), 255)
    y = dequantize(x, 256, torch.Generator().manual_seed(1))
    assert y.dtype == torch.get_default_dtype() and (y < 1).all() and (y >= 255 / 256).all()
