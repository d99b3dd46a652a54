"""flowlab.models.zoo: the Jacobian classifier on maps of known structure, and every family's
measurements on small instances."""
import pytest
import torch

from flowlab.models import FAMILIES, block_structures, free_form, likelihood_kind, sampling_costs
from flowlab.models.zoo import jacobian_structure

D = torch.float64
POINTS = torch.randn(3, 4, generator=torch.Generator().manual_seed(0), dtype=D)
A = torch.randn(4, 4, generator=torch.Generator().manual_seed(1), dtype=D)
U, W = torch.randn(4, dtype=D), torch.randn(4, dtype=D)


@pytest.mark.parametrize("fn, expected", [
    (lambda v: v * torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=D) + v ** 3, "diagonal"),
    (lambda v: A @ v, "constant (linear)"),
    (lambda v: torch.stack([v[0] + v[2] ** 2, v[1], v[2] * v[1], v[3] + torch.sin(v[0])]),  # 1 -> 2 -> 0 -> 3
     "triangular (after a permutation)"),
    (lambda v: v + U * torch.tanh(W @ v), "identity + rank 1"),
    (lambda v: torch.tanh(A @ v) + v, "free-form"),
])
def test_jacobian_structure(fn, expected):
    assert jacobian_structure(fn, POINTS)["structure"] == expected


def test_a_cycle_is_not_triangular():
    def fn(v):
        return torch.stack([v[0] * v[1], v[1] + v[2] ** 2, v[2] * v[0], v[3]])   # 0 -> 1 -> 2 -> 0
    assert jacobian_structure(fn, POINTS)["structure"] != "triangular (after a permutation)"


def test_non_square_maps_report_their_rank():
    out = jacobian_structure(lambda z: torch.tanh(torch.ones(5, 2, dtype=D) @ z + z.sum()), POINTS[:, :2])
    assert out["structure"] == "free-form" and out["rank"] == 1 and out["shape"] == [5, 2]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_builds_and_samples(name):
    family = FAMILIES[name]
    model = family.make(4)
    x = family.sample(model, 5, torch.Generator().manual_seed(0))
    assert x.reshape(5, -1).shape == (5, 4)
    assert all("structure" in s for s in block_structures(family, 4, points=2).values())


def test_sampling_passes_grow_with_d_only_for_maf():
    maf = sampling_costs(FAMILIES["MAF"], [4, 8], repeats=1)["passes"]
    nvp = sampling_costs(FAMILIES["RealNVP"], [4, 8], repeats=1)["passes"]
    assert maf == [2 * 4, 2 * 8] and nvp[0] == nvp[1]


def test_likelihood_kinds():
    assert likelihood_kind(FAMILIES["RealNVP"])["kind"] == "exact"
    assert likelihood_kind(FAMILIES["GAN"])["kind"] == "none"
    assert likelihood_kind(FAMILIES["residual flow"], repeats=50)["kind"] == "unbiased estimate"
    assert free_form(block_structures(FAMILIES["VAE"])["decoder z -> logits"])


def test_bad_inputs():
    with pytest.raises(TypeError, match="Family"):
        sampling_costs("MAF", [4])
    with pytest.raises(ValueError, match="dimension"):
        sampling_costs(FAMILIES["MAF"], [1])
    with pytest.raises(TypeError, match="callable"):
        jacobian_structure(None, POINTS)
    with pytest.raises(ValueError, match="d"):
        likelihood_kind(FAMILIES["MAF"], 1)
