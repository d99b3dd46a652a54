"""Uniform dequantization: every value inside its pixel's bin, exactly, at every K; errors."""
import pytest
import torch

from flowlab.data import dequantize


@pytest.fixture
def float32():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(before)


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


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("levels", [65535, 256])
def test_every_pixel_value_lands_in_its_bin_exactly(float32, levels, seed):
    """"In its bin" means x/K <= y < (x+1)/K, with y the real number its float32 value represents and
    the edges exact fractions. A float32 y has 24 significant bits and K < 2^16, so y * K is exact in
    float64 and the comparison with the integers x, x + 1 is exact. Every pixel value, four times each.
    (At K = 65535 the plain formula put ~160 of these 262,140 values below their bin: u below half of
    x's float spacing makes x + u round to x, then x / K rounds down.)"""
    x = torch.arange(levels).repeat(4)
    y = dequantize(x, levels, torch.Generator().manual_seed(seed))
    assert y.dtype == torch.float32
    scaled = y.double() * levels
    assert int((scaled < x).sum()) == 0, "values below their bin"
    assert int((scaled >= x + 1).sum()) == 0, "values at or above their bin's upper edge"


@pytest.mark.parametrize("levels", [256, 17])
def test_the_notebooks_levels_keep_the_plain_formula_bit_for_bit(float32, levels):
    """K = 256 (8-bit images) and K = 17 (digits, the notebooks' quick mode): every value is
    min((x + u)/K, the float below (x+1)/K) for the generator's u, as before the lower-edge fix."""
    x = torch.arange(levels).repeat(2000)
    y = dequantize(x, levels, torch.Generator().manual_seed(5))
    u = torch.rand(x.shape, generator=torch.Generator().manual_seed(5))
    xf = x.float()
    plain = torch.minimum((xf + u) / levels, torch.nextafter((xf + 1) / levels, torch.zeros(())))
    assert torch.equal(y, plain)
