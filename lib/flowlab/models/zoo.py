r"""Every model family built here, and the three properties of lecture 004's last table, measured.

A :class:`Family` builds a model for data of dimension :math:`D` and says how to sample it, which
networks count as a *pass*, which maps are its building blocks, and how its likelihood is checked.
The measurements:

- **one-pass sampling** (:func:`sampling_costs`): network passes counted with
  :class:`~flowlab.measure.counting.CallCounter` while drawing a batch, and CPU time per sample, against
  :math:`D`; the log-log slope of the passes is 0 when sampling is parallel over dimensions and 1
  when it is sequential (an autoregressive inverse);
- **exact log-likelihood** (:func:`likelihood_kind`): ``log_prob`` against the change of variables
  with autograd's :math:`\log|\det J|` (exact), repeated evaluations that differ but average to it
  (an unbiased estimate), a total probability below 1 over every binary image (a bound: the ELBO),
  or a generator whose Jacobian has rank below :math:`D` (no density: the samples lie on a manifold);
- **free-form Jacobian** (:func:`jacobian_structure`): each building block's Jacobian by autograd at
  random points, classified as diagonal, constant (a linear map), triangular after a permutation
  (its dependency graph is acyclic), identity plus rank :math:`r < D`, or none of these: free-form.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn
from torch.autograd.functional import jacobian

from flowlab.flows import (
    CNF,
    Compose,
    FlowModel,
    PlanarFlow,
    ResidualFlow,
    StandardNormal,
    initialize_actnorm,
    randomize_parameters,
    realnvp,
)
from flowlab.flows.autoregressive import iaf, maf
from flowlab.flows.multiscale import glow_step
from flowlab.measure import time_call
from flowlab.measure.counting import CallCounter
from flowlab.models.diffusion import DDPM, linear_schedule
from flowlab.models.gan import Generator
from flowlab.models.likelihoods import Bernoulli
from flowlab.models.vae import VAE
from flowlab.nn import TimeConcatMLP, TimeLabelMLP
from flowlab.validate import AtLeast, Count, IsA, Rng, check_count, checked


@dataclass(frozen=True)
class Family:
    name: str
    make: Callable[[int], nn.Module]                       # a float64 model for data of dimension D
    sample: Callable[[nn.Module, int, torch.Generator], Tensor]
    networks: Callable[[nn.Module], list]                  # the modules whose calls are passes
    blocks: Callable[[nn.Module], list]                    # [(name, map R^a -> R^b, a)]
    likelihood: str                                        # how likelihood_kind checks it
    precise: Callable[[nn.Module], object] | None = None   # a context for exact evaluation (an ODE's tolerance)


FamilyArg = IsA(Family, "a Family from FAMILIES")  # the contract of the measurements' first argument


def _flow_model(flow: nn.Module, d: int, seed: int) -> FlowModel:
    model = FlowModel(flow, StandardNormal(d)).double()
    return randomize_parameters(model, 0.2, seed=seed, add=True).eval()  # away from the identity init


def _layers(model) -> list:
    flow = model.flow
    return list(flow.layers) if isinstance(flow, Compose) else [flow]


def _layer_blocks(model) -> list:
    d = model.base.shape[0]
    return [(f"{type(f).__name__} {i}", (lambda v, f=f: f(v[None])[0][0]), d) for i, f in enumerate(_layers(model))]


def _flow_sample(model, n, g):
    return model.sample(n, generator=g)


def _glow(d: int) -> FlowModel:
    """Glow's step (ActNorm, 1x1 convolution, affine coupling) on :math:`D` channels of a 1x1 image."""
    steps = Compose(*[glow_step(d, 16, generator=torch.Generator().manual_seed(i)) for i in range(2)])
    model = FlowModel(steps, StandardNormal((d, 1, 1))).double()
    initialize_actnorm(model, torch.randn(64, d, 1, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    return randomize_parameters(model, 0.1, seed=2, add=True).eval()


def _glow_blocks(model) -> list:
    d = model.base.shape[0]
    out = []
    for i, step in enumerate(model.flow.layers):
        for j, f in enumerate(step.layers):
            out.append((f"{type(f).__name__} {i}.{j}", (lambda v, f=f: f(v.reshape(1, d, 1, 1))[0].reshape(d)), d))
    return out


def _cnf_sample(model, n, g):
    with model.flow.using(trace="hutchinson"):  # sampling needs no exact log-det: one VJP per evaluation
        return model.sample(n, generator=g)


def _cnf(d: int) -> FlowModel:
    field = TimeConcatMLP(d, (32,), activation="tanh")
    cnf = CNF(field, d, method="rk4", options={"step_size": 0.25})
    return _flow_model(cnf, d, seed=3)


def _residual(d: int) -> FlowModel:
    """Residual blocks with the Russian-roulette log-det; their spectral norms are settled by power
    iteration (training-mode passes) instead of perturbing weights, which would break Lip(g) < 1."""
    torch.manual_seed(11)
    model = FlowModel(Compose(*[ResidualFlow(d, hidden=32, logdet="roulette") for _ in range(2)]),
                      StandardNormal(d)).double()
    with torch.no_grad():
        for _ in range(30):   # power iteration runs in each training-mode pass of g
            for block in model.flow.layers:
                block.g(torch.randn(8, d, dtype=torch.float64))
    return model.eval()


def _vae(d: int) -> VAE:
    torch.manual_seed(4)
    return VAE((1, 1, d), Bernoulli(), latent=2, hidden=32, layers=2, context=16).double().eval()


def _vae_sample(vae, n, g):
    z = torch.randn(n, vae.latent, generator=g, dtype=torch.float64)
    return torch.bernoulli(torch.sigmoid(vae.decoder(z)), generator=g)


def _gan(d: int) -> Generator:
    torch.manual_seed(5)
    return Generator(2, d, hidden=32).double().eval()


def _ddpm(d: int) -> DDPM:
    torch.manual_seed(6)
    return DDPM(TimeLabelMLP(d, hidden=32, layers=2), linear_schedule(100), d).double().eval()


def _ddpm_block(model) -> list:
    d = model.features
    t = torch.full((1,), 50)
    return [("eps network at t = 50", lambda v: model.eps(v[None], t)[0], d)]


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("VAE", _vae, _vae_sample, lambda m: [m.decoder],
           lambda m: [("decoder z -> logits", lambda v: m.decoder(v[None])[0], m.latent)], "vae"),
    Family("GAN", _gan, lambda m, n, g: m.sample(n, g), lambda m: [m.net],
           lambda m: [("generator z -> x", lambda v: m(v[None])[0], m.latent_dim)], "generator"),
    Family("DDPM", _ddpm, lambda m, n, g: m.sample(n, generator=g), lambda m: [m.net], _ddpm_block,
           "not measured"),
    Family("MAF", lambda d: _flow_model(maf(d, 2, hidden=max(32, d)), d, 7), _flow_sample,
           lambda m: [f.made for f in _layers(m)], _layer_blocks, "flow"),
    Family("IAF", lambda d: _flow_model(iaf(d, 2, hidden=max(32, d)), d, 8), _flow_sample,
           lambda m: [f.made for f in _layers(m)], _layer_blocks, "flow"),
    Family("RealNVP", lambda d: _flow_model(realnvp(d, 4, hidden=32), d, 9), _flow_sample,
           lambda m: [f.conditioner for f in _layers(m)], _layer_blocks, "flow"),
    Family("Glow", _glow, _flow_sample,
           lambda m: [f.conditioner for s in m.flow.layers for f in s.layers if hasattr(f, "conditioner")],
           _glow_blocks, "flow"),
    Family("planar", lambda d: _flow_model(Compose(*[PlanarFlow(d) for _ in range(4)]), d, 10), _flow_sample,
           lambda m: _layers(m), _layer_blocks, "flow"),
    Family("FFJORD (CNF)", _cnf, _cnf_sample, lambda m: [m.flow.field], _layer_blocks, "flow",
           precise=lambda m: m.flow.using(method="dopri5", rtol=1e-10, atol=1e-10, options=None)),
    Family("residual flow", _residual, _flow_sample, lambda m: [f.g for f in _layers(m)], _layer_blocks, "flow"),
)}


