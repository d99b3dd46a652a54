"""Log-det power series (truncated, Russian roulette) against exact answers on controlled spectra.

A symmetric J = Q diag(lambda) Q^T has known eigenvalues, so log det(I + J), tr(J^k), the truncated
series' tail and Lip(J) = rho(J) = max|lambda| are all known in closed form. Statistical checks use
the exact variance where it is known; ``test_notebook_roulette_check_false_alarm_rate`` runs notebook
08's own unbiasedness check (the sample's own standard error, a Bonferroni band) over many seeds.
"""
import pytest
import torch
from scipy import stats
from torch.func import jacrev, vmap

from flowlab.estimators import (
    hutchinson_variance,
    iresnet_tail_bound,
    logdet_exact,
    power_traces,
    roulette_logdet_samples,
    roulette_moments,
    roulette_variance_finite,
    sample_mean_z,
    sample_variance_se,
    series_tail,
    truncated_logdet_samples,
)
from flowlab.estimators.logdet_series import roulette_log_survival, roulette_logdet, truncated_logdet

D = torch.float64
SHAPE = torch.tensor([-1.0, 0.8, -0.55, 0.35, -0.2, 0.1], dtype=D)   # the notebook's spectrum (rho = 1 * lip)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def controlled(lip, seed=123, shape=SHAPE):
    Q, _ = torch.linalg.qr(torch.randn(len(shape), len(shape), generator=_gen(seed), dtype=D))
    lam = lip * shape
    return (Q * lam) @ Q.T, lam


def _field(m=3, seed=1, scale=0.3):
    g = _gen(seed)
    W1 = torch.randn(8, m, generator=g, dtype=D) * scale
    W2 = torch.randn(m, 8, generator=g, dtype=D) * scale
    return lambda x: torch.tanh(x @ W1.T) @ W2.T


def test_logdet_exact_and_power_traces_match_closed_forms():
    J, lam = controlled(0.7)
    assert torch.allclose(logdet_exact(J), torch.log1p(lam).sum(), atol=1e-13)
    traces = power_traces(J, terms=6)
    want = torch.stack([(lam ** k).sum() for k in range(1, 7)])
    assert torch.allclose(traces, want, atol=1e-13)
    f = _field()
    x = torch.randn(4, 3, generator=_gen(2), dtype=D)
    Jf = vmap(jacrev(f))(x)
    eye = torch.eye(3, dtype=D)
    assert torch.allclose(logdet_exact(f, x), torch.linalg.slogdet(eye + Jf)[1], atol=1e-13)
    want_f = torch.stack([torch.diagonal(torch.linalg.matrix_power(Jf, k), dim1=-2, dim2=-1).sum(-1)
                          for k in (1, 2, 3)])
    assert torch.allclose(power_traces(f, x, terms=3), want_f, atol=1e-13)


@pytest.mark.parametrize("lip", [0.2, 0.6, 0.9])
def test_truncation_bias_is_the_closed_form_tail_and_obeys_the_iresnet_bound(lip):
    J, lam = controlled(lip)
    exact = torch.log1p(lam).sum()
    traces = power_traces(J, terms=30)
    coef = torch.tensor([(-1) ** (k + 1) / k for k in range(1, 31)], dtype=D)
    partial = torch.cumsum(coef * traces, 0)
    for n in range(1, 31):
        tail = series_tail(lam, n)
        assert abs((exact - partial[n - 1]) - tail) < 1e-13
        assert abs(tail) <= iresnet_tail_bound(lip, 6, n) + 1e-15
    assert abs(series_tail(lam, 0) - exact) < 1e-15
    # J = -lip I attains the bound: every term of its tail has the same sign and modulus L^k / k.
    worst = torch.full((6,), -lip, dtype=D)
    for n in (1, 4, 12):
        assert abs(abs(series_tail(worst, n)) - iresnet_tail_bound(lip, 6, n)) < 1e-12


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_truncated_series_is_unbiased_for_its_partial_sum(noise):
    J, _ = controlled(0.6)
    n_terms, probes = 5, 40_000
    s = truncated_logdet_samples(J, terms=n_terms, probes=probes, noise=noise, generator=_gen(3))
    M = sum((-1) ** (k + 1) / k * torch.linalg.matrix_power(J, k) for k in range(1, n_terms + 1))
    z = (s.mean() - M.trace()) / (hutchinson_variance(M, noise) / probes).sqrt()
    assert abs(z) < 4, z   # a 6e-5 false alarm rate: exact variance, near-normal mean of 40k draws
    assert torch.equal(truncated_logdet(J, terms=3, probes=7, generator=_gen(5)),
                       truncated_logdet_samples(J, terms=3, probes=7, generator=_gen(5)).mean(0))


