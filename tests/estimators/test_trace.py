"""Trace estimators against exact answers in small dimensions (float64, fixed seeds)."""
import pytest
import torch
from torch.func import jacrev, vmap

from flowlab.estimators import (
    as_operator,
    exact_trace,
    hutch_plus_plus,
    hutchinson_samples,
    hutchinson_variance,
    integrated_jacobian,
)
from flowlab.estimators.trace import Operator, divergence_bottleneck, draw_probes, hutchinson_trace
from flowlab.measure import bonferroni_z, quadratic_form_z

D = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _field(m=4, seed=1):
    g = _gen(seed)
    W1 = torch.randn(16, m, generator=g, dtype=D)
    W2 = torch.randn(m, 16, generator=g, dtype=D) / 4
    return lambda x: torch.tanh(x @ W1.T) @ W2.T


def test_exact_trace_all_forms():
    g = _gen()
    A = torch.randn(6, 6, generator=g, dtype=D)
    for method in ("vjp", "vmap"):
        assert torch.allclose(exact_trace(A, method=method), A.trace(), atol=1e-12)
        assert torch.allclose(exact_trace(lambda v: v @ A.T, dim=6, method=method), A.trace(), atol=1e-12)
    f = _field()
    x = torch.randn(5, 4, generator=g, dtype=D)
    J = vmap(jacrev(f))(x)
    want = torch.diagonal(J, dim1=-2, dim2=-1).sum(-1)
    op = as_operator(f, x)
    assert torch.allclose(exact_trace(op), want, atol=1e-12)
    assert op.products == 4  # one VJP per dimension, whatever the batch size
    assert torch.allclose(exact_trace(f, x[0], method="vmap"), want[0], atol=1e-12)


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_hutchinson_unbiased_and_variance_formula(noise):
    f = _field()
    x = torch.randn(3, 4, generator=_gen(2), dtype=D)
    J = vmap(jacrev(f))(x)
    n = 20000
    s = hutchinson_samples(f, x, probes=n, noise=noise, generator=_gen(3))
    assert s.shape == (n, 3)
    tr = torch.diagonal(J, dim1=-2, dim2=-1).sum(-1)
    var = hutchinson_variance(J, noise)
    # z-scores against the exact law of the mean and sample variance (flowlab.measure.bands),
    # 1% false-alarm rate over the 6 of them
    z_mean, z_var = quadratic_form_z(s, J, noise, center=tr, variance=var)
    band = bonferroni_z(0.01, 6)
    assert abs(z_mean).max() < band and abs(z_var).max() < band, (z_mean, z_var)


def test_variance_formula_can_fail_and_rademacher_is_exact_on_diagonal():
    A = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=D))
    assert hutchinson_variance(A, "rademacher") == 0
    s = hutchinson_samples(A, probes=50, noise="rademacher", generator=_gen())
    assert torch.allclose(s, torch.full_like(s, 6.0))
    assert hutchinson_variance(A, "gaussian") == 2 * 14
    # a wrong formula (Gaussian's, for Rademacher probes) is detected by the same band
    B = torch.randn(4, 4, generator=_gen(5), dtype=D) + 3 * torch.eye(4, dtype=D)
    s = hutchinson_samples(B, probes=20000, noise="rademacher", generator=_gen(6))
    _, z_var = quadratic_form_z(s, B, "rademacher", variance=hutchinson_variance(B, "gaussian"))
    assert abs(z_var) > 4
    # S, not A: the antisymmetric part does not count
    K = torch.tensor([[0.0, 5.0], [-5.0, 0.0]], dtype=D)
    assert hutchinson_variance(K, "gaussian") == 0


def test_hutchinson_trace_mean_and_generator_determinism():
    A = torch.randn(5, 5, generator=_gen(7), dtype=D)
    a = hutchinson_trace(A, probes=10, noise="gaussian", generator=_gen(8))
    b = hutchinson_trace(A, probes=10, noise="gaussian", generator=_gen(8))
    assert torch.equal(a, b)
    r = draw_probes((10000,), "rademacher", _gen())
    assert set(r.unique().tolist()) == {-1.0, 1.0}


def test_hutch_plus_plus_unbiased_and_better_on_decaying_spectrum():
    g = _gen(9)
    m = 60
    Q, _ = torch.linalg.qr(torch.randn(m, m, generator=g, dtype=D))
    A = Q @ torch.diag(1.0 / torch.arange(1, m + 1, dtype=D) ** 2) @ Q.T
    tr = A.trace()
    n = 400
    hpp = torch.stack([hutch_plus_plus(A, matvecs=12, noise="gaussian", generator=g) for _ in range(n)])
    hut = torch.stack([hutchinson_trace(A, probes=12, noise="gaussian", generator=g) for _ in range(n)])
    assert abs(hpp.mean() - tr) < 4 * hpp.std() / n ** 0.5
    assert ((hpp - tr) ** 2).mean() < 0.1 * ((hut - tr) ** 2).mean()
    # exact once the sketch spans the whole space
    assert torch.allclose(hutch_plus_plus(A[:4, :4], matvecs=12, generator=g), A[:4, :4].trace(), atol=1e-12)
    # on a function's Jacobian, batched
    f = _field()
    x = torch.randn(2, 4, generator=g, dtype=D)
    est = torch.stack([hutch_plus_plus(f, x, matvecs=3, generator=g) for _ in range(1000)])
    J = vmap(jacrev(f))(x)
    want = torch.diagonal(J, dim1=-2, dim2=-1).sum(-1)
    assert ((est.mean(0) - want).abs() < 4 * est.std(0) / 1000 ** 0.5).all()