# ------------------------------------------------------------------------------ one-pass sampling
@checked
def sampling_costs(family: FamilyArg, dims, *, batch: Count = 64, repeats: Count = 3, generator: Rng = None) -> dict:
    """Network passes and CPU seconds per sample of ``family`` drawing ``batch`` samples, per ``D``."""
    dims = [check_count(d, "dimension", "sampling_costs", minimum=2) for d in dims]
    g = generator or torch.Generator().manual_seed(0)
    passes, seconds = [], []
    with torch.no_grad():
        for d in dims:
            model = family.make(d)
            with CallCounter(family.networks(model)) as counter:
                family.sample(model, batch, g)
            passes.append(counter.count)
            timing = time_call(lambda model=model: family.sample(model, batch, g),
                               repeats=repeats, warmup=1, clock="cpu")
            seconds.append(timing.min / batch)
    return {"dims": dims, "passes": passes, "seconds_per_sample": seconds}


# ---------------------------------------------------------------------------- free-form Jacobian
def _acyclic(depends: Tensor) -> bool:
    """Whether "i depends on j" (off the diagonal) has no cycle: then a permutation makes it triangular."""
    left = depends.clone().fill_diagonal_(False)
    alive = torch.ones(len(left), dtype=torch.bool)
    while bool(alive.any()):
        free = alive & ~(left & alive[None, :]).any(1)   # depends on nothing still alive
        if not bool(free.any()):
            return False
        alive &= ~free
    return True