def test_one_dimension_with_rademacher_probes_is_deterministic():
    # v^2 = 1: every probe gives the exact partial sum; the roulette varies only through N.
    f = lambda x: 0.5 * torch.tanh(x)                                   # noqa: E731
    x = torch.tensor([[0.3], [-1.2]], dtype=D)
    exact = logdet_exact(f, x)
    s = truncated_logdet_samples(f, x, terms=60, probes=3, noise="rademacher", generator=_gen())
    assert torch.allclose(s, exact.expand(3, 2), atol=1e-14)


def test_survival_weights_match_the_law_of_the_number_of_terms():
    k = torch.arange(1, 15)
    geo = roulette_log_survival(k, truncation="geometric", p=0.3, exact_terms=2).exp()
    want = torch.where(k <= 2, 1.0, 0.7 ** (k - 2.0)).to(D)
    assert torch.allclose(geo, want, atol=1e-15)
    poi = roulette_log_survival(k, truncation="poisson", lam=1.5, exact_terms=1).exp()
    want = torch.tensor([1.0] + [stats.poisson.sf(j - 1, 1.5) for j in range(1, 14)], dtype=D)
    assert torch.allclose(poi, want, rtol=1e-10, atol=0)
    # Deep in the Poisson tail the log survival stays finite (no 1 - cdf underflow).
    assert torch.isfinite(roulette_log_survival(torch.tensor([400]), truncation="poisson", lam=2.0)).all()


@pytest.mark.parametrize("truncation,kw", [("geometric", dict(p=0.5)), ("poisson", dict(lam=2.0))])
def test_roulette_moments_mean_is_the_log_det_and_variance_matches_draws(truncation, kw):
    J, lam = controlled(0.4)
    mo = roulette_moments(J, truncation=truncation, noise="gaussian", max_terms=80, **kw)
    assert abs(mo.mean - torch.log1p(lam).sum()) < 1e-12
    if truncation == "geometric":   # finite variance (rho^2 = 0.16 <= 1/2): the draws' variance agrees
        s = roulette_logdet_samples(J, truncation=truncation, probes=200_000, generator=_gen(4), **kw)
        # rho^4 = 0.0256 <= (1 - p)^3: the fourth moment is finite too, so the variance's s.e. is honest
        assert abs(s.var() - mo.variance) < 4.5 * sample_variance_se(s)
        increments = mo.partial_second.diff()
        assert increments[-1] < 1e-12 * mo.partial_second[-1]          # converged
    else:                           # Poisson: the partial sums of the second moment grow without bound
        assert mo.partial_second[-1] > 1e6 * mo.partial_second[20]


def test_geometric_variance_is_finite_iff_two_rho_squared_at_most_one():
    assert roulette_variance_finite(0.7, p=0.5) and not roulette_variance_finite(0.71, p=0.5)
    assert not roulette_variance_finite(0.1, truncation="poisson")
    for lip, finite in [(0.6, True), (0.8, False)]:
        J, _ = controlled(lip)
        part = roulette_moments(J, max_terms=150).partial_second
        growth = float(part[-1] / part[100])
        assert (growth < 1 + 1e-6) if finite else (growth > 10), (lip, growth)


@pytest.mark.parametrize("truncation,kw,exact_terms", [("geometric", dict(p=0.5), 0),
                                                       ("geometric", dict(p=0.3), 3),
                                                       ("poisson", dict(lam=3.0), 1)])
