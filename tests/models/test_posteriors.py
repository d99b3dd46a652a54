"""Flow posteriors: log q is the change of variables of the reparametrized draw, q is normalised
(E_q[p/q] = 1 for any density p, checked within its sampling band), draws are seeded."""
import math

import pytest
import torch

from flowlab.flows import randomize_parameters
from flowlab.measure.bands import bonferroni_z
from flowlab.models import VAE, Bernoulli
from flowlab.models.posteriors import POSTERIORS, FlowPosterior, repeat_rows

F64 = torch.float64
OPTIONS = {"iaf": {"hidden": 8}, "orthogonal": {"hidden": 2}, "householder": {"reflections": 2}}


def _posterior(kind, latent=2, context=3, seed=0):
    post = FlowPosterior(context, latent, kind, 0 if kind == "gaussian" else 3, **OPTIONS.get(kind, {})).double()
    # IAF's scales compound as e^a over layers: a smaller draw keeps q a plausible posterior
    return randomize_parameters(post, 0.15 if kind == "iaf" else 0.5, generator=torch.Generator().manual_seed(seed))


def test_gaussian_log_q_is_the_normal_density():
    post = _posterior("gaussian", latent=3)
    raw = post.raw_parameters(torch.randn(4, 3, dtype=F64))
    z, log_q = post.sample(raw, 5, torch.Generator().manual_seed(1))
    var = torch.nn.functional.softplus(raw["var_raw"]) + post.min_var
    ref = torch.distributions.Normal(raw["mean"], var.sqrt()).log_prob(z).sum(-1)
    assert z.shape == (5, 4, 3) and torch.allclose(log_q, ref, atol=1e-12)


@pytest.mark.parametrize("kind", POSTERIORS)
def test_log_q_is_the_base_density_minus_the_jacobian_log_det(kind):
    post = _posterior(kind)
    raw = post.raw_parameters(torch.randn(3, 3, generator=torch.Generator().manual_seed(2), dtype=F64))
    z, log_q = post.sample(raw, 2, torch.Generator().manual_seed(3))
    eps = torch.randn(2, 3, 2, generator=torch.Generator().manual_seed(3), dtype=F64)   # the same draws
    std = (torch.nn.functional.softplus(raw["var_raw"]) + post.min_var).sqrt()
    z0 = raw["mean"] + std * eps
    base = torch.distributions.Normal(raw["mean"], std).log_prob(z0).sum(-1)
    for s in range(2):
        for b in range(3):
            if post.flow is None:
                jac = torch.eye(2, dtype=F64)
                assert torch.allclose(z[s, b], z0[s, b])
            else:
                one = {k: v[b:b + 1] for k, v in raw.items() if k not in ("mean", "var_raw")}
                jac = torch.autograd.functional.jacobian(
                    lambda v, one=one: post.flow.transform(v[None], one)[0][0], z0[s, b])
            assert torch.allclose(log_q[s, b], base[s, b] - torch.linalg.slogdet(jac)[1], atol=1e-6)


@pytest.mark.parametrize("kind", POSTERIORS)
def test_posterior_is_normalised(kind):
    """E_q[p(z)/q(z)] = 1 for a Gaussian p narrower than q (so that p/q is bounded and the band honest): the
    mean over n draws within a Bonferroni band over kinds and datapoints, the ratio's spread from the
    20,000 draws themselves."""
    post = _posterior(kind)
    raw = post.raw_parameters(torch.randn(3, 3, generator=torch.Generator().manual_seed(2), dtype=F64))
    n = 20000
    with torch.no_grad():
        z, log_q = post.sample(raw, n, torch.Generator().manual_seed(3))
    centre, width = z.mean(0), 0.3 * z.std(0).amin(-1, keepdim=True)   # p well inside q, per datapoint
    log_ref = torch.distributions.Normal(centre, width).log_prob(z).sum(-1)
    ratio = (log_ref - log_q).exp()
    z_score = (ratio.mean(0) - 1) / (ratio.std(0) / math.sqrt(n))
    assert (z_score.abs() < bonferroni_z(0.01, 3 * len(POSTERIORS))).all(), z_score


def test_draws_are_seeded_and_repeat_rows_is_draw_major():
    post = _posterior("planar")
    raw = post.raw_parameters(torch.randn(2, 3, dtype=F64))
    a = post.sample(raw, 4, torch.Generator().manual_seed(5))
    b = post.sample(raw, 4, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    rep = repeat_rows({"t": torch.tensor([[1.0], [2.0]])}, 3)["t"].squeeze(-1)
    assert rep.tolist() == [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]


def test_errors():
    """The posterior is a part of the VAE, which checks its kind, sizes and raw parameters once."""
    with pytest.raises(ValueError, match="num_flows"):
        VAE((1, 2, 2), Bernoulli(), latent=2, hidden=4, layers=1, context=3, flow="planar", num_flows=0)
    with pytest.raises(ValueError, match="VAE: unknown flow"):
        VAE((1, 2, 2), Bernoulli(), latent=2, hidden=4, layers=1, context=3, flow="radial", num_flows=2)
    vae = VAE((1, 2, 2), Bernoulli(), latent=2, hidden=4, layers=1, context=3, flow="planar", num_flows=2)
    x = torch.tensor([[0, 1, 1, 0]]).reshape(1, 1, 2, 2)
    with pytest.raises(ValueError, match="VAE.log_weights: raw must be encode"):
        vae.log_weights(x, raw={"mean": torch.zeros(1, 2)})
    with pytest.raises(ValueError, match="VAE.log_weights: raw must be encode"):
        vae.log_weights(x, raw={k: v.repeat(2, *[1] * (v.dim() - 1)) for k, v in vae.encode(x).items()})
