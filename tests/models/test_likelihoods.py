"""Pixel likelihoods: each is a probability mass over the pixel values (sums to one), agrees with a
reference formula, and converts to bits/dim as -log P / (D ln 2)."""
import math

import pytest
import torch

from flowlab.models import Bernoulli, make_likelihood
from flowlab.models.likelihoods import Categorical, DiscretizedLogistic

F64 = torch.float64


def _all_values(lik, params_one_pixel):
    """log P of every value of one pixel, under the same params."""
    values = torch.arange(lik.levels).reshape(-1, 1, 1, 1)
    params = params_one_pixel.expand(lik.levels, -1)
    return lik.log_prob(params, values)


@pytest.mark.parametrize("lik", [Bernoulli(), Categorical(256, 4).double(), DiscretizedLogistic(256),
                                 DiscretizedLogistic(17)])
def test_each_pixel_distribution_sums_to_one(lik):
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        params = torch.randn(1, lik.params_per_pixel, generator=g, dtype=F64) * 2
        total = torch.logsumexp(_all_values(lik, params), 0)
        assert abs(total.item()) < 1e-10


def test_bernoulli_and_categorical_match_torch_distributions():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 6, generator=g, dtype=F64)
    x = (torch.rand(3, 1, 2, 3, generator=g) < 0.5).long()
    ref = torch.distributions.Bernoulli(logits=logits).log_prob(x.reshape(3, 6).double()).sum(-1)
    assert torch.allclose(Bernoulli().log_prob(logits, x), ref, atol=1e-12)
    cat = Categorical(5, 3).double()
    feats = torch.randn(3, 6 * 3, generator=g, dtype=F64)
    x5 = torch.randint(0, 5, (3, 1, 2, 3), generator=g)
    logit5 = cat.head(feats.reshape(3, 6, 3))
    ref5 = torch.distributions.Categorical(logits=logit5).log_prob(x5.reshape(3, 6)).sum(-1)
    assert torch.allclose(cat.log_prob(feats, x5), ref5, atol=1e-12)


def test_discretized_logistic_is_the_cdf_difference():
    lik = DiscretizedLogistic(256)
    g = torch.Generator().manual_seed(2)
    params = torch.stack([torch.rand(20, generator=g, dtype=F64) * 1.6 - 0.8,
                          torch.rand(20, generator=g, dtype=F64) * 2 - 3], -1)     # means, log scales
    x = torch.randint(0, 256, (20,), generator=g)
    c = 2 * x.double() / 255 - 1
    s = params[:, 1].exp()
    a, b = (c + 1 / 255 - params[:, 0]) / s, (c - 1 / 255 - params[:, 0]) / s
    # sigma(a) - sigma(b) = sigma(-b) - sigma(-a): take the side where the two terms are small (no cancellation)
    upper = torch.where(x == 255, torch.ones_like(c), torch.sigmoid(a))
    lower = torch.where(x == 0, torch.zeros_like(c), torch.sigmoid(b))
    mirrored = torch.where(x == 0, torch.ones_like(c), torch.sigmoid(-b)) - \
        torch.where(x == 255, torch.zeros_like(c), torch.sigmoid(-a))
    ref = torch.where(b > 0, mirrored, upper - lower).log()
    got = torch.stack([lik.log_prob(params[i:i + 1], x[i].reshape(1, 1, 1, 1)) for i in range(20)]).squeeze(-1)
    assert torch.allclose(got, ref, atol=1e-9, rtol=1e-10)
    # far in a tail the naive difference underflows; the stable form stays finite and below it
    far = lik.log_prob(torch.tensor([[0.9, -7.0]], dtype=F64), torch.zeros(1, 1, 1, 1, dtype=torch.long))
    assert torch.isfinite(far).all() and far.item() < -100


def test_bits_per_dim_of_a_mass_is_minus_log_over_d_ln2():
    for lik in (Bernoulli(), DiscretizedLogistic(256)):
        assert lik.bits_per_dim(-100.0, 50) == pytest.approx(100 / (50 * math.log(2)), rel=1e-12)
    # a uniform mass over 256 levels is 8 bits per pixel
    assert DiscretizedLogistic(256).bits_per_dim(-560 * math.log(256), 560) == pytest.approx(8.0, rel=1e-12)


def test_errors():
    with pytest.raises(ValueError, match="Bernoulli.log_prob expects params"):
        Bernoulli().log_prob(torch.zeros(2, 5), torch.zeros(2, 1, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="pixel values must lie in"):
        Bernoulli().log_prob(torch.zeros(1, 1), torch.full((1, 1), 2))
    with pytest.raises(ValueError, match="make_likelihood: unknown kind"):
        make_likelihood("gaussian")
    with pytest.raises(ValueError, match="levels"):
        Categorical(1)
