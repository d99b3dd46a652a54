"""Gradient estimators of d/dphi E_q[f(z)], q = N(mu, diag sigma^2): both unbiased against the exact
gradient of a quadratic, with the exact variances of that case, the unbiasedness check at its nominal
false-alarm rate over many seeds, and reparametrization's far lower variance as the dimension grows."""
import math

import pytest
import torch

from flowlab.estimators import reparametrization_gradient, sample_variance_se, score_function_gradient
from flowlab.measure.bands import bonferroni_z

F64 = torch.float64


def quadratic(c):
    """f(z) = |z - c|^2 / 2: E_q f = (|mu - c|^2 + sum sigma^2)/2, so grad_mu = mu - c, grad_log_sigma = sigma^2."""
    return lambda z: 0.5 * ((z - c) ** 2).sum(-1)


def setup(d, seed=0):
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(d, generator=g, dtype=F64)
    log_std = 0.3 * torch.randn(d, generator=g, dtype=F64)
    c = torch.randn(d, generator=g, dtype=F64)
    return mean, log_std, c, g


def unbiased(samples, exact, z):
    n = samples.shape[0]
    return bool(((samples.mean(0) - exact).abs() <= z * samples.std(0) / math.sqrt(n)).all())


@pytest.mark.parametrize("estimator", [reparametrization_gradient, score_function_gradient])
def test_unbiased_for_a_quadratic(estimator):
    mean, log_std, c, g = setup(4)
    s = estimator(quadratic(c), mean, log_std, num_samples=50000, generator=g)
    z = bonferroni_z(0.01, 8)
    assert unbiased(s.mean, mean - c, z) and unbiased(s.log_std, (2 * log_std).exp(), z)


def test_reparametrization_variance_is_exact_for_a_quadratic():
    """grad_mu = mu - c + sigma eps, so Var = sigma^2 exactly; the sample variance within its band."""
    mean, log_std, c, g = setup(3, seed=1)
    s = reparametrization_gradient(quadratic(c), mean, log_std, num_samples=20000, generator=g)
    band = bonferroni_z(0.01, 3) * sample_variance_se(s.mean)
    assert ((s.mean.var(0) - (2 * log_std).exp()).abs() <= band).all()


def test_unbiasedness_check_has_its_nominal_false_alarm_rate():
    """The check above, run on 200 seeds nobody tuned to, fails in at most alpha of them (plus 3 binomial
    standard errors), for both estimators."""
    alpha, trials = 0.05, 200
    z = bonferroni_z(alpha, 3)
    for estimator in (reparametrization_gradient, score_function_gradient):
        fails = 0
        for seed in range(trials):
            mean, log_std, c, g = setup(3, seed=1000 + seed)
            s = estimator(quadratic(c), mean, log_std, num_samples=2000, generator=g)
            fails += not unbiased(s.mean, mean - c, z)
        assert fails / trials <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / trials), (estimator.__name__, fails)


def test_reinforce_variance_grows_with_dimension_reparametrization_does_not():
    ratios = []
    for d in (1, 8, 32):
        mean, log_std, c, g = setup(d, seed=2)
        r = reparametrization_gradient(quadratic(c), mean, log_std, num_samples=4000, generator=g)
        s = score_function_gradient(quadratic(c), mean, log_std, num_samples=4000, generator=g)
        ratios.append((s.mean[:, 0].var() / r.mean[:, 0].var()).item())
    assert ratios[0] > 1 and ratios[1] > 3 * ratios[0] and ratios[2] > 2 * ratios[1], ratios


def test_a_baseline_keeps_reinforce_unbiased_and_lowers_its_variance():
    mean, log_std, c, g = setup(2, seed=3)
    f = quadratic(c)
    plain = score_function_gradient(f, mean, log_std, num_samples=40000, generator=torch.Generator().manual_seed(4))
    based = score_function_gradient(f, mean, log_std, num_samples=40000, generator=torch.Generator().manual_seed(4),
                                    baseline=float(f(mean[None]).item()))
    assert unbiased(based.mean, mean - c, bonferroni_z(0.01, 2))
    assert (based.mean.var(0) < plain.mean.var(0)).all()


def test_errors():
    mean, log_std, c, g = setup(2)
    f = quadratic(c)
    with pytest.raises(TypeError, match="reparametrization_gradient: generator must be an explicit torch.Generator"):
        reparametrization_gradient(f, mean, log_std, num_samples=3, generator=None)
    with pytest.raises(ValueError, match=r"score_function_gradient: log_std must have shape \[d\] \(d = 2"):
        score_function_gradient(f, mean, log_std[:1], num_samples=3, generator=g)
    with pytest.raises(ValueError, match="f must map points"):
        score_function_gradient(lambda z: z, mean, log_std, num_samples=3, generator=g)
    with pytest.raises(TypeError, match="num_samples"):
        reparametrization_gradient(f, mean, log_std, num_samples=2.0, generator=g)