def test_roulette_is_unbiased_with_exact_variance(truncation, kw, exact_terms):
    # rho = 0.3: finite variance for the geometric laws; for Poisson the variance is infinite, but at
    # rho/lam = 0.1 the mass in unseen events (N > 12) is below 1e-9: the band is checked at rho = 0.3.
    J, lam = controlled(0.3)
    n = 100_000
    s = roulette_logdet_samples(J, truncation=truncation, exact_terms=exact_terms, probes=n, generator=_gen(8), **kw)
    z = sample_mean_z(s, torch.log1p(lam).sum())
    assert abs(z) < 4.5, z


def test_roulette_draws_are_seeded_batched_and_differentiable():
    f = _field(scale=0.4)
    x = torch.randn(5, 3, generator=_gen(1), dtype=D)
    a = roulette_logdet_samples(f, x, probes=4, generator=_gen(9))
    b = roulette_logdet_samples(f, x, probes=4, generator=_gen(9))
    assert a.shape == (4, 5) and torch.equal(a, b)
    assert roulette_logdet(f, x, probes=4, generator=_gen(9)).shape == (5,)
    W = torch.randn(3, 3, dtype=D, requires_grad=True)
    est = roulette_logdet(lambda v: 0.2 * torch.tanh(v @ W.T), x, probes=3, generator=_gen(2)).sum()
    (grad,) = torch.autograd.grad(est, W)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_bad_inputs_raise_clear_errors():
    J, lam = controlled(0.5)
    with pytest.raises(ValueError, match="truncation"):
        roulette_logdet_samples(J, truncation="binomial", generator=_gen())
    with pytest.raises(ValueError, match=r"p must lie in \(0, 1\)"):
        roulette_logdet_samples(J, p=1.0, generator=_gen())
    with pytest.raises(TypeError, match="generator"):
        truncated_logdet_samples(J, terms=3, generator=None)
    with pytest.raises(TypeError, match="terms"):
        truncated_logdet_samples(J, terms=2.0, generator=_gen())
    with pytest.raises(ValueError, match="modulus < 1"):
        series_tail(torch.tensor([0.5, 1.2], dtype=D), 3)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        iresnet_tail_bound(1.0, 2, 3)
    with pytest.raises(ValueError, match="square"):
        roulette_moments(torch.ones(2, 3, dtype=D))
    with pytest.raises(ValueError, match="at least 2"):
        sample_mean_z(torch.ones(1, dtype=D), 0.0)


# ------------------------------------------------------------- notebook 08's check, over many seeds
# Notebook 08 (C24) asserts: at each lip in NB_LIPS, the mean of NB_DRAWS geometric(1/2) roulette draws
# (exact_terms 2, Gaussian probes) on controlled(lip) is within z_band sample standard errors of
# log det(I + J), z_band the Bonferroni band of family-wise level NB_ALPHA over the len(NB_LIPS) checks.
NB_LIPS, NB_DRAWS, NB_ALPHA = (0.3, 0.5), 5000, 0.01


def notebook_check(seed: int) -> tuple[bool, list[float]]:
    z_band = stats.norm.isf(NB_ALPHA / (2 * len(NB_LIPS)))
    gen = _gen(seed)
    zs = []
    for lip in NB_LIPS:
        J, lam = controlled(lip)
        s = roulette_logdet_samples(J, probes=NB_DRAWS, noise="gaussian", generator=gen)
        zs.append(float(sample_mean_z(s, torch.log1p(lam).sum())))
    return all(abs(z) <= z_band for z in zs), zs


def test_notebook_roulette_check_false_alarm_rate():
    """The check a correct estimator faces in the notebook, run on 400 fresh seeds: the family fails at
    most at its nominal 1% rate, and each z-score's two-sided tail rates at 1.96 and 2.576 are not above
    their nominal 5% and 1% (each compared with the binomial 0.1% upper limit for that many draws)."""
    seeds = 400
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # 800 small checks: thread start-up would cost more than the work
    try:
        results = [notebook_check(10_000 + s) for s in range(seeds)]
    finally:
        torch.set_num_threads(threads)
    failures = sum(not ok for ok, _ in results)
    assert failures <= stats.binom.isf(0.001, seeds, NB_ALPHA), failures
    z = torch.tensor([z for _, zs in results for z in zs])
    for level, nominal in [(1.96, 0.05), (2.576, 0.01)]:
        count = int((z.abs() > level).sum())
        assert count <= stats.binom.isf(0.001, len(z), nominal), (level, count / len(z))
