"""Amortized flows: per-sample log-dets against autograd's Jacobian (float64), the same map as the
shared-parameter layers, orthonormal Q for O-/H-SNF (per sample, whatever the batch), permutations for
T-SNF, IAF contexts, errors of the raw parameters."""
import pytest
import torch

from flowlab.flows import PlanarFlow, SylvesterFlow, planar_u_hat, randomize_parameters
from flowlab.flows.amortized import AMORTIZED_FLOWS, AmortizedIAF, AmortizedSylvester, amortized_flow
from flowlab.flows.planar import planar_map
from flowlab.flows.sylvester import householder_q, orthogonalize, sylvester_map, triangle

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
    assert torch.allclose(logdet, expected, atol=1e-10)  # O-SNF too: Q is orthonormal to working precision
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
    q = orthogonalize(a)
    assert torch.allclose(q.transpose(-1, -2) @ q, torch.eye(3, dtype=F64).expand(7, 3, 3), atol=1e-14, rtol=0)
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


def test_raw_parameter_errors_name_the_transform():
    """check_raw is the one check of raw parameters (the VAE posterior runs it on the raw parameters it
    is given); the heads' outputs and the maps trust what they get."""
    flow = amortized_flow("planar", 3, 2, 4)
    raw = flow.raw_parameters(torch.randn(5, 4))
    with pytest.raises(ValueError, match=r"AmortizedPlanar.transform expects raw parameters \['b', 'u', 'w'\]"):
        flow.check_raw(torch.randn(5, 3), {"u": raw["u"]})
    with pytest.raises(ValueError, match="AmortizedPlanar.transform: raw parameter 'b' has 4 rows for 5 samples"):
        flow.check_raw(torch.randn(5, 3), {**raw, "b": raw["b"][:4]})
    with pytest.raises(ValueError, match=r"AmortizedPlanar.transform \(its raw parameter 'w'\) got non-finite"):
        flow.check_raw(torch.randn(5, 3), {**raw, "w": raw["w"] * float("nan")})
    with pytest.raises(ValueError, match=r"AmortizedPlanar.transform \(its z\) expects input of shape \[batch, 3\]"):
        flow.check_raw(torch.randn(5, 4), raw)
    with pytest.raises(ValueError, match=r"AmortizedSylvester needs hidden <= features \(M <= m\), got 5 > 3"):
        AmortizedSylvester(3, 2, 4, kind="orthogonal", hidden=5)
    with pytest.raises(TypeError, match="AmortizedSylvester: reflections must be an integer"):
        AmortizedSylvester(3, 2, 4, reflections=2.0)


# ----------------------------------------------------------- O-SNF: orthogonalization per sample (issue #17)
def _osnf(seed, features=6, hidden=4, num_flows=3, context=5):
    g = torch.Generator().manual_seed(seed)
    flow = AmortizedSylvester(features, num_flows, context, kind="orthogonal", hidden=hidden).double()
    with torch.no_grad():  # spread the raw Q's conditioning: their iterations need different step counts
        for p in flow.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=F64))
    h = torch.randn(16, context, generator=g, dtype=F64) * torch.logspace(-1, 1, 16, dtype=F64)[:, None]
    return flow, flow.raw_parameters(h), 1.5 * torch.randn(16, features, generator=g, dtype=F64)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_orthogonal_sylvester_sample_does_not_depend_on_its_batch(seed):
    """A sample's map is its own: evaluated alone, or with 15 other random samples, the same output and
    log-det (the iterative orthogonalization stopped at a batch-wide tolerance: up to ~1e-7 apart)."""
    flow, raw, z = _osnf(seed)
    with torch.no_grad():
        z_all, ld_all = flow.transform(z, raw)
        for i in range(len(z)):
            z_i, ld_i = flow.transform(z[i:i + 1], {k: v[i:i + 1] for k, v in raw.items()})
            assert (z_i[0] - z_all[i]).abs().max() < 1e-12 and abs(ld_i[0] - ld_all[i]) < 1e-12, i


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_orthogonal_sylvester_logdet_is_that_of_the_map_it_applies(seed):
    """log|det| of the map actually applied (autograd's Jacobian, float64), to 1e-10: the Q used is
    orthonormal to working precision, as the triangular log-det formula assumes (it was only to 1e-6)."""
    flow, raw, z = _osnf(seed)
    _, logdet = flow.transform(z, raw)
    assert torch.allclose(logdet, _autograd_logdets(flow, z, raw), atol=1e-10, rtol=0)
    q = orthogonalize(raw["q"], flow.orthogonalize_steps)
    assert (q.transpose(-1, -2) @ q - torch.eye(q.shape[-1], dtype=F64)).abs().max() < 1e-13


def test_orthogonalize_matches_the_polar_factor():
    """The iteration converges to the orthogonal polar factor U V^T of the scaled matrix, per matrix."""
    g = torch.Generator().manual_seed(11)
    a = torch.randn(9, 7, 3, generator=g, dtype=F64) * torch.logspace(-2, 2, 9, dtype=F64)[:, None, None]
    u, _, vh = torch.linalg.svd(a, full_matrices=False)
    assert torch.allclose(orthogonalize(a), u @ vh, atol=1e-12, rtol=0)
    assert all(torch.allclose(orthogonalize(a[i]), orthogonalize(a)[i], atol=1e-15, rtol=0) for i in range(len(a)))
