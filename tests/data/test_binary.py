"""Binarization: stochastic draws have the grey level as their mean, thresholds are deterministic."""

import pytest
import torch

from flowlab.data import binarize
from flowlab.measure.bands import bonferroni_z


def test_stochastic_binarization_has_the_grey_level_as_mean():
    pixels = torch.tensor([0, 4, 8, 12, 16]).repeat(20000, 1)
    b = binarize(pixels, 17, torch.Generator().manual_seed(0))
    p = torch.tensor([0, 4, 8, 12, 16]) / 16
    se = (p * (1 - p) / 20000).sqrt().double()
    assert set(b.unique().tolist()) <= {0, 1} and b.dtype == torch.long
    assert ((b.double().mean(0) - p).abs() <= bonferroni_z(0.01, 5) * se + 1e-12).all()
    assert torch.equal(b, binarize(pixels, 17, torch.Generator().manual_seed(0)))   # seeded


def test_threshold_and_errors():
    assert binarize(torch.tensor([0, 8, 9, 16]), 17, threshold=0.5).tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="binarize: threshold"):
        binarize(torch.tensor([1]), 17, threshold=1.0)
    with pytest.raises(ValueError, match="pixel values must lie in"):
        binarize(torch.tensor([17]), 17)
    with pytest.raises(TypeError, match="binarize"):
        binarize(torch.tensor([1]), 17, generator=3)
