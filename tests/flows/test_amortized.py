"""Amortized flows: per-sample log-dets against autograd's Jacobian (float64), the same map as the
shared-parameter layers, orthonormal Q for O-/H-SNF, permutations for T-SNF, IAF contexts, errors."""
import pytest
import torch

from flowlab.flows import (
    AMORTIZED_FLOWS,
    AmortizedIAF,
    AmortizedSylvester,
    PlanarFlow,
    SylvesterFlow,
    amortized_flow,
    householder_q,
    orthogonalize,
    planar_map,
    planar_u_hat,
    randomize_parameters,
    sylvester_map,
    triangle,
)

F64 = torch.float64
OPTIONS = {"planar": {}, "iaf": {"hidden": 12}, "orthogonal": {"hidden": 3, "orthogonalize_steps": 200},
           "householder": {"reflections": 3}, "triangular": {}}


def _flow(kind, seed, features=5, num_flows=3, context=7):
    g = torch.Generator().manual_seed(seed)
    flow = amortized_flow(kind, features, num_flows, context, **OPTIONS[kind]).double()
    randomize_parameters(flow, 0.4, generator=g)
    return flow, g


def _autograd_logdets(flow, z, raw):
    out = []
    for i in range(z.shape[0]):
        one = {k: v[i:i + 1] for k, v in raw.items()}
        jac = torch.autograd.functional.jacobian(lambda v, one=one: flow.transform(v[None], one)[0][0], z[i])
        out.append(torch.linalg.slogdet(jac)[1])
    return torch.stack(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", AMORTIZED_FLOWS)
def test_per_sample_logdet_is_the_jacobian(kind, seed):
    flow, g = _flow(kind, seed)
    h = torch.randn(6, 7, generator=g, dtype=F64)
    z = 1.5 * torch.randn(6, 5, generator=g, dtype=F64)
    raw = flow.raw_parameters(h)
    z_k, logdet = flow.transform(z, raw)
    expected = _autograd_logdets(flow, z, raw)
    tol = 1e-6 if kind == "orthogonal" else 1e-10  # O-SNF: Q is orthonormal to the iteration's tolerance
    assert torch.allclose(logdet, expected, atol=tol)
    assert expected.abs().max() > 1e-3 and (z_k - z).abs().max() > 1e-3  # not the identity
    # every sample has its own map: the same z under another datapoint's parameters moves elsewhere
    swapped = {k: v.flip(0) for k, v in raw.items()}
    assert (flow.transform(z, swapped)[0] - z_k).abs().max() > 1e-3


def test_planar_map_per_sample_equals_the_layer_row_by_row():
    g = torch.Generator().manual_seed(3)
    layers = [randomize_parameters(PlanarFlow(4).double(), 0.8, generator=g) for _ in range(5)]
    z = torch.randn(5, 4, generator=g, dtype=F64)
    u_hat = torch.stack([planar_u_hat(f.u, f.w) for f in layers])
    w = torch.stack([f.w for f in layers])
    b = torch.stack([f.b for f in layers])
    out, logdet = planar_map(z, u_hat, w, b)
    for i, f in enumerate(layers):
        ref, ref_ld = f.inverse(z[i:i + 1])
        assert torch.allclose(out[i], ref[0], atol=1e-14) and torch.allclose(logdet[i], ref_ld[0], atol=1e-14)


def test_sylvester_map_per_sample_equals_the_householder_layer():
    g = torch.Generator().manual_seed(4)
    layers = [randomize_parameters(SylvesterFlow(5, 3).double(), 0.8, generator=g) for _ in range(4)]
    z = torch.randn(4, 5, generator=g, dtype=F64)
    q = torch.stack([f.q() for f in layers])
    r, r_tilde = (torch.stack(t) for t in zip(*[f.triangles() for f in layers]))
    b = torch.stack([f.b for f in layers])
    out, logdet = sylvester_map(z, q, r, r_tilde, b)
    for i, f in enumerate(layers):
        ref, ref_ld = f.inverse(z[i:i + 1])
        assert torch.allclose(out[i], ref[0], atol=1e-13) and torch.allclose(logdet[i], ref_ld[0], atol=1e-13)


def test_q_constructions_are_orthonormal_and_triangles_keep_invertibility():
    g = torch.Generator().manual_seed(5)
    v = torch.randn(7, 4, 6, generator=g, dtype=F64)              # 7 matrices, 4 reflections each, m = 6
    q = householder_q(v, 6)
    assert torch.allclose(q.transpose(-1, -2) @ q, torch.eye(6, dtype=F64).expand(7, 6, 6), atol=1e-13)
    a = torch.randn(7, 6, 3, generator=g, dtype=F64) * 10
    q = orthogonalize(a, max_steps=500, tol=1e-13)
    assert torch.allclose(q.transpose(-1, -2) @ q, torch.eye(3, dtype=F64).expand(7, 3, 3), atol=1e-12)
    # the orthogonalization keeps the column space (the polar factor of the scaled matrix)
    proj = q @ q.transpose(-1, -2)
    assert torch.allclose(proj @ a, a, atol=1e-9)
    r = triangle(torch.randn(7, 4, 4, generator=g, dtype=F64) * 5, torch.randn(7, 4, generator=g, dtype=F64) * 5)
    assert torch.equal(r, torch.triu(r)) and bool((torch.diagonal(r, dim1=-2, dim2=-1).abs() < 1).all())


def test_triangular_alternates_identity_and_reversal():
    flow = AmortizedSylvester(4, 2, 3, kind="triangular")
    assert torch.equal(flow.permutations[0], torch.eye(4))
    assert torch.equal(flow.permutations[1], torch.eye(4).flip(0))


def test_iaf_context_enters_and_the_map_stays_triangular():
    flow, g = _flow("iaf", 9)
    h = torch.randn(2, 7, generator=g, dtype=F64)
    raw = flow.raw_parameters(h)
    z = torch.randn(1, 5, generator=g, dtype=F64).expand(2, 5)
    out, _ = flow.transform(z, raw)
    assert (out[0] - out[1]).abs().max() > 1e-3   # the same z, two contexts, two maps
    layer = flow.layers[0]                        # natural order: dx_t/dz_s = 0 for s > t
    jac = torch.autograd.functional.jacobian(lambda v: layer.inverse(v[None], context=raw["context"][:1])[0][0],
                                             z[0])
    assert torch.allclose(torch.triu(jac, 1), torch.zeros_like(jac))
    fresh = AmortizedIAF(5, 2, 7, hidden=12).double()
    assert torch.allclose(fresh.transform(z, fresh.raw_parameters(h))[0], z)  # starts at the identity


def test_errors_name_the_caller():
    flow = amortized_flow("planar", 3, 2, 4)
    raw = flow.raw_parameters(torch.randn(5, 4))
    with pytest.raises(ValueError, match="AmortizedPlanar.transform"):
        flow.transform(torch.randn(5, 3), {"u": raw["u"]})
    with pytest.raises(ValueError, match="AmortizedPlanar.transform: raw parameter 'b'"):
        flow.transform(torch.randn(5, 3), {**raw, "b": raw["b"][:4]})
    with pytest.raises(ValueError, match="AmortizedPlanar.raw_parameters"):
        flow.raw_parameters(torch.randn(5, 3))
    with pytest.raises(ValueError, match="unknown amortized flow"):
        amortized_flow("radial", 3, 2, 4)
    with pytest.raises(ValueError, match="hidden"):
        AmortizedSylvester(3, 2, 4, kind="orthogonal", hidden=5)
    with pytest.raises(ValueError, match="planar_map expects b"):
        planar_map(torch.randn(4, 3), torch.randn(3), torch.randn(3), torch.randn(2))
    with pytest.raises(ValueError, match="sylvester_map expects q"):
        sylvester_map(torch.randn(4, 3), torch.randn(3, 4), torch.randn(4, 4), torch.randn(4, 4), torch.randn(4))
    with pytest.raises(ValueError, match="orthogonalize expects"):
        orthogonalize(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="householder_q: columns"):
        householder_q(torch.randn(2, 3), 4)
