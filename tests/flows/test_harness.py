"""The one harness every flow layer goes through, and the meta-test that keeps it complete.

Each entry of ``CASES`` builds a layer with its parameters moved away from their init
(``randomize_parameters``: a fresh layer is often the identity, where any code passes) and draws
fresh inputs of a non-trivial shape from a generator seeded by the test's ``seed``. The test runs
``check_flow``: float64 round trip, opposite log-dets of the two directions, and the forward log-det
against ``log|det|`` of autograd's full Jacobian. The CNF's Jacobian is taken with
``torch.autograd.functional.jacobian`` (``jacobian="autograd"``): ``torch.func.jacrev`` cannot go
through torchdiffeq.

A Hutchinson CNF returns an *estimate* of the log-det, which no exact check can accept in general.
With Rademacher probes and a field whose Jacobian is diagonal the estimate is exact
(:math:`\\varepsilon^\\top J \\varepsilon = \\sum_i J_{ii}\\varepsilon_i^2 = \\operatorname{tr} J`),
so the Hutchinson code path (a probe per solve, the bottleneck variant) is harnessed on such a field;
unbiasedness with Gaussian probes and general fields is tested in ``tests/estimators``.

Beside the harness, as zuko's tests do, every entry is checked for gradients that reach each trainable
parameter and for a state dict that, saved and loaded, reproduces the layer exactly.

``test_every_flow_layer_is_in_the_harness`` imports every module of flowlab and fails naming any
concrete ``Flow`` subclass that no entry builds.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from typing import Callable

import pytest
import torch
from torch import nn

import flowlab
import flowlab.flows
from flowlab.flows import (
    CNF,
    IAF,
    MAF,
    ActNorm,
    AdditiveCoupling,
    Affine,
    AffineCoupling,
    Compose,
    ElementwiseAffine,
    Inverse,
    InvertibleConv1x1,
    LogitTransform,
    PlanarFlow,
    RadialFlow,
    RationalQuadraticSpline,
    ResidualFlow,
    Squeeze,
    SylvesterFlow,
    channel_mask,
    check_flow,
    checkerboard_mask,
    half_mask,
    initialize_actnorm,
    multiscale_model,
    randomize_parameters,
    realnvp,
)
from flowlab.flows.autoregressive import iaf, maf
from flowlab.flows.base import Flow
from flowlab.flows.coupling import AffineMap, Coupling
from flowlab.flows.masks import alternating_mask
from flowlab.flows.multiscale import Flatten, Split, glow_step, multiscale_flow
from flowlab.flows.permutations import Permutation, RandomPermutation, ReversePermutation
from flowlab.nn import LipschitzMLP, TimeConcatMLP

SEEDS = [0, 1, 2]
F64 = torch.float64


@dataclass(frozen=True)
class Case:
    make: Callable[[torch.Generator], tuple[Flow, torch.Tensor]]  # generator -> (layer, inputs)
    atol: float = 1e-8
    jacobian: str = "jacrev"
    volume_preserving: bool = False  # log|det J| = 0 everywhere (asserted); otherwise it must be non-zero
    unused: tuple[str, ...] = ()  # parameters that by construction never affect the output (asserted: zero grads)


def vectors(g, n, d, scale=1.0):
    return scale * torch.randn(n, d, generator=g, dtype=F64)


def images(g, n, c, h, w, scale=1.0):
    return scale * torch.randn(n, c, h, w, generator=g, dtype=F64)


def moved(module, g, std=0.3, add=False):
    """``module`` in float64 with every parameter drawn (or, with ``add``, shifted) from ``g``."""
    return randomize_parameters(module.double(), std, generator=g, add=add)


def random_affine(g, d, trainable=True):
    matrix = torch.randn(d, d, generator=g, dtype=F64) + 2 * torch.eye(d, dtype=F64)
    return Affine(matrix, torch.randn(d, generator=g, dtype=F64), trainable=trainable)


def actnorm_ready(flow, g, shape, std=0.1):
    """Data-dependent init of every ActNorm on a scaled, shifted batch, then move all parameters."""
    initialize_actnorm(flow.double(), 3 * torch.randn(32, *shape, generator=g, dtype=F64) + 1)
    return moved(flow, g, std, add=True)


def residual(g, d, step=1.0):
    """An i-ResNet block in eval mode (fixed normalised weights), every weight moved and re-normalised."""
    net = moved(LipschitzMLP(d, 16, 2, coeff=0.9), g, 1.0)
    net.power_iterate(200)
    return ResidualFlow(d, net, step=step).double().eval()


def planar(g, d):
    f = moved(PlanarFlow(d), g, 1.0)
    with torch.no_grad():  # w^T u well below -1: only the u-hat reparametrization keeps it invertible
        f.u.add_(-(3 + f.u @ f.w) * f.w / (f.w @ f.w))
    return f


def radial(g, d):
    f = moved(RadialFlow(d), g, 1.0)
    with torch.no_grad():
        f.beta_raw.fill_(-2.0)  # beta near -alpha: strongly contracting, still invertible
    return f


class DiagonalField(nn.Module):
    """:math:`f(t, z) = s \\odot \\tanh(a \\odot z + b t + c)`: a diagonal Jacobian, on which Rademacher
    Hutchinson probes (and the bottleneck trick with ``encode``/``decode``) give the exact trace."""

    def __init__(self, d):
        super().__init__()
        self.a, self.b, self.c, self.s = (nn.Parameter(torch.zeros(d)) for _ in range(4))

    def encode(self, t, z):
        return torch.tanh(self.a * z + self.b * t + self.c)

    def decode(self, t, h):
        return self.s * h

    def forward(self, t, z):
        return self.decode(t, self.encode(t, z))


def residual_block(g):
    """An i-ResNet block, log-det exact; power iteration run to convergence on the moved weights, then frozen."""
    block = moved(flowlab.flows.ResidualFlow(4, hidden=16, layers=2, coeff=0.9, n_power_iterations=5), g, 0.5)
    x = vectors(g, 6, 4, 1.5)
    for _ in range(10):
        block(x)
    return block.eval(), x


TIGHT = dict(rtol=1e-10, atol=1e-10)


def cnf_case(make_field, event_shape, inputs, **settings):
    def make(g):
        field = make_field(g)
        probes = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,), generator=g)))
        return CNF(field, event_shape, generator=probes, **TIGHT, **settings).double(), inputs(g)
    return Case(make, atol=1e-7, jacobian="autograd")


def multiscale_case(permutation, coupling):
    def make(g):
        flow = multiscale_flow((2, 8, 8), levels=2, depth=2, hidden=8, permutation=permutation,
                               coupling=coupling, generator=g)
        return actnorm_ready(flow, g, (2, 8, 8), 0.05), images(g, 2, 2, 8, 8)
    return Case(make)


def multiscale_model_flow(g):
    model = multiscale_model((1, 4, 4), levels=2, depth=1, hidden=8, generator=g).double()
    initialize_actnorm(model, torch.rand(32, 1, 4, 4, generator=g, dtype=F64))
    moved(model, g, 0.05, add=True)
    return model.flow, 0.05 + 0.9 * torch.rand(3, 1, 4, 4, generator=g, dtype=F64)


def split(g):
    inner = Compose(InvertibleConv1x1(2, lu=True, generator=g), Flatten((2, 2, 2)))
    return moved(Split((4, 2, 2), inner, 8), g, 0.3, add=True), images(g, 3, 4, 2, 2)


CASES: dict[str, Case] = {
    # elementwise and linear
    "ElementwiseAffine": Case(lambda g: (moved(ElementwiseAffine(5), g, 0.5), vectors(g, 6, 5))),
    "Affine": Case(lambda g: (moved(random_affine(g, 4), g, 0.1, add=True), vectors(g, 6, 4))),
    "Affine (buffers)": Case(lambda g: (random_affine(g, 3, trainable=False).double(), vectors(g, 5, 3))),
    "Compose": Case(lambda g: (Compose(moved(ElementwiseAffine(3), g, 0.5), random_affine(g, 3).double(),
                                       Inverse(random_affine(g, 3).double())), vectors(g, 6, 3))),
    "Inverse (of a MAF)": Case(lambda g: (Inverse(moved(MAF(4, hidden=8), g)), vectors(g, 6, 4))),
    # couplings: vector, channel and checkerboard masks, both maps, both scales
    "AdditiveCoupling vector": Case(lambda g: (moved(AdditiveCoupling(5, alternating_mask(5, 0), hidden=8), g),
                                               vectors(g, 6, 5)), volume_preserving=True),
    "AffineCoupling vector tanh": Case(lambda g: (moved(AffineCoupling(5, half_mask(5, 1), hidden=8), g),
                                                  vectors(g, 6, 5))),
    "AffineCoupling vector sigmoid": Case(lambda g: (moved(AffineCoupling(5, alternating_mask(5, 1), hidden=8,
                                                                          scale="sigmoid"), g), vectors(g, 6, 5))),
    "AdditiveCoupling checkerboard": Case(lambda g: (moved(AdditiveCoupling((3, 4, 6), checkerboard_mask(4, 6, 1),
                                                                            hidden=8), g), images(g, 3, 3, 4, 6)),
                                          volume_preserving=True),
    "AffineCoupling checkerboard tanh": Case(lambda g: (moved(AffineCoupling((3, 4, 6), checkerboard_mask(4, 6, 0),
                                                                             hidden=8), g), images(g, 3, 3, 4, 6))),
    "AffineCoupling checkerboard sigmoid": Case(lambda g: (moved(AffineCoupling((2, 4, 4), checkerboard_mask(4, 4, 1),
                                                                                hidden=8, scale="sigmoid"), g),
                                                           images(g, 3, 2, 4, 4))),
    "AdditiveCoupling channel": Case(lambda g: (moved(AdditiveCoupling((4, None, None), channel_mask(4, 0), hidden=8),
                                                      g), images(g, 3, 4, 3, 5)), volume_preserving=True),
    "AffineCoupling channel tanh": Case(lambda g: (moved(AffineCoupling((3, 4, 4), channel_mask(3, 1), hidden=8), g),
                                                   images(g, 3, 3, 4, 4))),
    "AffineCoupling channel sigmoid": Case(lambda g: (moved(AffineCoupling((4, None, None), channel_mask(4, 1),
                                                                           hidden=8, scale="sigmoid"), g),
                                                      images(g, 2, 4, 3, 3))),
    "Coupling (AffineMap)": Case(lambda g: (moved(Coupling(4, alternating_mask(4, 1), AffineMap("tanh", 2.0),
                                                           hidden=8), g), vectors(g, 6, 4))),
    "realnvp stack": Case(lambda g: (moved(realnvp(4, num_layers=4, hidden=8), g, 0.2), vectors(g, 5, 4))),
    # permutations (log-det 0), on vectors and on image channels
    "ReversePermutation": Case(lambda g: (ReversePermutation(5).double(), vectors(g, 4, 5)), volume_preserving=True),
    "ReversePermutation image": Case(lambda g: (ReversePermutation(5).double(), images(g, 2, 5, 3, 2)),
                                     volume_preserving=True),
    "RandomPermutation": Case(lambda g: (RandomPermutation(6, generator=g).double(), vectors(g, 4, 6)),
                              volume_preserving=True),
    "RandomPermutation image": Case(lambda g: (RandomPermutation(4, generator=g).double(), images(g, 2, 4, 2, 3)),
                                    volume_preserving=True),
    "Permutation": Case(lambda g: (Permutation(torch.randperm(5, generator=g)).double(), vectors(g, 4, 5)),
                        volume_preserving=True),
    # Glow and the multi-scale architecture
    "ActNorm": Case(lambda g: (actnorm_ready(ActNorm(3), g, (3, 4, 4), 0.3), images(g, 3, 3, 4, 4))),
    "InvertibleConv1x1 plain": Case(lambda g: (moved(InvertibleConv1x1(4, generator=g), g, 0.3, add=True),
                                               images(g, 2, 4, 3, 5))),
    "InvertibleConv1x1 LU": Case(lambda g: (moved(InvertibleConv1x1(4, lu=True, generator=g), g, 0.3, add=True),
                                            images(g, 2, 4, 3, 5))),
    "Squeeze": Case(lambda g: (Squeeze((2, 4, 6)).double(), images(g, 3, 2, 4, 6)), volume_preserving=True),
    "Flatten": Case(lambda g: (Flatten((2, 3, 2)).double(), images(g, 3, 2, 3, 2)), volume_preserving=True),
    "Split": Case(split),
    "glow_step": Case(lambda g: (actnorm_ready(glow_step(4, 8, "conv", "affine", lu=True, generator=g), g,
                                               (4, 4, 4)), images(g, 3, 4, 4, 4))),
    "multiscale_flow conv affine": multiscale_case("conv", "affine"),
    "multiscale_flow reverse additive": multiscale_case("reverse", "additive"),
    "multiscale_flow shuffle affine": multiscale_case("shuffle", "affine"),
    "multiscale_model flow (logit)": Case(multiscale_model_flow),
    # autoregressive
    "MAF natural": Case(lambda g: (moved(MAF(5, hidden=16), g), vectors(g, 6, 5, 1.5))),
    "MAF permuted order": Case(lambda g: (moved(MAF(5, hidden=16, order=[2, 0, 4, 1, 3]), g), vectors(g, 6, 5, 1.5))),
    "IAF reverse": Case(lambda g: (moved(IAF(5, hidden=16, order="reverse"), g), vectors(g, 6, 5, 1.5))),
    "IAF permuted order": Case(lambda g: (moved(IAF(5, hidden=16, order=[2, 0, 4, 1, 3]), g), vectors(g, 6, 5, 1.5))),
    "maf stack": Case(lambda g: (moved(maf(4, num_layers=3, hidden=12), g), vectors(g, 5, 4))),
    "iaf stack": Case(lambda g: (moved(iaf(4, num_layers=3, hidden=12), g), vectors(g, 5, 4))),
    # (with one dimension nothing precedes the only coordinate: MADE masks every input weight)
    "maf one dimension": Case(lambda g: (moved(maf(1, num_layers=2, hidden=4), g), vectors(g, 5, 1)),
                              unused=("layers.0.made.net.0.weight", "layers.1.made.net.0.weight")),
    # elementwise splines, residual flows
    "RationalQuadraticSpline": Case(lambda g: (moved(RationalQuadraticSpline(3, bins=6, bound=2.5), g, 1.0),
                                               vectors(g, 20, 3, 2.0))),
    "PlanarFlow": Case(lambda g: (planar(g, 5), vectors(g, 32, 5, 2.0)), atol=1e-9),
    "RadialFlow": Case(lambda g: (radial(g, 4), vectors(g, 32, 4, 2.0)), atol=1e-9),
    "SylvesterFlow": Case(lambda g: (moved(SylvesterFlow(5, 3), g, 1.0), vectors(g, 24, 5, 2.0)), atol=1e-9),
    "ResidualFlow": Case(lambda g: (residual(g, 3), vectors(g, 8, 3, 2.0))),
    "ResidualFlow built-in network": Case(residual_block),
    "ResidualFlow Euler step": Case(lambda g: (residual(g, 2, step=1.05), vectors(g, 8, 2, 2.0))),
    # preprocessing
    "LogitTransform image": Case(lambda g: (LogitTransform(0.05), torch.rand(5, 2, 2, 2, generator=g, dtype=F64))),
    "LogitTransform alpha 0": Case(lambda g: (LogitTransform(0.0),
                                              0.01 + 0.98 * torch.rand(6, 4, generator=g, dtype=F64))),
    # continuous
    # (an image-field CNF is checked against the Jacobian of its flow map in test_continuous.py: through the
    # double backward of its convolutions, autograd's Jacobian of the augmented solve takes ~10 s per draw)
    "CNF exact": cnf_case(lambda g: moved(TimeConcatMLP(3, (8, 8)), g, 0.5), 3, lambda g: vectors(g, 3, 3)),
    "CNF hutchinson": cnf_case(lambda g: moved(DiagonalField(3), g, 1.0), 3, lambda g: vectors(g, 4, 3),
                               trace="hutchinson", noise="rademacher"),
    "CNF hutchinson bottleneck": cnf_case(lambda g: moved(DiagonalField(3), g, 1.0), 3, lambda g: vectors(g, 4, 3),
                                          trace="hutchinson", noise="rademacher", bottleneck=True),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(CASES))
def test_flow_passes_harness(name, seed):
    case = CASES[name]
    flow, x = case.make(torch.Generator().manual_seed(seed))
    report = check_flow(flow, x, atol=case.atol, jacobian=case.jacobian)
    if case.volume_preserving:
        assert report.jacobian_max_logdet < 1e-10, f"{name}: a volume-preserving layer has log|det J| != 0"
    else:  # parameters really moved: the check did not run at the identity
        assert report.jacobian_max_logdet > 1e-3, f"{name}: log|det J| is ~0, the check is trivial"
    with torch.no_grad():
        z = flow(x)[0]
    if z.shape == x.shape:
        assert (z - x).abs().max() > 1e-3, f"{name} is the identity on these inputs"


def _density_loss(flow, x):
    """The negative log-likelihood under a standard normal base, the quantity training differentiates."""
    z, logdet = flow(x)
    return 0.5 * z.flatten(1).square().sum(1).mean() - logdet.mean()


def gradient_problems(flow, x, unused=()) -> list[str]:
    """What is wrong with the gradients the training loss sends to ``flow``'s trainable parameters:
    none, zero or non-finite for a parameter not in ``unused``; a gradient for one that is."""
    params = {n: q for n, q in flow.named_parameters() if q.requires_grad}
    _density_loss(flow, x).backward()
    found = [f"{n} is listed as unused but is no parameter" for n in unused if n not in params]
    for n, q in params.items():
        if n in unused:
            found += [f"{n} is listed as unused but gets a gradient"] if q.grad is not None and q.grad.any() else []
        elif q.grad is None or not q.grad.any():
            found.append(f"{n} gets no gradient")
        elif not torch.isfinite(q.grad).all():
            found.append(f"{n} gets a non-finite gradient")
    return found


def reload_problems(flow, other, x, tmp_path) -> list[str]:
    """Save ``flow``'s state dict, load it (``weights_only=True``) into ``other`` (same layer, other
    parameters): anything the reloaded layer computes differently."""
    torch.save(flow.state_dict(), tmp_path / "flow.pt")
    other.load_state_dict(torch.load(tmp_path / "flow.pt", weights_only=True))
    other.train(flow.training)
    with torch.no_grad():
        (z, ld), (z2, ld2) = flow(x), other(x)
    return [f"{what} differs after reloading" for what, a, b in (("output", z, z2), ("log-det", ld, ld2))
            if not torch.equal(a, b)]


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_reach_every_parameter(name):
    """As zuko's tests do: the loss a flow is trained on reaches every trainable parameter with a finite,
    non-zero gradient (a parameter the forward pass forgets, or one cut off by a detach(), fails here)."""
    flow, x = CASES[name].make(torch.Generator().manual_seed(3))
    if not any(q.requires_grad for q in flow.parameters()):
        pytest.skip(f"{name} has no trainable parameters")
    assert gradient_problems(flow, x, CASES[name].unused) == [], name


@pytest.mark.parametrize("name", list(CASES))
def test_save_and_load_give_the_same_log_density(name, tmp_path):
    """A state dict saved and loaded into a layer built from other random parameters gives the same
    outputs and log-dets: every piece of state (permutations, ActNorm's initialisation, power-iteration
    vectors) lives in the state dict."""
    flow, x = CASES[name].make(torch.Generator().manual_seed(4))
    other, _ = CASES[name].make(torch.Generator().manual_seed(5))
    assert reload_problems(flow, other, x, tmp_path) == [], name


class _ForgetfulScale(Flow):
    """A broken layer for the checks above: ``unused`` is never read, and its shift lives in a plain
    attribute outside the state dict (``log_scale`` works, through the output)."""

    def __init__(self, shift=0.0):
        super().__init__()
        self.log_scale = nn.Parameter(torch.full((2,), 0.3, dtype=F64))
        self.unused = nn.Parameter(torch.zeros(2, dtype=F64))
        self.shift = shift

    def forward(self, x):
        return x * self.log_scale.exp() + self.shift, self.log_scale.detach().sum().expand(len(x))

    def inverse(self, z):
        return (z - self.shift) * (-self.log_scale).exp(), -self.log_scale.detach().sum().expand(len(z))


def test_the_gradient_and_reload_checks_catch_a_broken_layer(tmp_path):
    x = torch.randn(4, 2, dtype=F64)
    found = gradient_problems(_ForgetfulScale(), x, unused=("log_scale",))
    assert found == ["log_scale is listed as unused but gets a gradient", "unused gets no gradient"], found
    reloaded = reload_problems(_ForgetfulScale(1.0), _ForgetfulScale(2.0), x, tmp_path)
    assert reloaded == ["output differs after reloading"], reloaded


def _import_every_module():
    for info in pkgutil.walk_packages(flowlab.__path__, "flowlab."):
        importlib.import_module(info.name)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def concrete_flow_classes() -> set[type]:
    """Every ``Flow`` subclass defined in flowlab that implements both directions."""
    _import_every_module()
    return {c for c in _subclasses(Flow) if c.__module__.startswith("flowlab.") and not inspect.isabstract(c)
            and c.forward is not Flow.forward and c.inverse is not Flow.inverse}


def test_every_flow_layer_is_in_the_harness():
    covered = set()
    for name, case in CASES.items():
        flow, _ = case.make(torch.Generator().manual_seed(0))
        assert isinstance(flow, Flow), f"harness entry {name!r} does not build a Flow"
        covered.add(type(flow))
    missing = sorted(f"{c.__module__}.{c.__qualname__}" for c in concrete_flow_classes() - covered)
    assert not missing, f"Flow layers missing from tests/flows/test_harness.py CASES: {', '.join(missing)}"


def test_check_flow_leaves_the_callers_module_as_it_was():
    """The harness runs on a float64 copy: the caller's float32 layer keeps its dtype, its parameters and its
    buffers (an uninitialised ActNorm stays uninitialised), bit for bit."""
    g = torch.Generator().manual_seed(6)
    for flow in (randomize_parameters(AffineCoupling(4, half_mask(4, 1), hidden=8), 0.3, generator=g),
                 ActNorm(2)):
        before = {k: v.clone() for k, v in flow.state_dict().items()}
        x = torch.randn(5, *((4,) if isinstance(flow, AffineCoupling) else (2, 3, 3)), generator=g)
        check_flow(flow, x)
        after = flow.state_dict()
        assert all(p.dtype == torch.float32 for p in flow.parameters())
        assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
        assert all(v.dtype == after[k].dtype for k, v in before.items())
