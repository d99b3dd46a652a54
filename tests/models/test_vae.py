"""The VAE: log-weights against a direct computation, the importance estimate against the exact
log-likelihood of a tiny model (quadrature over a 1D latent), the ELBO below it, chunking that does
not change the estimate's law, the local posterior that only moves its own parameters, errors."""
import math

import pytest
import torch

from flowlab.flows import randomize_parameters
from flowlab.measure.bands import bonferroni_z
from flowlab.models import VAE, Bernoulli, LocalPosterior
from flowlab.models.likelihoods import DiscretizedLogistic
from flowlab.models.vae import logmeanexp
from flowlab.train import fit

F64 = torch.float64


def tiny_vae(flow="gaussian", num_flows=0, seed=0, latent=1):
    vae = VAE((1, 2, 2), Bernoulli(), latent=latent, hidden=8, layers=1, context=6, flow=flow,
              num_flows=num_flows).double()
    return randomize_parameters(vae, 0.8, generator=torch.Generator().manual_seed(seed))


IMAGES = torch.tensor([[0, 1, 1, 0], [1, 1, 1, 1], [0, 0, 1, 0]]).reshape(3, 1, 2, 2)


def exact_log_likelihood(vae, x):
    """log p(x) = log int p(x|z) p(z) dz for a 1D latent, by the trapezoid rule on [-12, 12]."""
    z = torch.linspace(-12, 12, 20001, dtype=F64).reshape(-1, 1)
    log_pz = -0.5 * (z[:, 0] ** 2 + math.log(2 * math.pi))
    out = []
    for xi in x:
        log_px = vae.likelihood.log_prob(vae.decoder(z), xi.expand(len(z), *xi.shape))
        out.append(torch.logsumexp(log_px + log_pz, 0) + math.log(z[1, 0] - z[0, 0]))
    return torch.stack(out)


def test_log_weights_are_the_three_densities():
    vae = tiny_vae(latent=2)
    w = vae.log_weights(IMAGES, 4, torch.Generator().manual_seed(1))
    z, log_q = vae.posterior.sample(vae.encode(IMAGES), 4, torch.Generator().manual_seed(1))
    assert torch.allclose(w.log_q, log_q)
    assert torch.allclose(w.log_pz, torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1))
    logits = vae.decoder(z.reshape(-1, 2)).reshape(4, 3, 4)
    ref = torch.distributions.Bernoulli(logits=logits).log_prob(IMAGES.reshape(1, 3, 4).double()).sum(-1)
    assert torch.allclose(w.log_px_z, ref, atol=1e-12)


@pytest.mark.parametrize("flow,num_flows", [("gaussian", 0), ("planar", 3)])
def test_importance_estimate_converges_to_the_exact_log_likelihood(flow, num_flows):
    """With S draws the estimate is within a band of the exact log p(x): its spread is the relative sd
    of the weights over sqrt(S) (delta method), estimated from the same draws, and its bias -var/(2S)
    is far below the band at S = 20,000."""
    vae = tiny_vae(flow, num_flows, seed=2)
    with torch.no_grad():  # q0 = N(0, 1.5) for every image: wider than the posterior, so w has all moments
        for head, bias in ((vae.posterior.mean, 0.0), (vae.posterior.var, math.log(math.expm1(1.5)))):
            head.weight.zero_()
            head.bias.fill_(bias)
        exact = exact_log_likelihood(vae, IMAGES)
    with torch.no_grad():
        w = vae.log_weights(IMAGES, 20000, torch.Generator().manual_seed(3)).total
    estimate = logmeanexp(w, 0)
    rel = (w - estimate).exp()
    se = rel.std(0) / math.sqrt(w.shape[0])
    assert ((estimate - exact).abs() < bonferroni_z(0.01, 6) * se + 1e-9).all(), (estimate - exact, se)
    elbo = vae.elbo(IMAGES, 20000, generator=torch.Generator().manual_seed(4))
    assert (elbo < exact).all()                  # Jensen: the bound is below, by the KL gap


def test_importance_chunks_reproduce_the_direct_computation():
    vae = tiny_vae("planar", 2, seed=3)
    chunked = vae.importance_log_likelihood(IMAGES, 50, batch=20, generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    direct = []
    for part in IMAGES.split(1):                          # batch 20 < 50 draws: one image at a time
        raw = vae.encode(part)
        pieces = [vae.log_weights(part, n, g, raw).total for n in (20, 20, 10)]
        direct.append(logmeanexp(torch.cat(pieces), 0))
    assert torch.allclose(chunked, torch.cat(direct))


def test_local_posterior_moves_only_its_parameters_and_raises_the_bound():
    vae = tiny_vae("planar", 2, seed=4, latent=2)
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    local = LocalPosterior(vae, IMAGES)
    g = torch.Generator().manual_seed(6)
    start = local.elbo(2000, torch.Generator().manual_seed(7)).detach()
    fit(local, lambda _: -local.elbo(8, g).mean(), lambda step: None, steps=150, lr=0.05, progress=False)
    end = local.elbo(2000, torch.Generator().manual_seed(7)).detach()
    assert end.mean() > start.mean() + 0.05
    assert all(torch.equal(before[k], v) for k, v in vae.state_dict().items())
    assert set(dict(local.named_parameters())) == {f"raw.{k}" for k in vae.encode(IMAGES)}


def test_bits_per_dim_and_errors():
    vae = VAE((1, 3, 2), DiscretizedLogistic(256), latent=2, hidden=4, layers=1, context=4)
    assert vae.bits_per_dim(-6 * math.log(256)) == pytest.approx(8.0)
    with pytest.raises(ValueError, match=r"VAE.encode expects images of shape \[batch, 1, 3, 2\]"):
        vae.encode(torch.zeros(2, 1, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="pixel values must lie in"):
        vae.encode(torch.full((2, 1, 3, 2), 300))
    with pytest.raises(TypeError, match="likelihood"):
        VAE((1, 3, 2), "bernoulli")
    with pytest.raises(ValueError, match="num_flows"):
        VAE((1, 3, 2), Bernoulli(), flow="planar")


@pytest.mark.parametrize("flow, num_flows", [("gaussian", 0), ("planar", 2), ("iaf", 1)])
def test_each_public_method_scans_its_images_once(monkeypatch, flow, num_flows):
    """The VAE checks the images where they enter (one pass over the pixels per call) and its parts
    trust them: the posterior and the likelihood do not scan them again (issue #17)."""
    import flowlab.models.likelihoods as likelihoods
    import flowlab.models.vae as vae_module
    from flowlab.validate import check_pixels

    scans = []

    def counting(x, levels, who):
        scans.append(who)
        return check_pixels(x, levels, who)

    vae = tiny_vae(flow, num_flows)
    monkeypatch.setattr(vae_module, "check_pixels", counting)
    monkeypatch.setattr(likelihoods, "check_pixels", counting)
    g = torch.Generator().manual_seed(0)
    vae.elbo(IMAGES, 3, generator=g)
    assert scans == ["VAE.log_weights"]
    scans.clear()
    vae.importance_log_likelihood(IMAGES, 10, batch=4, generator=g)
    assert scans == ["VAE.importance_log_likelihood"]
    scans.clear()
    LocalPosterior(vae, IMAGES).elbo(2, g)
    assert scans == ["VAE.encode", "VAE.log_weights"]