def test_bottleneck_trick_unbiased_lower_variance():
    g = _gen(10)
    Dm, H = 12, 3
    Wh = torch.randn(H, Dm, generator=g, dtype=D)
    Wg = torch.randn(Dm, H, generator=g, dtype=D)
    def h(x):
        return torch.tanh(x @ Wh.T)
    def gfn(u):
        return torch.tanh(u) @ Wg.T
    x = torch.randn(Dm, generator=g, dtype=D)
    def f(x):
        return gfn(h(x))
    tr = exact_trace(f, x)
    n = 20000
    # the CNF's bottleneck divergence, one probe per row of n copies of x: n draws of eps^T J_h J_g eps
    probes = draw_probes((n, H), "gaussian", g, dtype=D)
    _, s = divergence_bottleneck(h, gfn, x.expand(n, Dm), probes)
    full = hutchinson_samples(f, x, probes=n, noise="gaussian", generator=g)
    small = jacrev(h)(x) @ jacrev(gfn)(h(x))
    assert abs(s.mean() - tr) < 4 * s.std() / n ** 0.5
    _, z_var = quadratic_form_z(s, small, "gaussian", variance=hutchinson_variance(small, "gaussian"))
    assert abs(z_var) < bonferroni_z(0.01, 1)
    assert s.var() < full.var()


def test_bad_inputs_raise_clear_errors():
    A = torch.eye(3, dtype=D)
    with pytest.raises(ValueError, match="square"):
        exact_trace(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="noise"):
        hutchinson_samples(A, probes=2, noise="uniform", generator=_gen())
    with pytest.raises(TypeError, match="Generator"):
        hutchinson_samples(A, probes=2, generator=None)
    with pytest.raises(ValueError, match="probes"):
        hutchinson_samples(A, probes=0, generator=_gen())
    with pytest.raises(ValueError, match="either the point x"):
        exact_trace(lambda v: v)
    with pytest.raises(ValueError, match="same shape"):
        exact_trace(lambda x: x[:2], torch.zeros(3, dtype=D))
    with pytest.raises(ValueError, match="multiple of 3"):
        hutch_plus_plus(A, matvecs=4, generator=_gen())
    with pytest.raises(ValueError, match="<= dimension 3"):
        hutch_plus_plus(A, matvecs=12, generator=_gen())
    with pytest.raises(ValueError, match="method"):
        exact_trace(A, method="qr")
    with pytest.raises(ValueError, match="neither"):
        exact_trace(as_operator(A), dim=3)
    assert isinstance(as_operator(A), Operator)


def test_integrated_jacobian_linear_field_and_fixed_probe_identity():
    g = _gen(11)
    A = torch.randn(3, 3, generator=g, dtype=D)
    x = torch.randn(4, 3, generator=g, dtype=D)
    M = integrated_jacobian(lambda t, z: z @ A.T, x, 0.0, 0.5, method="rk4", options={"step_size": 0.1})
    assert torch.allclose(M, 0.5 * A.expand(4, 3, 3), atol=1e-12)
    # nonlinear field: the fixed-probe integral of eps^T J eps equals eps^T M eps on the same grid
    W = torch.randn(3, 3, generator=g, dtype=D)
    def field(t, z):
        return torch.tanh(z @ W.T) * (1 + t)
    eps = torch.randn(4, 3, generator=g, dtype=D)
    from torchdiffeq import odeint

    def rhs(t, state):
        z, _ = state
        _, quad = torch.func.jvp(lambda v: field(t, v), (z,), (eps,))
        return field(t, z), (quad * eps).sum(-1)

    opts = dict(method="rk4", options={"step_size": 0.25})
    ell = odeint(rhs, (x, torch.zeros(4, dtype=D)), torch.tensor([0.0, 1.0], dtype=D), **opts)[1][-1]
    M = integrated_jacobian(field, x, 0.0, 1.0, **opts)
    assert torch.allclose(ell, torch.einsum("bi,bij,bj->b", eps, M, eps), atol=1e-12)
    with pytest.raises(ValueError, match=r"integrated_jacobian \(its x\) expects input of shape \[batch, \*\]"):
        integrated_jacobian(field, x[0])


def test_bottleneck_jacobian_has_the_trace_of_the_fields_jacobian():
    """tr(J_h J_g) = tr(J_g J_h) = tr(∂f/∂z) for f = g ∘ h: the bottleneck trick changes the probe's
    dimension (H = 3 here, D = 5), not the trace."""
    from flowlab.estimators import bottleneck_jacobian, field_jacobian
    from flowlab.nn import TimeConcatMLP

    torch.manual_seed(0)
    field = TimeConcatMLP(5, hidden=(3, 7), activation="tanh").double()
    z, t = torch.randn(4, 5, dtype=torch.float64), torch.tensor(0.3, dtype=torch.float64)
    small = bottleneck_jacobian(field, t, z)
    assert small.shape == (4, 3, 3)
    full = field_jacobian(field, t, z)
    assert torch.allclose(torch.diagonal(small, dim1=1, dim2=2).sum(-1), torch.diagonal(full, dim1=1, dim2=2).sum(-1),
                          atol=1e-12, rtol=0)
