"""The harness every flow layer goes through.

Two checks, in float64, on the inputs given (draw them fresh in the test):

1. round trip: ``inverse(forward(x)) == x`` and the two directions' log-dets are opposite;
2. log-det: ``forward``'s log-det equals ``log|det J|`` of autograd's full Jacobian of the map,
   per sample, flattening event dimensions: by ``torch.func.jacrev`` (``jacobian="jacrev"``), or by
   ``torch.autograd.functional.jacobian`` (``jacobian="autograd"``) for maps that functorch's
   transforms cannot go through, such as an ODE solve (torchdiffeq).

Layers start as the identity (zero-initialised last layers), where both checks would pass for any
code: :func:`randomize_parameters` moves every parameter first. Layers with data-dependent
initialisation (ActNorm) must be initialised before the check.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.functional import jacobian as autograd_jacobian
from torch.func import jacrev

from flowlab.flows.base import Flow
from flowlab.validate import OneOf, checked

JACOBIANS = ("jacrev", "autograd")


@dataclass
class HarnessReport:
    roundtrip_error: float       # max |inverse(forward(x)) - x|
    logdet_sum_error: float      # max |logdet_fwd + logdet_inv|
    logdet_error: float          # max |logdet_fwd - log|det J_autograd||
    jacobian_max_logdet: float   # largest |log|det J|| seen, for scale

    def ok(self, atol: float = 1e-8) -> bool:
        return max(self.roundtrip_error, self.logdet_sum_error, self.logdet_error) <= atol


def randomize_parameters(module: torch.nn.Module, std: float = 0.3, *, generator: torch.Generator | None = None,
                         seed: int = 0, add: bool = False):
    """Set every parameter to N(0, std^2) draws (or, with ``add``, add them) and return ``module``.

    The draws come from ``generator``, or from a fresh one seeded with ``seed``."""
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            noise = std * torch.randn(p.shape, generator=g, dtype=p.dtype, device=g.device).to(p.device)
            p.add_(noise) if add else p.copy_(noise)
    return module


@checked
def autograd_logdet(fn, x: Tensor, jacobian: OneOf(JACOBIANS) = "jacrev") -> Tensor:
    """``log|det J|`` of ``fn`` at each sample of ``x``, by the full Jacobian (small events only).

    ``jacobian``: ``"jacrev"`` (``torch.func.jacrev``) or ``"autograd"``
    (``torch.autograd.functional.jacobian``, which also goes through torchdiffeq's solvers)."""
    out = []
    for xi in x:  # one sample at a time: layers may rely on batch statistics being unchanged
        def single(v, xi=xi):
            return fn(v.reshape(1, *xi.shape)).reshape(-1)

        flat = xi.reshape(-1)
        jac = jacrev(single)(flat) if jacobian == "jacrev" else autograd_jacobian(single, flat)
        out.append(torch.linalg.slogdet(jac)[1])
    return torch.stack(out)


@checked
def check_flow(flow: Flow, x: Tensor, atol: float = 1e-8, jacobian: OneOf(JACOBIANS) = "jacrev") -> HarnessReport:
    """Run the harness on a float64 copy of ``flow`` at ``x`` (converted to float64) and raise on
    failure; ``flow`` itself is left as it is (its dtype, parameters and buffers).

    ``jacobian="autograd"`` takes the reference Jacobian with ``torch.autograd.functional.jacobian``
    instead of ``torch.func.jacrev`` (needed for a CNF: ``jacrev`` cannot go through torchdiffeq)."""
    flow = copy.deepcopy(flow).double()
    x = x.double()
    with torch.no_grad():
        z, ld_fwd = flow(x)
        x_rec, ld_inv = flow.inverse(z)
    if ld_fwd.shape != (x.shape[0],) or ld_inv.shape != (x.shape[0],):
        raise AssertionError(
            f"log-det must have shape [batch]={[x.shape[0]]}; got forward {list(ld_fwd.shape)}, "
            f"inverse {list(ld_inv.shape)}"
        )
    ld_auto = autograd_logdet(lambda v: flow(v)[0], x, jacobian)
    report = HarnessReport(
        roundtrip_error=(x_rec - x).abs().max().item(),
        logdet_sum_error=(ld_fwd + ld_inv).abs().max().item(),
        logdet_error=(ld_fwd - ld_auto).abs().max().item(),
        jacobian_max_logdet=ld_auto.abs().max().item(),
    )
    if not report.ok(atol):
        raise AssertionError(f"{type(flow).__name__} fails the flow harness (atol={atol}): {report}")
    return report
