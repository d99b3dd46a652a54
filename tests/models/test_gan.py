"""flowlab.models.gan: the losses and their logit gradients in closed form, and the density-ratio
band of a well-specified discriminator at its nominal false-alarm rate."""

import pytest
import torch
import torch.nn.functional as F

from flowlab.measure.bands import bonferroni_z
from flowlab.models import (
    Discriminator,
    Generator,
    discriminator_loss,
    fit_logistic,
    minimax_generator_loss,
    nonsaturating_generator_loss,
    quadratic_features,
)


def test_losses_are_the_lecture_formulas():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(50, generator=g, dtype=torch.float64), torch.randn(40, generator=g, dtype=torch.float64)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    assert discriminator_loss(real, fake).item() == pytest.approx(
        (-d_real.log().mean() - (1 - d_fake).log().mean()).item(), rel=1e-12)
    assert minimax_generator_loss(fake).item() == pytest.approx((1 - d_fake).log().mean().item(), rel=1e-12)
    assert nonsaturating_generator_loss(fake).item() == pytest.approx(-d_fake.log().mean().item(), rel=1e-12)
    assert discriminator_loss(real, fake).item() == pytest.approx(
        (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
         + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))).item(), rel=1e-12)


def test_logit_gradients_in_closed_form():
    logits = torch.linspace(-12, 12, 97, dtype=torch.float64, requires_grad=True)
    d = torch.sigmoid(logits.detach())
    (g_mm,) = torch.autograd.grad(minimax_generator_loss(logits), logits)
    (g_ns,) = torch.autograd.grad(nonsaturating_generator_loss(logits), logits)
    assert torch.allclose(g_mm, -d / len(d), rtol=1e-12, atol=0)
    assert torch.allclose(g_ns, -torch.sigmoid(-logits.detach()) / len(d), rtol=1e-12, atol=0)  # 1 - D
    confident = d < 0.01  # D rejects the fakes: the minimax gradient is at least 99x smaller
    assert (g_ns[confident].abs() > 99 * g_mm[confident].abs()).all()


def test_generator_and_discriminator_shapes():
    gen, disc = Generator(3, 2, hidden=8), Discriminator(2, hidden=8)
    x = gen.sample(5, torch.Generator().manual_seed(1))
    assert x.shape == (5, 2) and disc(x).shape == (5,) and ((disc.prob(x) > 0) & (disc.prob(x) < 1)).all()
    with pytest.raises(ValueError, match="Discriminator"):
        disc(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="Generator"):
        gen(torch.zeros(5, 2))
    with pytest.raises(ValueError, match=r"fake_logits must have shape \[N\]"):
        minimax_generator_loss(torch.zeros(5, 1))


def _gaussian_log_ratio(x, m1, s1, m2, s2):
    return (torch.distributions.Normal(m1, s1).log_prob(x) - torch.distributions.Normal(m2, s2).log_prob(x)).squeeze(-1)


def test_quadratic_features_span_the_gaussian_log_ratio():
    x = torch.linspace(-3, 3, 11, dtype=torch.float64)[:, None]
    phi = quadratic_features(x)
    target = _gaussian_log_ratio(x, 0.0, 1.0, 1.0, 1.5)
    coef = torch.linalg.lstsq(phi, target[:, None]).solution
    assert torch.allclose(phi @ coef[:, 0], target, atol=1e-10)
    assert quadratic_features(torch.zeros(4, 3)).shape == (4, 1 + 3 + 6)


def _band_fails(seed, n=400, grid_points=41, alpha=0.05):
    g = torch.Generator().manual_seed(seed)
    real = torch.randn(n, 1, generator=g, dtype=torch.float64)
    fake = 1.0 + 1.5 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    fit = fit_logistic(quadratic_features(real), quadratic_features(fake))
    x = torch.linspace(-2, 3, grid_points, dtype=torch.float64)[:, None]
    phi = quadratic_features(x)
    z = (fit.logit(phi) - _gaussian_log_ratio(x, 0.0, 1.0, 1.0, 1.5)) / fit.se(phi)
    return bool(z.abs().max() > bonferroni_z(alpha, grid_points))


def test_density_ratio_band_false_alarm_rate_is_at_most_nominal():
    """The simultaneous 5% band on the fitted logit fails on at most ~5% of seeds (binomial slack)."""
    seeds = 200
    fails = sum(_band_fails(s) for s in range(seeds))
    # P(Binomial(200, 0.05) >= 19) < 1%: more failures would say the band is too narrow
    assert fails <= 18, f"{fails}/{seeds} seeds outside the band"


def test_fit_logistic_refuses_separable_data():
    phi_pos = quadratic_features(torch.tensor([[2.0], [3.0]], dtype=torch.float64))
    phi_neg = quadratic_features(torch.tensor([[-2.0], [-3.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="separable|singular"):
        fit_logistic(phi_pos, phi_neg, iterations=30)


SEPARABLE = r"linearly separable.*maximum-likelihood logistic fit does not exist.*overlap.*regularised"


@pytest.mark.parametrize("pos, neg", [
    ([[1.0], [2.0], [3.0]], [[-1.0], [-2.0], [-3.0]]),                        # 1D, with a bias feature
    ([[1.0, 1.0], [2.0, 0.5], [1.5, 2.0]], [[-1.0, -1.0], [-2.0, 0.0], [0.0, -2.0]]),   # 2D
], ids=["1d", "2d"])
def test_fit_logistic_separable_classes_give_its_own_error_not_a_singular_solve(pos, neg):
    """Newton's weights diverge on separable classes until the Hessian is exactly singular: the error
    says why (no maximum-likelihood fit) and what to do, not torch.linalg's singular-matrix message."""
    def bias(x):
        return torch.cat([torch.ones(len(x), 1, dtype=torch.float64), torch.tensor(x, dtype=torch.float64)], 1)
    with pytest.raises(ValueError, match=SEPARABLE) as info:
        fit_logistic(bias(pos), bias(neg))
    assert info.value.args[0].startswith("fit_logistic")
    assert not isinstance(info.value, torch.linalg.LinAlgError)


def test_fit_logistic_separable_without_a_singular_solve_gives_the_same_error():
    """Separation seen as non-convergence (no bias feature: the weights grow, never quite saturate)."""
    with pytest.raises(ValueError, match=SEPARABLE):
        fit_logistic(torch.tensor([[1.0], [2.0]]), torch.tensor([[-1.0], [-2.0]]))


def test_fit_logistic_linearly_dependent_features_are_named_as_such():
    g = torch.Generator().manual_seed(0)
    pos, neg = torch.randn(20, 1, generator=g), torch.randn(20, 1, generator=g)
    with pytest.raises(ValueError, match=r"fit_logistic: .*linearly dependent.*rank 1 < 2"):
        fit_logistic(pos.repeat(1, 2), neg.repeat(1, 2))