def jacobian_structure(fn: Callable[[Tensor], Tensor], points: Tensor, tol: float = 1e-9) -> dict:
    """Classify the Jacobian of ``fn`` (``[a] -> [b]``, float64) from autograd at each of ``points`` [P, a]."""
    jac = torch.stack([jacobian(fn, p) for p in points]).detach()  # no vmap: ODE solvers step adaptively
    scale = jac.abs().max().clamp_min(1e-300)
    nonzero = (jac.abs() > tol * scale).any(0)
    out, inp = jac.shape[1:]
    if out != inp:
        rank = int(torch.linalg.matrix_rank(jac[0], atol=tol * scale.item()))
        return {"structure": "free-form" if bool(nonzero.all()) else "sparse", "shape": [out, inp], "rank": rank}
    eye = torch.eye(out, dtype=jac.dtype)
    if not bool(nonzero.fill_diagonal_(False).any()):
        return {"structure": "diagonal"}
    if float((jac - jac[:1]).abs().max()) <= tol * scale:
        return {"structure": "constant (linear)"}
    if _acyclic((jac.abs() > tol * scale).any(0)):
        return {"structure": "triangular (after a permutation)"}
    ranks = [int(torch.linalg.matrix_rank(j - eye, atol=tol * scale.item())) for j in jac]
    if max(ranks) < out:
        return {"structure": f"identity + rank {max(ranks)}"}
    return {"structure": "free-form"}


def free_form(structure: dict) -> bool:
    return structure["structure"] == "free-form"


