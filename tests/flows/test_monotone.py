import math

import pytest
import torch

from flowlab.flows import invert_increasing

D = torch.float64


def test_inverts_a_cdf_to_the_bracket_width_after_k_halvings():
    """The normal CDF's inverse, against torch's closed form: after k halvings of [-20, 20] the midpoint
    lies within 40 / 2^(k+1) of the root (and at k = 60 at the root to rounding).

    u stays in [1e-6, 1 - 1e-6]: there the density is >= 4.7e-6, so the CDF's rounding (~1.1e-16 near 1)
    moves the root by at most ~2.4e-11, well inside the 1e-9 asserted, whatever u the seed draws."""
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=D), torch.tensor(1.0, dtype=D))
    u = torch.rand(1000, generator=torch.Generator().manual_seed(0), dtype=D).clamp(1e-6, 1 - 1e-6)
    exact = normal.icdf(u)
    for k in (5, 20):
        assert (invert_increasing(normal.cdf, u, -20.0, 20.0, k) - exact).abs().max() <= 40 / 2 ** (k + 1)
    assert torch.allclose(invert_increasing(normal.cdf, u, -20.0, 20.0), exact, atol=1e-9, rtol=0)


def test_elementwise_brackets_and_a_bimodal_mixture():
    weights, means, stds = torch.tensor([0.6, 0.4], dtype=D), torch.tensor([-2.0, 1.5], dtype=D), \
        torch.tensor([0.5, 0.4], dtype=D)

    def cdf(x):
        return (weights * torch.distributions.Normal(means, stds).cdf(x[..., None])).sum(-1)

    x = torch.linspace(-3.5, 3.0, 50, dtype=D)
    back = invert_increasing(cdf, cdf(x), x - 1.0, x + 1.0, 60)  # a bracket per element
    assert torch.allclose(back, x, atol=1e-9, rtol=0)
    assert math.isclose(float(invert_increasing(torch.tanh, torch.tensor([0.5], dtype=D), -5.0, 5.0)),
                        math.atanh(0.5), abs_tol=1e-12)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="invert_increasing: f must be callable"):
        invert_increasing(3, torch.zeros(2), 0.0, 1.0)
    with pytest.raises(ValueError, match="invert_increasing.*non-finite"):
        invert_increasing(torch.tanh, torch.tensor([math.nan]), 0.0, 1.0)
