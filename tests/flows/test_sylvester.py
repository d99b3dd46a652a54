"""Sylvester flows: the determinant identity, the triangular inverse, errors. (Round trip and forward
log-det vs autograd: ``test_harness.py``.)"""
import pytest
import torch

from flowlab.flows import SylvesterFlow, autograd_logdet, dense_logdet, sylvester_logdet


def _random(flow, gen):
    with torch.no_grad():
        for p in flow.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return flow


@pytest.mark.parametrize("m,d", [(6, 2), (9, 9), (20, 3)])
def test_sylvester_identity_on_random_matrices(m, d):
    gen = torch.Generator().manual_seed(m * d)
    a = torch.randn(m, d, generator=gen, dtype=torch.float64)
    b = torch.randn(d, m, generator=gen, dtype=torch.float64)
    hp = torch.rand(16, d, generator=gen, dtype=torch.float64)
    assert torch.allclose(sylvester_logdet(a, b, hp), dense_logdet(a, b, hp), atol=1e-10)
    # and plain det(I_m + AB) = det(I_d + BA), signs included
    assert torch.allclose(torch.linalg.det(torch.eye(m, dtype=torch.float64) + a @ b),
                          torch.linalg.det(torch.eye(d, dtype=torch.float64) + b @ a), rtol=1e-9)


@pytest.mark.parametrize("m,d", [(2, 2), (5, 3), (4, 1)])
def test_sylvester_back_substitution_inverts_g(m, d):
    gen = torch.Generator().manual_seed(100 + m + d)
    flow = _random(SylvesterFlow(m, d).double(), gen)
    x = 2 * torch.randn(48, m, generator=gen, dtype=torch.float64)
    z, _ = flow(x)  # triangular back-substitution ...
    assert (flow.inverse(z)[0] - x).abs().max() < 1e-12  # ... against the closed-form g


def test_sylvester_q_is_orthonormal_and_inverse_logdet_matches_autograd():
    gen = torch.Generator().manual_seed(7)
    flow = _random(SylvesterFlow(6, 4).double(), gen)
    q = flow.q()
    assert torch.allclose(q.T @ q, torch.eye(4, dtype=torch.float64), atol=1e-12)
    z = torch.randn(30, 6, generator=gen, dtype=torch.float64)
    _, ld = flow.inverse(z)
    assert torch.allclose(ld, autograd_logdet(lambda v: flow.inverse(v)[0], z), atol=1e-10)
    # The diagonal formula equals the general d x d Sylvester determinant with A = QR, B = R~Q^T.
    r, rt = flow.triangles()
    hp = 1 - torch.tanh((z @ q) @ rt.T + flow.b) ** 2
    assert torch.allclose(ld, sylvester_logdet(q @ r, rt @ q.T, hp), atol=1e-10)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="hidden <= features"):
        SylvesterFlow(3, 5)
    with pytest.raises(ValueError, match="SylvesterFlow: features must be a positive integer"):
        SylvesterFlow(0)
    with pytest.raises(TypeError, match="SylvesterFlow: reflections must be an integer"):
        SylvesterFlow(3, reflections=1.5)
    with pytest.raises(ValueError, match=r"expects input of shape \[batch, 4\]"):
        SylvesterFlow(4, 2)(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"sylvester_logdet: b must have shape \[d, m\] \(d = 2, m = 4"):
        sylvester_logdet(torch.zeros(4, 2), torch.zeros(3, 4), torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"sylvester_logdet: hprime must have shape \[B, d\] \(B = 1, d = 2"):
        sylvester_logdet(torch.zeros(4, 2), torch.zeros(2, 4), torch.zeros(1, 3))
