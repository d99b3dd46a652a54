"""flowlab.models.diffusion: the schedule's identities exactly, sequential noising against the closed
form at its nominal false-alarm rate, score = -eps/sqrt(1 - abar), and the guidance convention."""
import math

import numpy as np
import pytest
import torch

from flowlab.measure.bands import bonferroni_z, pearson_z
from flowlab.models import DDPM, linear_schedule
from flowlab.nn import TimeLabelMLP


@pytest.mark.parametrize("T", [50, 100, 1000])
def test_linear_schedule_ends_near_pure_noise(T):
    s = linear_schedule(T)
    assert s.alpha_bars[-1] < 1e-4 and s.alpha_bars[0] > 0.99
    assert torch.all(s.alpha_bars[1:] < s.alpha_bars[:-1])


def test_sequential_moments_are_the_closed_form():
    s = linear_schedule(200)
    mean_coef, var = s.sequential_moments()
    assert torch.allclose(mean_coef, s.alpha_bars.sqrt(), rtol=1e-12, atol=0)
    assert torch.allclose(var, 1 - s.alpha_bars, rtol=1e-12, atol=1e-15)


def _noising_z(schedule, seed, n=4000, steps=(1, 10, 40, 100)):
    """z-scores of the sample mean and variance of sequentially noised x0 against q(x_t | x0)."""
    g = torch.Generator().manual_seed(seed)
    x0 = torch.full((n, 1), 1.5, dtype=torch.float64)
    zs = []
    for t in steps:
        xt = schedule.sequential(x0, t, g)[:, 0].numpy()
        ab = schedule.alpha_bars[t - 1].item()
        mu, v = math.sqrt(ab) * 1.5, 1 - ab
        zs.append((xt.mean() - mu) / math.sqrt(v / n))
        # unbiased sample variance of normals: mean v, variance 2v^2/(n-1), third moment 8v^3/(n-1)^2
        zs.append(float(pearson_z(xt.var(ddof=1), v, 2 * v ** 2 / (n - 1), 8 * v ** 3 / (n - 1) ** 2)))
    return np.array(zs)


def test_sequential_noising_matches_the_marginal_at_nominal_rate():
    s = linear_schedule(100)
    band = bonferroni_z(0.05, 8)
    fails = sum(bool(np.abs(_noising_z(s, seed, n=1000)).max() > band) for seed in range(100))
    assert fails <= 10  # P(Binomial(100, 0.05) >= 11) < 1.2%


def test_eps_to_score_is_exact_on_a_gaussian():
    """For x0 ~ N(m, c^2) the optimal noise predictor E[eps | x_t] is linear; -E[eps|x_t]/sqrt(1-abar)
    is the score of q(x_t) = N(sqrt(abar) m, abar c^2 + 1 - abar), computed here by autograd."""
    s = linear_schedule(100)
    m, c = 0.7, 0.4
    x = torch.linspace(-3, 3, 25, dtype=torch.float64)
    for t in (1, 20, 60, 100):
        ab = s.alpha_bars[t - 1]
        var = ab * c ** 2 + 1 - ab
        eps_opt = (1 - ab).sqrt() * (x - ab.sqrt() * m) / var        # Cov(eps, x_t) / Var(x_t) * centred x_t
        xr = x.clone().requires_grad_(True)
        logq = torch.distributions.Normal(ab.sqrt() * m, var.sqrt()).log_prob(xr).sum()
        (score,) = torch.autograd.grad(logq, xr)
        assert torch.allclose(s.score_from_eps(eps_opt, t), score, rtol=1e-12, atol=1e-14)


def test_ddpm_and_ncsn_objectives_differ_by_the_weight():
    s = linear_schedule(100)
    g = torch.Generator().manual_seed(0)
    t = torch.randint(1, 101, (64,), generator=g)
    eps, eps_hat, x0 = (torch.randn(64, 2, generator=g, dtype=torch.float64) for _ in range(3))
    ab = s.alpha_bars[t - 1][:, None]
    grad_log_q = -(s.q_sample(x0, t, eps) - ab.sqrt() * x0) / (1 - ab)   # score of N(sqrt(ab) x0, 1 - ab)
    ncsn = ((s.score_from_eps(eps_hat, t) - grad_log_q) ** 2).sum(-1)
    ddpm = ((eps_hat - eps) ** 2).sum(-1) / (1 - ab[:, 0])
    assert torch.allclose(ncsn, ddpm, rtol=1e-10)


def _model(num_classes=3, seed=0):
    torch.manual_seed(seed)
    return DDPM(TimeLabelMLP(2, num_classes, hidden=16, layers=2), linear_schedule(20), 2, num_classes).double()


def test_guidance_convention():
    model = _model()
    g = torch.Generator().manual_seed(3)
    x = torch.randn(7, 2, generator=g, dtype=torch.float64)
    t = torch.full((7,), 5)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    eps_c, eps_u = model.eps(x, t, y), model.eps(x, t, None)
    assert torch.equal(model.guided_eps(x, t, y, 1.0), eps_c)
    assert torch.equal(model.guided_eps(x, t, y, 0.0), eps_u)
    w = 2.0  # gamma = 1 + w = 3
    assert torch.allclose(model.guided_eps(x, t, y, 1 + w), (1 + w) * eps_c - w * eps_u, rtol=1e-12)


def test_sampling_is_seeded_and_training_lowers_the_loss():
    model = _model()
    a = model.sample(10, y=1, gamma=3.0, generator=torch.Generator().manual_seed(0))
    b = model.sample(10, y=1, gamma=3.0, generator=torch.Generator().manual_seed(0))
    assert a.shape == (10, 2) and torch.equal(a, b)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(256, 2, generator=g, dtype=torch.float64) * 0.3 + 1.0
    y = torch.randint(0, 3, (256,), generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    def eval_g():
        return model.loss(x0, y, torch.Generator().manual_seed(9)).item()
    before = eval_g()
    for _ in range(150):
        opt.zero_grad()
        model.loss(x0, y, g).backward()
        opt.step()
    assert eval_g() < 0.8 * before


def test_bad_inputs():
    model = _model()
    with pytest.raises(ValueError, match="1..20"):
        model.schedule.q_sample(torch.zeros(2, 2), torch.tensor([0, 1]), torch.zeros(2, 2))
    with pytest.raises(TypeError, match="integer steps"):
        model.schedule.score_from_eps(torch.zeros(2, 2), torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="labels"):
        model.loss(torch.zeros(4, 2, dtype=torch.float64), torch.tensor([0, 1, 5, 0]))
    with pytest.raises(ValueError, match="unconditional"):
        DDPM(TimeLabelMLP(2), linear_schedule(5), 2).sample(3, y=1)
    with pytest.raises(ValueError, match="beta_start <= beta_end < 1"):  # NoiseSchedule trusts its builder
        linear_schedule(10, beta_end=1.5)
    with pytest.raises(ValueError, match="DDPM.loss"):
        model.loss(torch.zeros(4, 3, dtype=torch.float64))
