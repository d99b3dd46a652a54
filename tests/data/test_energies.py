"""The energies U1-U4: normalizable, their log-normalizer converged on the grid, clear errors."""
import math

import pytest
import torch

from flowlab.data import ENERGIES, energy, grid, log_normalizer


def test_log_normalizer_of_a_gaussian_energy():
    sigma = 0.7
    log_z = log_normalizer(lambda z: 0.5 * (z ** 2).sum(-1) / sigma ** 2, lim=6.0, n=601)
    assert abs(log_z - math.log(2 * math.pi * sigma ** 2)) < 1e-9


def test_energies_are_normalizable_and_grid_converged():
    for name, u in ENERGIES.items():
        coarse, fine = log_normalizer(u, n=701), log_normalizer(u, n=1401)
        assert abs(coarse - fine) < 1e-6, name


def test_grid_covers_the_box():
    g1, g2, pts = grid(2.0, 5)
    assert pts.shape == (25, 2) and g1.shape == g2.shape == (5, 5)
    assert pts.min() == -2 and pts.max() == 2


def test_unknown_energy_raises():
    with pytest.raises(ValueError, match="unknown energy 'U5'"):
        energy("U5")
    with pytest.raises(ValueError, match=r"u1 expects input of shape \[batch, 2\]"):
        ENERGIES["U1"](torch.zeros(3, 3))
