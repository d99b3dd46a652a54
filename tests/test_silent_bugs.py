"""Regression tests for three silent bugs of issue 8 (wrong numbers, no error).

Each of these fails on the library before the re-layering (commit a4400d3) and passes now:

1. a CNF with Hutchinson's trace and ``adjoint=True`` gave wrong parameter gradients when another
   solve ran between the forward pass and ``backward()`` (the probe lived on a shared module and was
   overwritten; with a different batch size the backward solve even failed on a shape mismatch);
2. ``dequantize`` returned exactly 1.0 in float32 for the top pixel value (``(255 + u)/256`` rounds up);
3. an image model with the logit transform rejected its own samples (they lie a little outside
   [0, 1], inside the transform's domain).
"""
from __future__ import annotations

import pytest
import torch

from flowlab.data import dequantize
from flowlab.flows import CNF, FlowModel, LogitTransform, StandardNormal, initialize_actnorm, multiscale_model
from flowlab.nn import TimeConcatMLP

D = torch.float64


# ------------------------------------------------------------------- 1. CNF adjoint, probe per solve
def _cnf_gradients(adjoint: bool, sizes: tuple[int, int, int, int]) -> list[torch.Tensor]:
    """Gradients of one loss built from two log_prob solves, a differentiable sampling solve and a
    no-grad FlowModel.sample() solve in between, all before backward()."""
    torch.manual_seed(0)
    field = TimeConcatMLP(2, (16,), "tanh").double()
    with torch.no_grad():
        for p in field.parameters():
            p.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(p.numel()))
    # The same probe generator seed for both runs: adjoint and backprop see the same probes.
    cnf = CNF(field, 2, trace="hutchinson", noise="rademacher", adjoint=adjoint, rtol=1e-8, atol=1e-8,
              generator=torch.Generator().manual_seed(123))
    model = FlowModel(cnf, StandardNormal(2).double())
    g = torch.Generator().manual_seed(7)
    b1, b2, b3, b4 = sizes
    x1 = torch.randn(b1, 2, generator=g, dtype=D)
    x2 = torch.randn(b2, 2, generator=g, dtype=D)
    eps = torch.randn(b3, 2, generator=g, dtype=D)
    lp1 = model.log_prob(x1)
    lp2 = model.log_prob(x2)
    xs, ld = cnf.inverse(eps)                                    # a differentiable sampling solve
    model.sample(b4, generator=torch.Generator().manual_seed(9))  # one more solve before backward()
    loss = -lp1.mean() - 2 * lp2.mean() + (xs ** 2).sum() - ld.mean()
    return list(torch.autograd.grad(loss, list(field.parameters())))


@pytest.mark.parametrize("sizes", [(5, 5, 5, 5), (5, 3, 4, 6)], ids=["same-batch", "different-batches"])
def test_cnf_adjoint_gradients_match_backprop_when_solves_interleave(sizes):
    adjoint = _cnf_gradients(True, sizes)
    backprop = _cnf_gradients(False, sizes)
    scale = max(g.abs().max().item() for g in backprop)
    assert scale > 1.0  # the loss really depends on the parameters
    for a, b in zip(adjoint, backprop):
        # The adjoint solves its own ODE backward: equal to backprop up to the solver's tolerance
        # (1e-8); a wrong probe gives differences of order one.
        assert (a - b).abs().max().item() <= 1e-5 * scale


# ------------------------------------------------------------------------ 2. dequantize in its bin
def test_dequantize_stays_below_one_in_float32():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        x = torch.full((4_000_000,), 255, dtype=torch.long)
        y = dequantize(x, 256, torch.Generator().manual_seed(0))
        assert y.dtype == torch.float32
        assert y.max().item() < 1.0
        # Every value stays in its bin [x/K, (x+1)/K) (exact edges: K is a power of two).
        assert bool((y >= 255 / 256).all()) and bool((y.double() < 1.0).all())
        for levels in (256, 17):  # every pixel value, also where the bin edges are not exact in float32
            x = torch.arange(levels).repeat(20_000)
            y = dequantize(x, levels, torch.Generator().manual_seed(levels))
            lower = x.to(torch.float32) / levels
            upper = (x + 1).to(torch.float32) / levels
            assert bool((y >= lower).all()) and bool((y < upper).all())
            assert torch.equal((y.double() * levels).floor().long().clamp_max(levels - 1), x)
    finally:
        torch.set_default_dtype(before)


# ----------------------------------------------------------------- 3. a logit model's own samples
def _samples_have_finite_log_prob(model: FlowModel) -> None:
    with torch.no_grad():
        samples = model.sample(100, generator=torch.Generator().manual_seed(1))
        log_p = model.log_prob(samples)
    assert samples.shape == (100, 1, 8, 8)
    assert log_p.shape == (100,) and bool(torch.isfinite(log_p).all())


def test_logit_image_model_accepts_its_own_samples_fresh_and_trained():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = multiscale_model((1, 8, 8), 1, 2, 16, logit_alpha=0.05, generator=g)
    data = lambda: torch.rand(64, 1, 8, 8, generator=g) ** 3  # noqa: E731  skewed to 0: samples spill below
    initialize_actnorm(model, data())
    _samples_have_finite_log_prob(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(25):
        loss = -model.log_prob(data()).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    _samples_have_finite_log_prob(model)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("alpha", [0.0, 1e-5, 0.05, 0.3])
def test_logit_forward_accepts_every_point_inverse_returns(alpha, dtype):
    transform = LogitTransform(alpha)
    z = torch.cat([torch.linspace(-200, 200, 20001, dtype=dtype),
                   torch.tensor([-1e30, 1e30, -36.7, 36.7, -16.6, 16.6], dtype=dtype)])[None]
    y, ld_inv = transform.inverse(z)
    z_back, ld = transform(y)
    assert bool(torch.isfinite(z_back).all()) and bool(torch.isfinite(ld).all())
    lo, hi = transform.domain
    assert bool(((y > lo) & (y < hi)).all())
