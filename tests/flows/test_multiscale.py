"""Squeeze, split and the multi-scale builder: harness on every layer and on a whole Glow, errors."""
import math

import pytest
import torch

from flowlab.flows.base import Compose
from flowlab.flows.glow import ActNorm, InvertibleConv1x1
from flowlab.flows.multiscale import (COUPLINGS, PERMUTATIONS, Flatten, Split, Squeeze, count_parameters,
                                      fit_image_flow, glow_step, hidden_for_budget, initialize_actnorm,
                                      multiscale_flow, multiscale_model)
from flowlab.flows import check_flow
from parameters import randomize_parameters


def perturb(module, scale=0.1, seed=0):
    return randomize_parameters(module, scale, seed, add=True)


def test_squeeze_moves_each_2x2_patch_into_channels():
    x = torch.arange(2 * 4 * 6, dtype=torch.float64).reshape(1, 2, 4, 6)
    z, logdet = Squeeze((2, 4, 6))(x)
    assert z.shape == (1, 8, 2, 3) and logdet.tolist() == [0.0]
    # channel 0's top-left patch (rows 0-1, cols 0-1) is the first pixel of channels 0..3
    assert z[0, :4, 0, 0].tolist() == [x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 0, 1, 1]]
    assert sorted(z.flatten().tolist()) == sorted(x.flatten().tolist())
    check_flow(Squeeze((2, 4, 6)), torch.randn(3, 2, 4, 6, dtype=torch.float64))


@pytest.mark.parametrize("shape", [(1, 5, 4), (1, 4, 7)])
def test_squeeze_odd_size_is_a_clear_error(shape):
    with pytest.raises(ValueError, match="even height and width"):
        Squeeze(shape)


def test_squeeze_wrong_input_shape():
    with pytest.raises(ValueError, match=r"Squeeze expects input of shape \[batch, 1, 4, 4\]"):
        Squeeze((1, 4, 4))(torch.zeros(2, 3, 4, 4))


def _split(seed=1):
    g = torch.Generator().manual_seed(seed)
    inner = Compose(InvertibleConv1x1(2, lu=True, generator=g), Flatten((2, 2, 2)))
    return perturb(Split((4, 2, 2), inner, 8), 0.3).double()


def test_split_harness_and_exact_restore_of_the_split_off_latents():
    split = _split()
    x = torch.randn(3, 4, 2, 2, dtype=torch.float64)
    check_flow(split, x)
    z, _ = split(x)
    assert z.shape == (3, 16)
    assert torch.equal(z[:, :8], x[:, 2:].reshape(3, 8))  # the factored-out half is copied as is
    z_new = torch.randn(3, 16, dtype=torch.float64)
    x_new, _ = split.inverse(z_new)
    assert torch.equal(x_new[:, 2:].reshape(3, 8), z_new[:, :8])
    assert torch.allclose(split(x_new)[0], z_new, atol=1e-12)


def test_split_errors():
    with pytest.raises(ValueError, match="at least 2 channels"):
        Split((1, 2, 2), Flatten((1, 2, 2)), 4)
    with pytest.raises(ValueError, match=r"Split.inverse expects input of shape \[batch, 16\]"):
        _split().inverse(torch.zeros(2, 15, dtype=torch.float64))


@pytest.mark.parametrize("permutation,coupling", [("conv", "affine"), ("reverse", "additive"), ("shuffle", "affine")])
def test_whole_multiscale_flow_passes_harness(permutation, coupling):
    g = torch.Generator().manual_seed(2)
    model = multiscale_model((2, 8, 8), levels=2, steps=2, hidden=8, permutation=permutation,
                             coupling=coupling, generator=g).double()
    y = torch.rand(32, 2, 8, 8, generator=g, dtype=torch.float64) * 0.9 + 0.05
    assert initialize_actnorm(model, y) == 4
    perturb(model, 0.05)
    report = check_flow(model.flow, torch.rand(2, 2, 8, 8, generator=g, dtype=torch.float64) * 0.9 + 0.05)
    assert report.jacobian_max_logdet > 1  # the logit and perturbed layers make it non-trivial


def test_model_density_and_sampling_shapes():
    g = torch.Generator().manual_seed(3)
    model = multiscale_model((1, 8, 8), levels=2, steps=1, hidden=8, generator=g)
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


def test_builder_errors():
    with pytest.raises(ValueError, match="divisible by 8"):
        multiscale_flow((1, 12, 12), levels=3, steps=1, hidden=4)
    with pytest.raises(ValueError, match="unknown permutation"):
        multiscale_flow((1, 8, 8), levels=1, steps=1, hidden=4, permutation="1x1")
    with pytest.raises(ValueError, match="unknown coupling"):
        multiscale_flow((1, 8, 8), levels=1, steps=1, hidden=4, coupling="spline")
    with pytest.raises(ValueError, match="image shape"):
        multiscale_flow((8, 8), levels=1, steps=1, hidden=4)
    with pytest.raises(ValueError, match="levels must be a positive integer"):
        multiscale_flow((1, 8, 8), levels=0, steps=1, hidden=4)
    flow = multiscale_flow((1, 8, 8), levels=2, steps=1, hidden=4)
    with pytest.raises(ValueError, match=r"expects input of shape \[batch, 1, 8, 8\]"):
        flow(torch.zeros(2, 3, 8, 8))


def test_hidden_for_budget_matches_parameter_counts():
    shape, budget = (1, 8, 8), count_parameters(multiscale_flow((1, 8, 8), 2, 2, 32, "conv", "affine"))
    for perm in PERMUTATIONS:
        for coup in COUPLINGS:
            h = hidden_for_budget(budget, shape, 2, 2, perm, coup)
            n = count_parameters(multiscale_flow(shape, 2, 2, h, perm, coup))
            assert abs(n - budget) / budget < 0.05, (perm, coup, h, n, budget)


def test_fit_image_flow_learns_something():
    g = torch.Generator().manual_seed(4)
    pixels = torch.randint(0, 3, (64, 1, 4, 4), generator=g) * 7  # 3 of 17 levels used
    model = multiscale_model((1, 4, 4), levels=1, steps=1, hidden=8, generator=g)
    history, bpd = fit_image_flow(model, pixels, pixels[:16], 17, steps=60, batch_size=32, lr=5e-3,
                                  generator=g, eval_every=30, progress=False)
    first = history.evals["test_bpd"][0][1]
    assert len(history.evals["test_bpd"]) == 2 and bpd == history.evals["test_bpd"][-1][1]
    assert bpd < math.log2(17) and history.losses[-1] < history.losses[0]
