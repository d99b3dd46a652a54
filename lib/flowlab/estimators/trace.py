r"""Trace of a matrix, of a matrix-vector product, or of a function's Jacobian at a point.

The log-density of a continuous normalizing flow needs :math:`\operatorname{tr}(\partial f/\partial z)`
at every solver step. Three ways to get it:

- **exact**: :math:`\operatorname{tr} A = \sum_i e_i^\top A e_i`, one vector-Jacobian product (VJP) per
  dimension, so :math:`m` VJPs for an :math:`m`-dimensional state (``method="vjp"`` loops, ``"vmap"``
  batches the :math:`m` VJPs with ``torch.func.vmap``; same count, fewer Python round trips);
- **Hutchinson**: :math:`\operatorname{tr} A = \mathbb{E}[\varepsilon^\top A \varepsilon]` for any
  probe with :math:`\mathbb{E}\varepsilon = 0`, :math:`\operatorname{Cov}\varepsilon = I`: one VJP per
  probe. With :math:`S = (A + A^\top)/2`,

  .. math:: \operatorname{Var}_\text{Gaussian} = 2\|S\|_F^2, \qquad
            \operatorname{Var}_\text{Rademacher} = 2\big(\|S\|_F^2 - \textstyle\sum_i S_{ii}^2\big);

- **Hutch++** (Meyer, Musco, Musco & Woodruff 2021): spend a third of the matvec budget on a sketch
  :math:`Q = \operatorname{orth}(A G)`, take :math:`\operatorname{tr}(Q^\top A Q)` exactly and run
  Hutchinson only on the deflated rest :math:`(I - QQ^\top) A (I - QQ^\top)`. Unbiased for any
  :math:`Q` (the cross terms have zero trace); its error falls as :math:`1/k` in the number of
  matvecs :math:`k` when the spectrum decays, against :math:`1/\sqrt{k}` for Hutchinson.

Every estimator takes an *operator* in one of three forms:

- a square matrix ``A`` (``[m, m]`` tensor);
- a matvec function ``v -> A v`` applied to the last dimension of ``v``, with ``dim=m``;
- a function ``fn`` and a point ``x``: the Jacobian of ``fn`` at ``x``. ``x`` is ``[m]`` or a batch
  ``[B, m]`` whose rows ``fn`` maps independently (as a vector field does); the result then has
  one trace per row. The products are VJPs (``torch.func.vjp``), i.e. with :math:`A^\top`, which has
  the same trace and the same variances.

Randomness comes only from the ``torch.Generator`` passed in.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
from torch import Tensor
from torch.func import jacrev, vjp, vmap

from flowlab.validate import (
    Count,
    Function,
    MaybeFunction,
    OneOf,
    Samples,
    SeededRng,
    SquareMatrices,
    Vectors,
    check_count,
    check_dtype,
    check_square,
    check_tensor,
    checked,
)

NOISES = ("gaussian", "rademacher")
METHODS = ("vjp", "vmap")  # exact_trace's: one VJP at a time, or all at once


@dataclass
class Operator:
    """A linear operator seen through products with stacks of vectors ``V [k, *batch, m]``."""

    apply: Callable[[Tensor], Tensor]
    dim: int
    batch_shape: tuple
    dtype: torch.dtype
    device: torch.device
    products: int = 0  # matrix-vector (or vector-Jacobian) products taken so far

    def __call__(self, vs: Tensor) -> Tensor:
        self.products += vs.shape[0]
        return self.apply(vs)


def as_operator(op, x: Tensor | None = None, *, dim: int | None = None,
                dtype: torch.dtype = torch.float64) -> Operator:
    """Wrap a matrix, a matvec function (with ``dim``; probes of ``dtype``) or a function at a point
    ``x`` (its Jacobian). An :class:`Operator` passes through; its ``products`` counts every product.

    Not ``@checked``: ResidualFlow's log-determinants build their operator here at every forward pass
    (``dim`` and ``dtype``, checked below, only come with a matvec function)."""
    who = "as_operator"
    if isinstance(op, (Operator, Tensor)) and (x is not None or dim is not None):
        raise ValueError(f"{who}: a matrix or an Operator already knows its dimension; pass neither x nor dim")
    if isinstance(op, Operator):
        return op
    if isinstance(op, Tensor):
        A = check_square(op, f"{who} (its matrix)")
        return Operator(lambda vs: vs @ A.transpose(-1, -2), A.shape[0], (), A.dtype, A.device)
    if not callable(op):
        raise TypeError(f"{who}: expected a square matrix, a matvec function or a function, got {type(op).__name__}")
    if (x is None) == (dim is None):
        raise ValueError(f"{who}: for a function, give either the point x (its Jacobian at x) or dim= (a matvec)")
    if dim is not None:
        check_count(dim, "dim", who)
        check_dtype(dtype, who)
        x = torch.zeros(1, dim, dtype=dtype)
        y = op(x)
    else:
        check_tensor(x, f"{who} (its point x)")
        if x.dim() not in (1, 2) or x.shape[-1] == 0:
            raise ValueError(f"{who}: x must be a point [m] or a batch of points [B, m], got {list(x.shape)}")
        y, vjp_fn = vjp(op, x)
    if not isinstance(y, Tensor) or y.shape != x.shape:
        got = list(y.shape) if isinstance(y, Tensor) else type(y).__name__
        raise ValueError(f"{who}: the function must map its input to the same shape, {list(x.shape)} gave {got}")
    if dim is not None:
        return Operator(op, dim, (), y.dtype, y.device)
    return Operator(vmap(lambda v: vjp_fn(v)[0]), x.shape[-1], tuple(x.shape[:-1]), x.dtype, x.device)


def _operator(op, x, dim, who: str) -> Operator:
    """:func:`as_operator`, its errors prefixed with the name of the estimator the reader called."""
    try:
        return as_operator(op, x, dim=dim)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{who}: {err}") from err


def draw_probes(shape, noise: str, generator: torch.Generator, *, dtype=torch.float64,
                device="cpu") -> Tensor:
    """Probes with mean 0 and identity covariance: standard normal or Rademacher (+-1 w.p. 1/2).

    The estimators' (and the CNF's) one source of probes; they validate ``noise`` and ``generator`` (in
    their signatures: ``probes: Count, noise: OneOf(NOISES), generator: SeededRng``), so this one, which the
    CNF calls per solve, trusts them."""
    if noise == "gaussian":
        return torch.randn(shape, generator=generator, dtype=dtype, device=device)
    bits = torch.randint(0, 2, shape, generator=generator, device=device)
    return (2 * bits - 1).to(dtype)


@checked
def exact_trace(op, x: Tensor | None = None, *, dim: int | None = None, method: OneOf(METHODS) = "vjp") -> Tensor:
    r""":math:`\sum_i e_i^\top A e_i`: ``dim`` products, one per basis vector (``"vjp"`` one at a time,
    ``"vmap"`` all at once)."""
    A = _operator(op, x, dim, "exact_trace")
    eye = torch.eye(A.dim, dtype=A.dtype, device=A.device)
    basis = eye.reshape(A.dim, *([1] * len(A.batch_shape)), A.dim).expand(A.dim, *A.batch_shape, A.dim)
    if method == "vmap":
        return (A(basis) * basis).sum(-1).sum(0)
    total = torch.zeros(A.batch_shape, dtype=A.dtype, device=A.device)
    for i in range(A.dim):
        total = total + A(basis[i:i + 1])[0, ..., i]
    return total


@checked
def hutchinson_samples(op, x: Tensor | None = None, *, dim: int | None = None, probes: Count = 1,
                       noise: OneOf(NOISES) = "rademacher", generator: SeededRng) -> Tensor:
    r"""``probes`` independent draws of :math:`\varepsilon^\top A \varepsilon`, shape ``[probes, *batch]``."""
    A = _operator(op, x, dim, "hutchinson_samples")
    eps = draw_probes((probes, *A.batch_shape, A.dim), noise, generator, dtype=A.dtype, device=A.device)
    return (A(eps) * eps).sum(-1)


def hutchinson_trace(op, x: Tensor | None = None, *, dim: int | None = None, probes: int = 1,
                     noise: str = "rademacher", generator: torch.Generator) -> Tensor:
    """Hutchinson's estimate: the mean of ``probes`` quadratic forms (one product each)."""
    return hutchinson_samples(op, x, dim=dim, probes=probes, noise=noise, generator=generator).mean(0)