# ------------------------------------------------------------------------ exact log-likelihood
def _flow_likelihood(family: Family, model, x: Tensor, repeats: int, z_band: float) -> dict:
    d = x.shape[1]
    with torch.no_grad():
        z, _ = model.flow(x)
    # flow is a module on a FlowModel, a method on the Glow view: both map x -> (z, log det)
    logdet = torch.stack([torch.linalg.slogdet(jacobian(lambda v: model.flow(v[None])[0][0], p))[1] for p in x])
    reference = model.base.log_prob(z) + logdet.detach()
    with torch.no_grad():
        first, second = model.log_prob(x), model.log_prob(x)
        if torch.equal(first, second):
            err = float((first - reference).abs().max())
            return {"kind": "exact" if err <= 1e-6 * (1 + float(reference.abs().max())) else "approximate",
                    "max |log p - change of variables|": err, "dimension": d}
        draws = torch.stack([first, second] + [model.log_prob(x) for _ in range(repeats - 2)])
    se = draws.std(0) / math.sqrt(repeats)
    zs = (draws.mean(0) - reference) / se
    unbiased = bool(zs.abs().max() <= z_band)
    return {"kind": "unbiased estimate" if unbiased else "biased estimate",
            "max |z| of the mean": float(zs.abs().max()), "band": z_band,
            "sd of one evaluation": float(draws.std(0).mean()), "dimension": d}


def _vae_likelihood(vae: VAE, samples: int, generator: torch.Generator) -> dict:
    d = vae.num_dims
    images = torch.tensor(list(itertools.product((0, 1), repeat=d)), dtype=torch.long).reshape(-1, *vae.event_shape)
    with torch.no_grad():
        elbo = vae.elbo(images, samples, 1.0, generator)
        log_lik = vae.importance_log_likelihood(images, 10 * samples, batch=20 * samples, generator=generator)
    mass_elbo, mass_is = float(elbo.exp().sum()), float(log_lik.exp().sum())
    return {"kind": "bound" if mass_elbo < 1 and mass_is > mass_elbo else "unclear",
            "sum of exp(ELBO) over all images": mass_elbo, "sum of exp(IS log-likelihood)": mass_is,
            "images": len(images)}


@checked
def likelihood_kind(family: FamilyArg, d: AtLeast(2) = 4, *, repeats: AtLeast(3) = 200, z_band: float = 4.0,
                    generator: Rng = None) -> dict:
    """What ``log p(x)`` the family gives at dimension ``d``: exact, an unbiased estimate, a bound, or none."""
    g = generator or torch.Generator().manual_seed(0)
    model = family.make(d)
    if family.likelihood == "flow":
        x = torch.randn(4, d, generator=g, dtype=torch.float64)
        if family.name == "Glow":
            return {**_flow_likelihood(family, _GlowAsVector(model), x, repeats, z_band)}
        with (family.precise(model) if family.precise else _nothing()):
            return _flow_likelihood(family, model, x, repeats, z_band)
    if family.likelihood == "vae":
        return _vae_likelihood(model, 2000, g)
    if family.likelihood == "generator":
        name, fn, a = family.blocks(model)[0]
        s = jacobian_structure(fn, torch.randn(4, a, generator=g, dtype=torch.float64))
        return {"kind": "none" if s["rank"] < d else "unclear", "rank of the generator's Jacobian": s["rank"],
                "dimension": d}
    return {"kind": "not measured"}


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


class _GlowAsVector(nn.Module):
    """A Glow model on [B, D, 1, 1] seen as a model on [B, D] (for the change-of-variables check)."""

    def __init__(self, model):
        super().__init__()
        self.model, self.d = model, model.base.shape[0]
        self.base = StandardNormal(self.d).double()

    def flow(self, x):
        z, ld = self.model.flow(x.reshape(-1, self.d, 1, 1))
        return z.reshape(-1, self.d), ld

    def log_prob(self, x):
        return self.model.log_prob(x.reshape(-1, self.d, 1, 1))


@checked
def block_structures(family: FamilyArg, d: AtLeast(2) = 4, *, points: Count = 3,
                     generator: Rng = None) -> dict[str, dict]:
    """:func:`jacobian_structure` of every building block of ``family.make(d)`` at ``points`` random inputs."""
    g = generator or torch.Generator().manual_seed(0)
    model = family.make(d)
    return {name: jacobian_structure(fn, torch.randn(points, a, generator=g, dtype=torch.float64))
            for name, fn, a in family.blocks(model)}
