"""flowlab.models.compression: a VAE's bits-back codec round-trips images and costs its ELBO."""
import math

import pytest
import torch

from flowlab.models import VAE, Bernoulli, vae_codec
from flowlab.models.likelihoods import Categorical


def _vae(**kw):
    torch.manual_seed(0)
    return VAE((1, 4, 4), Bernoulli(), latent=3, hidden=16, layers=1, context=8, **kw).eval()


def test_round_trip_and_rate_of_an_untrained_vae():
    vae = _vae()
    x = (torch.rand(200, 1, 4, 4, generator=torch.Generator().manual_seed(1)) < 0.3).long()
    codec = vae_codec(vae, batch=50)
    message, report = codec.encode(x)
    assert torch.equal(codec.decode(message), x)
    with torch.no_grad():
        w = vae.log_weights(x, 400, torch.Generator().manual_seed(2)).total / math.log(2)   # bits, [S, N]
    nelbo, var = -w.mean(0).sum().item(), w.var(0).sum().item()
    # the net rate is one draw of sum_n (-log w_n) with clean bits: 4 standard errors, plus ANS's few bits
    assert abs(report.net_bits - nelbo) <= 4 * math.sqrt(var) + 32


def test_refuses_what_it_cannot_code():
    with pytest.raises(ValueError, match="Gaussian posterior"):
        vae_codec(_vae(flow="planar", num_flows=2))
    torch.manual_seed(0)
    grey = VAE((1, 4, 4), Categorical(levels=4, features_per_pixel=2), latent=3, hidden=8, layers=1, context=8)
    with pytest.raises(ValueError, match="Bernoulli"):
        vae_codec(grey)
    with pytest.raises(TypeError, match="VAE"):
        vae_codec(torch.nn.Linear(2, 2))