@checked
def hutch_plus_plus(op, x: Tensor | None = None, *, dim: int | None = None, matvecs: Count,
                    noise: OneOf(NOISES) = "rademacher", generator: SeededRng) -> Tensor:
    r"""Hutch++ with a budget of ``matvecs`` products (a multiple of 3, at least 3):
    sketch :math:`Q = \operatorname{orth}(A S)` with ``matvecs/3`` probes, exact
    :math:`\operatorname{tr}(Q^\top A Q)`, and Hutchinson with ``matvecs/3`` probes on the deflated rest."""
    who = "hutch_plus_plus"
    A = _operator(op, x, dim, who)
    k = matvecs // 3
    if matvecs % 3 or k > A.dim:
        raise ValueError(f"{who}: matvecs must be a multiple of 3, and matvecs/3 <= dimension {A.dim}, got {matvecs}")
    shape = (k, *A.batch_shape, A.dim)
    sketch = A(draw_probes(shape, noise, generator, dtype=A.dtype, device=A.device))
    Q, _ = torch.linalg.qr(sketch.movedim(0, -1))               # [*batch, m, k]
    Qs = Q.movedim(-1, 0)                                         # [k, *batch, m]
    low_rank = (A(Qs) * Qs).sum(-1).sum(0)
    g = draw_probes(shape, noise, generator, dtype=A.dtype, device=A.device)
    coeff = torch.einsum("...mk,j...m->j...k", Q, g)
    g_perp = g - torch.einsum("...mk,j...k->j...m", Q, coeff)
    rest = (A(g_perp) * g_perp).sum(-1).mean(0)
    return low_rank + rest


