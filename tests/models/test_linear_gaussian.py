"""The linear-Gaussian model: closed-form posterior and marginal against brute force, the exact
identity log p(x) = ELBO + KL, the gap moments against Monte Carlo, and the false-alarm rate of the
ELBO-gap z-score over many seeds (at most nominal)."""
import math

import pytest
import torch

from flowlab.measure.bands import bonferroni_z
from flowlab.models import LinearGaussian, elbo_gap_z, gaussian_gap_moments

F64 = torch.float64


def model_and_q(seed, n=6, d=6, k=3):
    """A posterior with moderate correlation (eigenvalues of Lambda in [1.25, 2.5]) and a mean-field q,
    1.6 times wider than the mean-field optimum and shifted: finite E[r^4] for every seed."""
    g = torch.Generator().manual_seed(seed)
    u = torch.linalg.qr(torch.randn(d, k, generator=g, dtype=F64))[0]
    v = torch.linalg.qr(torch.randn(k, k, generator=g, dtype=F64))[0]
    weight = u @ torch.diag(torch.tensor([1.5, 0.75, 0.25], dtype=F64).sqrt()) @ v.T
    model = LinearGaussian(weight, torch.randn(d, generator=g, dtype=F64), 1.0)
    x = torch.randn(n, k, generator=g, dtype=F64) @ weight.T + model.bias + torch.randn(n, d, generator=g, dtype=F64)
    p_mean, p_cov = model.posterior(x)
    lam_diag = torch.diagonal(model.precision)
    q_mean = p_mean + 0.5 * torch.randn(n, k, generator=g, dtype=F64) / lam_diag.sqrt()
    q_var = (1.6 / lam_diag).expand(n, k).clone()
    return model, x, q_mean, q_var, p_mean, p_cov, g


def log_w(model, x, q_mean, q_var, num, g):
    eps = torch.randn(num, *q_mean.shape, generator=g, dtype=F64)
    log_q = -0.5 * (eps ** 2 + q_var.log() + math.log(2 * math.pi)).sum(-1)
    return model.log_joint(x, q_mean + q_var.sqrt() * eps) - log_q


def test_posterior_marginal_and_the_exact_identity():
    model, x, q_mean, q_var, p_mean, p_cov, g = model_and_q(0)
    # Bayes: log p(z|x) = log p(x, z) - log p(x) at any z
    z = torch.randn(1, 6, 3, generator=g, dtype=F64)
    post = torch.distributions.MultivariateNormal(p_mean, covariance_matrix=p_cov)
    assert torch.allclose(post.log_prob(z[0]), model.log_joint(x, z)[0] - model.log_marginal(x), atol=1e-10)
    gap = gaussian_gap_moments(q_mean, q_var, p_mean, p_cov)
    assert torch.allclose(model.log_marginal(x), model.elbo(x, q_mean, q_var) + gap.kl, atol=1e-10)
    ref_kl = torch.distributions.kl_divergence(
        torch.distributions.MultivariateNormal(q_mean, covariance_matrix=torch.diag_embed(q_var)), post)
    assert torch.allclose(gap.kl, ref_kl, atol=1e-10)
    # at q = p(z|x) restricted to the diagonal the gap is the mean-field KL, never below zero
    assert (gap.kl > 0).all()


def test_gap_moments_against_monte_carlo():
    model, x, q_mean, q_var, p_mean, p_cov, g = model_and_q(1)
    gap = gaussian_gap_moments(q_mean, q_var, p_mean, p_cov)
    lw = log_w(model, x, q_mean, q_var, 400000, g)
    r = (lw - model.log_marginal(x)).exp()
    z = bonferroni_z(0.01, 3 * 6)
    n = lw.shape[0]
    assert ((lw.mean(0) - model.elbo(x, q_mean, q_var)).abs() < z * (gap.var_log_w / n).sqrt()).all()
    assert ((r.mean(0) - 1).abs() < z * (gap.chi2 / n).sqrt()).all()          # E[r] = 1
    assert torch.allclose(lw.var(0), gap.var_log_w, rtol=0.05)
    assert torch.allclose(r.var(0), gap.chi2, rtol=0.15)                        # heavier-tailed: looser
    assert gap.fourth_moment_finite.all()


def test_elbo_gap_z_false_alarm_rate_is_at_most_nominal():
    """200 independent replications of the notebook's check (6 datapoints, K = N = 2000 draws, a
    Bonferroni band at alpha = 0.05): the check must fail in at most alpha of them, up to the binomial
    noise of 200 trials (a one-sided 3-sigma allowance)."""
    model, x, q_mean, q_var, p_mean, p_cov, g = model_and_q(2)
    gap = gaussian_gap_moments(q_mean, q_var, p_mean, p_cov)
    alpha, trials, draws = 0.05, 200, 2000
    band = bonferroni_z(alpha, 6)
    fails = 0
    for _ in range(trials):
        importance = torch.logsumexp(log_w(model, x, q_mean, q_var, draws, g), 0) - math.log(draws)
        elbo = log_w(model, x, q_mean, q_var, draws, g).mean(0)
        fails += bool((elbo_gap_z(importance, elbo, gap, draws, draws).abs() > band).any())
    assert fails / trials <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / trials)


def test_errors():
    model, x, q_mean, q_var, p_mean, p_cov, _ = model_and_q(3)
    with pytest.raises(ValueError, match="chi\\^2.*infinite"):
        gaussian_gap_moments(q_mean, q_var / 20, p_mean, p_cov)
    with pytest.raises(ValueError, match="q_var must be positive"):
        model.elbo(x, q_mean, -q_var)
    with pytest.raises(ValueError, match=r"LinearGaussian.log_marginal expects input of shape \[batch, 6\]"):
        model.log_marginal(torch.zeros(2, 5, dtype=F64))
    with pytest.raises(ValueError, match=r"LinearGaussian: bias must have shape \[d\] \(d = 3"):
        LinearGaussian(torch.zeros(3, 2), torch.zeros(2), 1.0)
    with pytest.raises(ValueError, match="noise_std"):
        LinearGaussian(torch.zeros(3, 2), torch.zeros(3), 0.0)
