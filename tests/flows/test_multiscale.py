"""Squeeze, split and the multi-scale builder: where the numbers go, ActNorm's data-dependent init,
the L x K structure, parameter budgets, errors. (Round trip and log-det of every layer and of whole
multi-scale flows: ``test_harness.py``.)"""
import pytest
import torch

from flowlab.flows import (
    COUPLINGS,
    PERMUTATIONS,
    ActNorm,
    Compose,
    InvertibleConv1x1,
    Squeeze,
    hidden_for_budget,
    initialize_actnorm,
    multiscale_model,
    randomize_parameters,
)
from flowlab.flows.multiscale import Flatten, Split, glow_step, multiscale_flow
from flowlab.measure import count_parameters


def test_squeeze_moves_each_2x2_patch_into_channels():
    x = torch.arange(2 * 4 * 6, dtype=torch.float64).reshape(1, 2, 4, 6)
    z, logdet = Squeeze((2, 4, 6))(x)
    assert z.shape == (1, 8, 2, 3) and logdet.tolist() == [0.0]
    # channel 0's top-left patch (rows 0-1, cols 0-1) is the first pixel of channels 0..3
    assert z[0, :4, 0, 0].tolist() == [x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 0, 1, 1]]
    assert sorted(z.flatten().tolist()) == sorted(x.flatten().tolist())


@pytest.mark.parametrize("shape", [(1, 5, 4), (1, 4, 7)])
def test_squeeze_odd_size_is_a_clear_error(shape):
    with pytest.raises(ValueError, match=r"Squeeze needs an image shape \(C, H, W\) with H and W divisible by 2"):
        Squeeze(shape)


def test_squeeze_wrong_input_shape():
    with pytest.raises(ValueError, match=r"Squeeze expects input of shape \[batch, 1, 4, 4\]"):
        Squeeze((1, 4, 4))(torch.zeros(2, 3, 4, 4))


def _split(seed=1):
    g = torch.Generator().manual_seed(seed)
    inner = Compose(InvertibleConv1x1(2, lu=True, generator=g), Flatten((2, 2, 2)))
    return randomize_parameters(Split((4, 2, 2), inner, 8), 0.3, seed=0, add=True).double()


def test_split_restores_the_split_off_latents_exactly():
    split = _split()
    x = torch.randn(3, 4, 2, 2, dtype=torch.float64)
    z, _ = split(x)
    assert z.shape == (3, 16)
    assert torch.equal(z[:, :8], x[:, 2:].reshape(3, 8))  # the factored-out half is copied as is
    z_new = torch.randn(3, 16, dtype=torch.float64)
    x_new, _ = split.inverse(z_new)
    assert torch.equal(x_new[:, 2:].reshape(3, 8), z_new[:, :8])
    assert torch.allclose(split(x_new)[0], z_new, atol=1e-12)


def test_split_input_errors():
    with pytest.raises(ValueError, match=r"Split.inverse expects input of shape \[batch, 16\]"):
        _split().inverse(torch.zeros(2, 15, dtype=torch.float64))


def test_initialize_actnorm_sets_every_actnorm_from_data():
    g = torch.Generator().manual_seed(2)
    model = multiscale_model((2, 8, 8), levels=2, depth=2, hidden=8, generator=g).double()
    y = torch.rand(32, 2, 8, 8, generator=g, dtype=torch.float64) * 0.9 + 0.05
    assert initialize_actnorm(model, y) == 4  # L x K steps, one ActNorm each
    first = next(m for m in model.modules() if isinstance(m, ActNorm))
    h = model.flow[0](y)[0]  # the logit's output is what the first step's squeeze sees
    h = model.flow[1][0](h)[0]
    out = first(h)[0]
    assert torch.allclose(out.mean((0, 2, 3)), torch.zeros(8, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(out.std((0, 2, 3), unbiased=False), torch.ones(8, dtype=torch.float64), atol=1e-4)


def test_model_density_and_sampling_shapes():
    g = torch.Generator().manual_seed(3)
    model = multiscale_model((1, 8, 8), levels=2, depth=1, hidden=8, generator=g)
    y = torch.rand(16, 1, 8, 8, generator=g)
    initialize_actnorm(model, y)
    assert model.log_prob(y).shape == (16,)
    samples = model.sample(5, generator=g)
    assert samples.shape == (5, 1, 8, 8) and torch.isfinite(samples).all()
    assert ((samples > -0.1) & (samples < 1.1)).all()  # the logit's inverse lands near [0, 1]


def test_steps_are_actnorm_permutation_coupling():
    for permutation, expected in (("conv", "InvertibleConv1x1"), ("reverse", "ReversePermutation"),
                                  ("shuffle", "RandomPermutation")):
        step = glow_step(4, 8, permutation, "additive")
        assert [type(layer).__name__ for layer in step] == ["ActNorm", expected, "AdditiveCoupling"]


def test_levels_and_depth():
    flow = multiscale_flow((1, 8, 8), levels=3, depth=2, hidden=4)
    names = [type(m).__name__ for m in flow.modules()]
    assert names.count("Squeeze") == 3 and names.count("Split") == 2 and names.count("Flatten") == 1
    assert names.count("ActNorm") == 3 * 2  # L levels of K = depth steps


@pytest.mark.parametrize("build", [lambda **kw: multiscale_model(hidden=4, **kw),
                                   lambda **kw: hidden_for_budget(1000, **kw)], ids=["multiscale_model", "budget"])
def test_builder_errors(build):
    """The public builders check the architecture once; the pieces they build trust it."""
    arch = dict(shape=(1, 8, 8), levels=1, depth=1, permutation="conv", coupling="affine")
    for bad, error, message in [(dict(shape=(1, 12, 12), levels=3), ValueError, "divisible by 8"),
                                (dict(permutation="1x1"), ValueError, "unknown permutation"),
                                (dict(coupling="spline"), ValueError, "unknown coupling"),
                                (dict(shape=(8, 8)), ValueError, "image shape"),
                                (dict(levels=0), ValueError, "levels must be a positive integer"),
                                (dict(depth=1.0), TypeError, "depth must be an integer")]:
        with pytest.raises(error, match=message):
            build(**{**arch, **bad})
    flow = multiscale_model((1, 8, 8), levels=2, depth=1, hidden=4).flow
    with pytest.raises(ValueError, match=r"Compose expects input of shape \[batch, 1, 8, 8\]"):
        flow(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"FlowModel\.log_prob expects input of shape \[batch, 1, 8, 8\]"):
        multiscale_model((1, 8, 8), levels=2, depth=1, hidden=4).log_prob(torch.zeros(2, 3, 8, 8))


def test_hidden_for_budget_matches_parameter_counts():
    shape, budget = (1, 8, 8), count_parameters(multiscale_flow((1, 8, 8), 2, 2, 32, "conv", "affine"))
    for perm in PERMUTATIONS:
        for coup in COUPLINGS:
            h = hidden_for_budget(budget, shape, 2, 2, perm, coup)
            n = count_parameters(multiscale_flow(shape, 2, 2, h, perm, coup))
            assert abs(n - budget) / budget < 0.05, (perm, coup, h, n, budget)