def symmetric_part(A: Tensor) -> Tensor:
    """:math:`(A + A^\top)/2` of a square matrix (or a batch ``[..., m, m]`` of them)."""
    return (A + A.transpose(-1, -2)) / 2


@checked
def hutchinson_variance(A: SquareMatrices, noise: OneOf(NOISES)) -> Tensor:
    r"""Variance of one probe's :math:`\varepsilon^\top A \varepsilon`:
    :math:`2\|S\|_F^2` (Gaussian) or :math:`2(\|S\|_F^2 - \sum_i S_{ii}^2)` (Rademacher)."""
    return _form_variance(A, noise)


def _form_variance(A: Tensor, noise: str) -> Tensor:
    """:func:`hutchinson_variance` without its checks, for callers that checked ``A`` and ``noise``."""
    S = symmetric_part(A)
    fro2 = (S ** 2).sum((-1, -2))
    if noise == "gaussian":
        return 2 * fro2
    return 2 * (fro2 - (torch.diagonal(S, dim1=-2, dim2=-1) ** 2).sum(-1))


@checked
def sample_variance_se(samples: Samples(4)) -> Tensor:
    r"""Standard error of the unbiased sample variance of i.i.d. ``samples`` (first dimension):
    :math:`\sqrt{(\mu_4 - \frac{n-3}{n-1}\sigma^4)/n}`, with the moments estimated from the sample.

    A rough scale only: as a band, its z-scores have heavy tails when the draws do (the estimate is low
    exactly when the sample variance is far out). For Hutchinson draws the exact law is known:
    :func:`flowlab.measure.quadratic_form_z` (false-alarm rate verified in tests/measure/test_bands.py)."""
    n = samples.shape[0]
    centred = samples - samples.mean(0)
    m2 = (centred ** 2).mean(0)
    m4 = (centred ** 4).mean(0)
    return ((m4 - (n - 3) / (n - 1) * m2 ** 2).clamp_min(0) / n).sqrt()


@checked
def field_jacobian(field: Function, t: float | Tensor, z: Vectors) -> Tensor:
    """Per-sample Jacobians ``∂f/∂z`` of ``field(t, ·)`` at a batch ``z`` of vectors: ``[B, D, D]``."""
    return _field_jacobian(field, t, z)


def _field_jacobian(field: Callable, t: float | Tensor, z: Tensor) -> Tensor:
    # integrated_jacobian's default Jacobian, at every solver step: it checked the field and the start point
    t = torch.as_tensor(t, dtype=z.dtype, device=z.device)
    return vmap(jacrev(lambda v: field(t, v[None])[0]))(z)


def bottleneck_jacobian(field, t: Tensor, z: Tensor) -> Tensor:
    r""":math:`J_h J_g` ``[B, H, H]`` of a field :math:`f = g \circ h` with ``field.encode`` (:math:`h`,
    into :math:`H` dimensions) and ``field.decode`` (:math:`g`): FFJORD's bottleneck trick estimates
    :math:`\operatorname{tr} J_g J_h = \operatorname{tr} J_h J_g` with a probe in :math:`\mathbb R^H`."""
    if not (callable(getattr(field, "encode", None)) and callable(getattr(field, "decode", None))):
        raise TypeError(f"bottleneck_jacobian needs a field with encode and decode, got {type(field).__name__}")
    h = field.encode(t, z)
    J_h = vmap(jacrev(lambda v: field.encode(t, v[None])[0]))(z)
    J_g = vmap(jacrev(lambda u: field.decode(t, u[None])[0]))(h)
    return J_h @ J_g


