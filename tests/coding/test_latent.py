"""flowlab.coding.latent: bin masses against the density, and the aggregate-posterior mismatch
estimator against closed forms, at its nominal false-alarm rate."""
import math

import numpy as np
import pytest
import torch

from flowlab.coding import aggregate_posterior_kl
from flowlab.coding.latent import LatentGrid, gaussian_entropy_bits


def test_bin_masses_sum_to_one_and_approach_the_density():
    grid = LatentGrid(width=2 ** -6, bound=8.0)
    k = np.arange(-grid.k_max, grid.k_max + 1)
    mass = 2.0 ** grid.log2_mass(k, 0.3, 0.7)
    assert mass.sum() == pytest.approx(1.0, abs=1e-12)
    z = grid.centers(k)
    density = np.exp(-0.5 * ((z - 0.3) / 0.7) ** 2) / (0.7 * math.sqrt(2 * math.pi))
    # midpoint rule: mass / (width * density) - 1 = width^2 (u^2 - 1) / (24 std^2) + O(width^4), u = (z - mean)/std
    u2 = ((z - 0.3) / 0.7) ** 2
    seen = density > 1e-12
    rel = np.abs(mass / (density * grid.width) - 1)[seen]
    assert (rel <= 1.1 * grid.width ** 2 * (1 + u2[seen]) / (24 * 0.7 ** 2) + 1e-10).all()


def test_far_tail_bins_do_not_cancel_to_zero():
    grid = LatentGrid(width=2 ** -8, bound=8.0)
    got = grid.log2_mass(np.array([grid.k_max]), 0.0, 0.5)[0]      # 16 standard deviations out
    z = grid.centers(grid.k_max)
    log2_density = (-0.5 * (z / 0.5) ** 2 - math.log(0.5 * math.sqrt(2 * math.pi))) / math.log(2)
    assert got == pytest.approx(log2_density + math.log2(grid.width), abs=0.05)


def test_gaussian_entropy():
    assert gaussian_entropy_bits(np.ones((1, 3)))[0] == pytest.approx(1.5 * math.log2(2 * math.pi * math.e))


def _closed_form_kl_bits(mu, sd):
    return float(0.5 * (sd ** 2 + mu ** 2 - 1 - 2 * np.log(sd)).sum() / math.log(2))


def test_aggregate_kl_of_identical_posteriors_is_the_gaussian_kl():
    mu, sd = np.array([0.5, -1.0]), np.array([0.4, 1.3])
    est = aggregate_posterior_kl(np.tile(mu, (5, 1)), np.tile(sd, (5, 1)), samples=20_000,
                                 generator=torch.Generator().manual_seed(0))
    assert abs(est.bits - _closed_form_kl_bits(mu, sd)) <= 4 * est.se


def test_aggregate_kl_is_zero_when_the_aggregate_is_the_prior():
    est = aggregate_posterior_kl(np.zeros((3, 4)), np.ones((3, 4)), samples=1000)
    assert est.bits == pytest.approx(0.0, abs=1e-9)


def test_aggregate_kl_band_false_alarm_rate_is_nominal():
    """A 3-standard-error band around the truth fails at most at its nominal rate (0.27%) over seeds."""
    mu, sd = np.array([[0.8, 0.0]]), np.array([[0.5, 1.5]])
    truth = _closed_form_kl_bits(mu[0], sd[0])
    seeds = 300
    misses = sum(abs((e := aggregate_posterior_kl(mu, sd, samples=400,
                                                  generator=torch.Generator().manual_seed(s))).bits - truth) > 3 * e.se
                 for s in range(seeds))
    # P(Binomial(300, 0.0027) >= 5) < 1%: five misses would say the band is too narrow
    assert misses <= 4


def test_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        aggregate_posterior_kl(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="positive"):
        aggregate_posterior_kl(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        aggregate_posterior_kl(np.full((2, 2), np.nan), np.ones((2, 2)))
