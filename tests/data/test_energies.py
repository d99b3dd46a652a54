"""The energies U1-U4: normalizable, their log-normalizer converged on the grid, clear errors."""
import math

import pytest
import torch

from flowlab.data import ENERGIES, grid, log_normalizer
from flowlab.data.energies import energy


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
    """Energies are asked for by name at the ensemble fitters, which check the names."""
    from flowlab.train import fit_reverse_kl_ensemble

    with pytest.raises(ValueError, match=r"unknown energies\[1\] 'U5'"):
        fit_reverse_kl_ensemble(lambda: None, ["U1", "U5"], [0], steps=1, batch=2, lr=0.1)
    assert energy("U2") is ENERGIES["U2"]
    with pytest.raises(ValueError, match=r"u1 expects input of shape \[batch, 2\]"):
        ENERGIES["U1"](torch.zeros(3, 3))


def test_grid_nodes_cells_and_bounds():
    g1, g2, pts = grid((-2.5, 3.0), 12)
    axis = torch.linspace(-2.5, 3.0, 12, dtype=torch.float64)
    assert torch.equal(g1[0], axis) and torch.equal(g2[:, 0], axis)  # [y, x]: x along a row
    assert torch.equal(pts[:12, 0], axis) and bool((pts[:12, 1] == -2.5).all())  # x varies fastest
    _, _, centres = grid((0.0, 1.0), 10, cells=True)
    h = 0.1
    assert torch.allclose(centres[:10, 0], (torch.arange(10, dtype=torch.float64) + 0.5) * h, atol=0, rtol=0)
    # the midpoint rule on the cells integrates x + y over the unit square exactly
    assert abs(float(centres.sum(1).sum() * h * h) - 1.0) < 1e-12
    with pytest.raises(ValueError, match=r"grid needs lim = \(lo, hi\) with lo < hi"):
        grid((1.0, 0.0))
