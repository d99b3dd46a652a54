"""The divergences a CNF integrates (estimators.trace): exact, Hutchinson and bottleneck, per sample."""
import pytest
import torch

from flowlab.estimators import field_jacobian
from flowlab.estimators.trace import divergence_bottleneck, divergence_exact, divergence_hutchinson, draw_probes
from flowlab.nn import TimeConcatMLP


def random_field(d=4, hidden=(8,), seed=3, scale=0.5):
    torch.manual_seed(seed)
    f = TimeConcatMLP(d, hidden)
    for p in f.parameters():
        p.data.normal_(0, scale)
    return f.double()


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
def test_hutchinson_divergence_unbiased(kind):
    f = random_field()
    t = torch.tensor(0.3, dtype=torch.float64)
    z0 = torch.randn(1, 4, dtype=torch.float64)
    n = 4000
    z = z0.expand(n, 4)
    _, exact = divergence_exact(lambda v: f(t, v), z0)
    assert torch.allclose(exact, torch.diagonal(field_jacobian(f, t, z0), dim1=1, dim2=2).sum(1))
    g = torch.Generator().manual_seed(0)
    _, est = divergence_hutchinson(lambda v: f(t, v), z, draw_probes(z.shape, kind, g, dtype=z.dtype))
    se = est.std() / n ** 0.5
    assert abs(est.mean() - exact[0]) < 3 * se
    _, est_b = divergence_bottleneck(lambda v: f.encode(t, v), lambda h: f.decode(t, h), z,
                                     draw_probes((n, 8), kind, g, dtype=z.dtype))
    assert abs(est_b.mean() - exact[0]) < 3 * est_b.std() / n ** 0.5


def test_divergences_return_the_field_and_are_differentiable_only_in_grad_mode():
    f = random_field(d=3)
    t = torch.tensor(0.5, dtype=torch.float64)
    z = torch.randn(5, 3, dtype=torch.float64)
    probe = draw_probes(z.shape, "rademacher", torch.Generator().manual_seed(1), dtype=z.dtype)
    for out, div in (divergence_exact(lambda v: f(t, v), z), divergence_hutchinson(lambda v: f(t, v), z, probe)):
        assert torch.equal(out, f(t, z).detach()) and div.shape == (5,)
        assert div.requires_grad  # grad mode on: a CNF trains through its divergence
    with torch.no_grad():
        out, div = divergence_exact(lambda v: f(t, v), z)
    assert not out.requires_grad and not div.requires_grad
