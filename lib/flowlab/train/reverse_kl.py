r"""Fitting a flow sampler to an unnormalized density :math:`p \propto e^{-U}` by reverse KL.

For a flow sampler :math:`q` (base :math:`\mathcal N(0, I)` pushed through the flow's ``inverse``, the
sampling direction)

.. math:: \mathrm{KL}(q\,\|\,p) = \mathbb E_q[\log q(z) + U(z)] + \log Z,

so training minimises :math:`\mathbb E_q[\log q + U]` (needs no :math:`Z`) and the KL itself is
reported with :math:`\log Z` from a fine grid (:func:`flowlab.data.energies.log_normalizer`). The ensemble
fitters train several (energy, seed) copies at once with ``torch.func.vmap``; each copy takes exactly
the Adam steps it would take alone.
"""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from flowlab.data.energies import ENERGIES, energy
from flowlab.flows.base import Flow, Inverse
from flowlab.flows.continuous import CNF
from flowlab.flows.model import StandardNormal
from flowlab.nn import TimeConcatMLP
from flowlab.nn.fields import StackedTimeMLP
from flowlab.train.loop import History, fit, seed_everything
from flowlab.validate import (
    AtLeast,
    Count,
    Count0,
    Function,
    IsA,
    ItemsOf,
    Number,
    OneOf,
    Positive,
    Rng,
    checked,
)

Energies, Seeds = ItemsOf(OneOf(ENERGIES)), ItemsOf(Count0)  # the contracts of an ensemble's keys


def sample_with_log_prob(flow: Flow, n: int, generator: torch.Generator | None = None,
                         features: int = 2) -> tuple[Tensor, Tensor]:
    r"""Draw :math:`z = g(\varepsilon)`, :math:`\varepsilon \sim \mathcal N(0, I)`, through ``flow.inverse``
    and return :math:`(z, \log q(z))` with
    :math:`\log q = \log \mathcal N(\varepsilon) - \log|\det \partial g/\partial\varepsilon|`.

    Differentiable in the flow's parameters (the reparametrization trick). The fitters and
    :func:`kl_to_target` check the flow and ``n``.
    """
    param = next(flow.parameters(), None)
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    base = StandardNormal(features).to(dtype=dtype)
    eps = base.sample(n, generator=generator)
    z, logdet = flow.inverse(eps)
    return z, base.log_prob(eps) - logdet


def reverse_kl_loss(flow: Flow, u: Callable[[Tensor], Tensor], n: int,
                    generator: torch.Generator | None = None) -> Tensor:
    r"""Monte Carlo :math:`\mathbb E_q[\log q(z) + U(z)]` over ``n`` samples (KL minus :math:`\log Z`)."""
    z, log_q = sample_with_log_prob(flow, n, generator)
    return (log_q + u(z)).mean()


@checked
def kl_to_target(flow: IsA(Flow, "a Flow (sampled through its inverse)"), u: Function, log_z: Number,
                 n: AtLeast(2) = 20000, generator: Rng = None) -> tuple[float, float]:
    r""":math:`\mathrm{KL}(q\,\|\,p)` and its standard error, estimated from ``n`` samples of ``q`` (two at
    least: the standard error needs them)."""
    with torch.no_grad():
        z, log_q = sample_with_log_prob(flow, n, generator)
        terms = log_q + u(z) + log_z
    return terms.mean().item(), (terms.std() / math.sqrt(n)).item()


def fit_reverse_kl(flow: Flow, u: Callable[[Tensor], Tensor], *, steps: int, batch: int, lr: float,
                   seed: int, desc: str = "reverse KL") -> History:
    """Fit ``flow`` to :math:`e^{-U}` by minimising :func:`reverse_kl_loss` with Adam via :func:`flowlab.train.fit`.

    Each step draws a fresh batch from a generator seeded with ``seed``, so a fit is reproducible.
    (No checks of its own: a helper of the tests and benchmarks; :func:`fit` checks the loop.)
    """
    gen = seed_everything(seed)
    return fit(flow, lambda _: reverse_kl_loss(flow, u, batch, gen), lambda step: step,
               steps=steps, lr=lr, desc=desc)


def _ensemble_keys(energies: tuple, seeds: tuple) -> list[tuple[str, int]]:
    """The (energy, seed) grid of an ensemble fitter (its entry checked both)."""
    return [(name, seed) for name in energies for seed in seeds]


class _StackedParameters(nn.Module):
    """Parameters of several copies of one module, stacked along a new first axis, for ``vmap``."""

    def __init__(self, stacked: dict[str, Tensor]):
        super().__init__()
        self.names = list(stacked)
        self.values = nn.ParameterList([nn.Parameter(v.detach().clone()) for v in stacked.values()])

    def as_dict(self) -> dict[str, Tensor]:
        return dict(zip(self.names, self.values))