@checked
def integrated_jacobian(field: Function, x: Vectors, t0: float = 0.0, t1: float = 1.0, *,
                        jacobian: MaybeFunction = None, **odeint_kwargs) -> Tensor:
    r""":math:`M = \int_{t_0}^{t_1} J(t, z(t))\,dt` along each trajectory of :math:`dz/dt = f(t, z)`
    from ``x [B, D]``, solved by torchdiffeq on the augmented state :math:`[z, M]`.

    Why: FFJORD holds one probe :math:`\varepsilon` fixed along the trajectory, so its log-det estimate
    is :math:`\int \varepsilon^\top J \varepsilon\, dt = \varepsilon^\top M \varepsilon` (the solver's
    quadrature is linear in the integrand): a Hutchinson estimate of :math:`\operatorname{tr} M` whose
    variance is ``hutchinson_variance(M, noise)``. With a fixed-step method and the same step as the
    estimator, the identity holds to rounding. ``jacobian(t, z) -> [B, k, k]`` replaces the field's
    Jacobian (``partial(bottleneck_jacobian, field)``: :math:`J_h J_g` for the bottleneck trick)."""
    from torchdiffeq import odeint

    jacobian = partial(_field_jacobian, field) if jacobian is None else jacobian
    k = jacobian(torch.as_tensor(t0, dtype=x.dtype), x[:1]).shape[-1]

    def rhs(t, state):
        z, _ = state
        return field(t, z), jacobian(t, z)

    M0 = x.new_zeros(x.shape[0], k, k)
    times = torch.tensor([t0, t1], dtype=x.dtype, device=x.device)
    return odeint(rhs, (x, M0), times, **odeint_kwargs)[1][-1]


# ------------------------------------------------------------------- divergences inside an ODE solve
# A CNF needs tr(∂f/∂z) at every solver step, differentiably (training) and for a batch of samples
# that ``fn`` maps independently. These take ``fn`` on the batch and return ``(f(z), divergence)``.
# They run at every solver step and trust their caller: the CNF checks its input once per solve and
# draws the probe itself, of the shape of ``z`` (or of the bottleneck ``h``).

def _track(z: Tensor) -> Tensor:
    # The solver may hand over a tensor that does not require grad (data at t=0, or no_grad
    # evaluation): a detached copy that does is enough then, there is no graph behind it to keep.
    return z if z.requires_grad else z.detach().requires_grad_(True)


def _vjp_graph(out: Tensor, z: Tensor, cotangent: Tensor, keep: bool, batched: bool = False) -> Tensor:
    return torch.autograd.grad(out, z, cotangent, create_graph=keep, retain_graph=True,
                               is_grads_batched=batched)[0]


def divergence_exact(fn: Callable[[Tensor], Tensor], z: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(f(z), tr ∂f/∂z)`` per sample, exactly: the :math:`D` basis-vector VJPs in one batched
    ``autograd.grad(..., is_grads_batched=True)`` call (row :math:`i` of every sample's Jacobian
    from the cotangent :math:`e_i` in every row). Differentiable when grad mode is on."""
    keep = torch.is_grad_enabled()
    with torch.enable_grad():
        z = _track(z)
        out = fn(z)
        b, d = z.shape[0], out[0].numel()
        basis = torch.eye(d, dtype=out.dtype, device=out.device).reshape(d, 1, *out.shape[1:])
        rows = _vjp_graph(out, z, basis.expand(d, *out.shape), keep, batched=True)   # [d, B, *event]
        div = rows.reshape(d, b, d).diagonal(dim1=0, dim2=2).sum(-1)
    return (out, div) if keep else (out.detach(), div.detach())


def divergence_hutchinson(fn: Callable[[Tensor], Tensor], z: Tensor, probe: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(f(z), ε^T (∂f/∂z) ε)`` per sample: one VJP, an unbiased estimate of the divergence."""
    keep = torch.is_grad_enabled()
    with torch.enable_grad():
        z = _track(z)
        out = fn(z)
        div = (_vjp_graph(out, z, probe, keep) * probe).reshape(z.shape[0], -1).sum(dim=1)
    return (out, div) if keep else (out.detach(), div.detach())


def divergence_bottleneck(encode: Callable[[Tensor], Tensor], decode: Callable[[Tensor], Tensor],
                          z: Tensor, probe: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(g(h(z)), ε^T (∂h/∂z)(∂g/∂h) ε)`` with ε of the bottleneck's shape: two VJPs
    (FFJORD's bottleneck trick, :math:`\operatorname{tr}(J_g J_h) = \operatorname{tr}(J_h J_g)` for
    :math:`f = g \circ h`, :math:`h: \mathbb{R}^D \to \mathbb{R}^H`: an :math:`H \times H` trace, so the
    probes live in :math:`\mathbb{R}^H`, with a lower variance)."""
    keep = torch.is_grad_enabled()
    with torch.enable_grad():
        z = _track(z)
        h = encode(z)
        out = decode(h)
        u = _vjp_graph(h, z, probe, keep)       # ε^T ∂h/∂z, in z-space
        w = _vjp_graph(out, h, u, keep)         # ε^T ∂h/∂z ∂g/∂h, in h-space
        div = (w * probe).reshape(z.shape[0], -1).sum(dim=1)
    return (out, div) if keep else (out.detach(), div.detach())