@checked
def fit_reverse_kl_ensemble(make_flow: Function, energies: Energies, seeds: Seeds, *, steps: int, batch: Count,
                            lr: float, checkpoint: str | Path | None = None, checkpoint_every: Count0 = 0,
                            desc: str = "reverse KL") -> tuple[dict[tuple[str, int], Flow], History]:
    r"""Fit one flow per (energy, seed) pair, all at once, by reverse KL; return them and the history.

    Flow ``(name, seed)`` is built by ``make_flow()`` right after ``seed_everything(seed)``. The copies'
    parameters are stacked and the per-copy losses evaluated in one ``torch.func.vmap`` call, so
    Python overhead is paid once instead of once per copy. Their losses are summed: the copies share
    no parameters and Adam's update is elementwise, so each copy takes exactly the steps it would
    take alone (on its own noise draws, which come from one generator seeded with ``seeds[0]``).
    The history's losses are the sum over copies. ``checkpoint`` and ``checkpoint_every`` are
    :func:`~flowlab.train.fit`'s: a fit stopped mid-way resumes (keyed by the grid, the batch and the
    stacked parameters' shapes, so another ``make_flow`` retrains).
    """
    keys = _ensemble_keys(energies, seeds)
    flows = []
    for _, seed in keys:
        seed_everything(seed)
        flows.append(make_flow())
    params, buffers = stack_module_state([Inverse(f) for f in flows])
    skeleton = copy.deepcopy(Inverse(flows[0])).to("meta")
    stacked = _StackedParameters(params)
    which = torch.tensor([list(ENERGIES).index(name) for name, _ in keys])
    gen = seed_everything(int(seeds[0]))
    dtype = next(iter(params.values())).dtype

    def one_loss(p, b, eps, k):
        z, logdet = functional_call(skeleton, (p, b), (eps,))
        log_q = -0.5 * (eps * eps).sum(-1) - math.log(2 * math.pi) - logdet
        u_all = torch.stack([u(z) for u in ENERGIES.values()])
        return (log_q + u_all.gather(0, k.expand(1, z.shape[0])).squeeze(0)).mean()

    def loss_fn(_):
        eps = torch.randn(len(keys), batch, 2, generator=gen, dtype=dtype)
        return vmap(one_loss)(stacked.as_dict(), buffers, eps, which).sum()

    config = dict(keys=keys, batch=batch, shapes={n: list(v.shape) for n, v in params.items()})
    history = fit(stacked, loss_fn, lambda step: step, steps=steps, lr=lr, checkpoint=checkpoint,
                  checkpoint_every=checkpoint_every, generators=(gen,), config=config, desc=desc)
    with torch.no_grad():
        for i, f in enumerate(flows):
            Inverse(f).load_state_dict({**{n: v[i] for n, v in stacked.as_dict().items()},
                                        **{n: v[i] for n, v in buffers.items()}})
    return dict(zip(keys, flows)), history


@checked
def fit_reverse_kl_cnf_ensemble(energies: Energies, seeds: Seeds, *, hidden: Count, steps: int, batch: Count, lr: float,
                                step_size: Positive = 0.25, T: float = 1.0, checkpoint: str | Path | None = None,
                                checkpoint_every: Count0 = 0,
                                desc: str = "reverse KL (CNF)") -> tuple[dict[tuple[str, int], Flow], History]:
    r"""Fit one CNF with a ``TimeConcatMLP(2, (hidden,), "tanh")`` field per (energy, seed) pair by reverse KL.

    All members run as one CNF over :class:`flowlab.nn.fields.StackedTimeMLP` (fixed-step RK4, ``step_size``), trained
    on the sum of their losses, which separates exactly as in :func:`fit_reverse_kl_ensemble`. The
    training log-det uses Hutchinson's estimator with Rademacher probes (FFJORD; unbiased, and with a
    block-diagonal Jacobian the probe only mixes each member's own 2 x 2 block). Returned members are
    ordinary CNFs with the exact trace, for evaluation. ``checkpoint`` and ``checkpoint_every``: as in
    :func:`fit_reverse_kl_ensemble`.
    """
    keys = _ensemble_keys(energies, seeds)
    members = []
    for _, seed in keys:
        seed_everything(seed)
        members.append(TimeConcatMLP(2, (hidden,), "tanh"))
    field = StackedTimeMLP(members)
    gen = seed_everything(int(seeds[0]))
    options = {"step_size": step_size}
    cnf = CNF(field, 2 * len(keys), T=T, trace="hutchinson", noise="rademacher", method="rk4",
              options=options, generator=gen)
    us = [energy(name) for name, _ in keys]
    dtype = field.w1.dtype

    def loss_fn(_):
        eps = torch.randn(batch, 2 * len(keys), generator=gen, dtype=dtype)
        x, logdet = cnf.inverse(eps)
        xs = x.reshape(batch, len(keys), 2)
        total_u = sum(u(xs[:, i]) for i, u in enumerate(us))
        log_q = -0.5 * (eps * eps).sum(-1) - len(keys) * math.log(2 * math.pi) - logdet
        return (log_q + total_u).mean()

    config = dict(keys=keys, batch=batch, hidden=hidden, step_size=step_size, T=T)
    history = fit(cnf, loss_fn, lambda step: step, steps=steps, lr=lr, checkpoint=checkpoint,
                  checkpoint_every=checkpoint_every, generators=(gen,), config=config, desc=desc)
    flows = {key: CNF(field.member(i), 2, T=T, trace="exact", method="rk4", options=options)
             for i, key in enumerate(keys)}
    return flows, history
