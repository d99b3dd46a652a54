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
from typing import Callable

import torch
from torch import Tensor
from torch.func import jacrev, vjp, vmap

from flowlab.validate import (
    check_callable,
    check_choice,
    check_count,
    check_dtype,
    check_event_shape,
    check_generator,
    check_tensor,
)

NOISES = ("gaussian", "rademacher")


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


def _check_noise(noise: str, who: str) -> None:
    check_choice(noise, NOISES, "noise", who)


def _check_count(name: str, value, who: str) -> None:
    check_count(value, name, who)


def _check_generator(generator, who: str) -> None:
    check_generator(generator, who, optional=False)


def as_operator(op, x: Tensor | None = None, *, dim: int | None = None,
                dtype: torch.dtype = torch.float64) -> Operator:
    """Wrap a matrix, a matvec function (with ``dim``; probes of ``dtype``) or a function at a point
    ``x`` (its Jacobian). An :class:`Operator` passes through; its ``products`` counts every product."""
    return _as_operator(op, x, dim, dtype, "as_operator")


def _as_operator(op, x, dim, dtype, who: str) -> Operator:
    if isinstance(op, Operator):
        if x is not None or dim is not None:
            raise ValueError(f"{who}: an Operator already knows its point and dimension; pass neither x nor dim")
        return op
    if isinstance(op, Tensor):
        if x is not None or dim is not None:
            raise ValueError(f"{who}: a matrix operator takes neither a point x nor dim")
        check_tensor(op, f"{who} (its matrix)", nonempty=False)
        if op.dim() != 2 or op.shape[0] != op.shape[1] or op.shape[0] == 0:
            raise ValueError(f"{who}: expected a square matrix [m, m], m >= 1, got shape {list(op.shape)}")
        A = op
        return Operator(lambda vs: vs @ A.transpose(-1, -2), A.shape[0], (), A.dtype, A.device)
    if not callable(op):
        raise TypeError(f"{who}: expected a square matrix, a matvec function or a function, got {type(op).__name__}")
    if x is None and dim is None:
        raise ValueError(f"{who}: for a function, give either the point x (its Jacobian at x) or dim= (it is a matvec)")
    if x is not None and dim is not None:
        raise ValueError(f"{who}: give either x (Jacobian of a function at x) or dim (a matvec function), not both")
    if dim is not None:
        _check_count("dim", dim, who)
        check_dtype(dtype, who)
        probe = torch.zeros(1, dim, dtype=dtype)
        out = op(probe)
        if not isinstance(out, Tensor) or out.shape != probe.shape:
            raise ValueError(f"{who}: the matvec must map [..., {dim}] to [..., {dim}]; "
                             f"[1, {dim}] gave {getattr(out, 'shape', type(out).__name__)}")
        return Operator(op, dim, (), out.dtype, out.device)
    check_tensor(x, f"{who} (its point x)")
    if x.dim() not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"{who}: x must be a point [m] or a batch of points [B, m], got {list(x.shape)}")
    y, vjp_fn = vjp(op, x)
    if not isinstance(y, Tensor) or y.shape != x.shape:
        raise ValueError(f"{who}: fn must map x of shape {list(x.shape)} to the same shape (a vector field), "
                         f"got {list(getattr(y, 'shape', [])) or type(y).__name__}")
    apply = vmap(lambda v: vjp_fn(v)[0])
    return Operator(apply, x.shape[-1], tuple(x.shape[:-1]), x.dtype, x.device)


def draw_probes(shape, noise: str, generator: torch.Generator, *, dtype=torch.float64,
                device="cpu") -> Tensor:
    """Probes with mean 0 and identity covariance: standard normal or Rademacher (+-1 w.p. 1/2)."""
    shape = check_event_shape(shape, "draw_probes (its shape)")
    _check_noise(noise, "draw_probes")
    _check_generator(generator, "draw_probes")
    check_dtype(dtype, "draw_probes")
    if noise == "gaussian":
        return torch.randn(shape, generator=generator, dtype=dtype, device=device)
    bits = torch.randint(0, 2, shape, generator=generator, device=device)
    return (2 * bits - 1).to(dtype)


def exact_trace(op, x: Tensor | None = None, *, dim: int | None = None, method: str = "vjp") -> Tensor:
    r""":math:`\sum_i e_i^\top A e_i`: ``dim`` products, one per basis vector (``"vjp"`` one at a time,
    ``"vmap"`` all at once)."""
    check_choice(method, ("vjp", "vmap"), "method", "exact_trace")
    A = _as_operator(op, x, dim, torch.float64, "exact_trace")
    eye = torch.eye(A.dim, dtype=A.dtype, device=A.device)
    basis = eye.reshape(A.dim, *([1] * len(A.batch_shape)), A.dim).expand(A.dim, *A.batch_shape, A.dim)
    if method == "vmap":
        return (A(basis) * basis).sum(-1).sum(0)
    total = torch.zeros(A.batch_shape, dtype=A.dtype, device=A.device)
    for i in range(A.dim):
        total = total + A(basis[i:i + 1])[0, ..., i]
    return total


def hutchinson_samples(op, x: Tensor | None = None, *, dim: int | None = None, probes: int = 1,
                       noise: str = "rademacher", generator: torch.Generator) -> Tensor:
    r"""``probes`` independent draws of :math:`\varepsilon^\top A \varepsilon`, shape ``[probes, *batch]``."""
    return _hutchinson_samples(op, x, dim, probes, noise, generator, "hutchinson_samples")


def _hutchinson_samples(op, x, dim, probes, noise, generator, who: str) -> Tensor:
    _check_count("probes", probes, who)
    _check_noise(noise, who)
    _check_generator(generator, who)
    A = _as_operator(op, x, dim, torch.float64, who)
    eps = draw_probes((probes, *A.batch_shape, A.dim), noise, generator, dtype=A.dtype, device=A.device)
    return (A(eps) * eps).sum(-1)


def hutchinson_trace(op, x: Tensor | None = None, *, dim: int | None = None, probes: int = 1,
                     noise: str = "rademacher", generator: torch.Generator) -> Tensor:
    """Hutchinson's estimate: the mean of ``probes`` quadratic forms (one product each)."""
    return _hutchinson_samples(op, x, dim, probes, noise, generator, "hutchinson_trace").mean(0)


def hutch_plus_plus(op, x: Tensor | None = None, *, dim: int | None = None, matvecs: int,
                    noise: str = "rademacher", generator: torch.Generator) -> Tensor:
    r"""Hutch++ with a budget of ``matvecs`` products (a multiple of 3, at least 3):
    sketch :math:`Q = \operatorname{orth}(A S)` with ``matvecs/3`` probes, exact
    :math:`\operatorname{tr}(Q^\top A Q)`, and Hutchinson with ``matvecs/3`` probes on the deflated rest."""
    who = "hutch_plus_plus"
    _check_count("matvecs", matvecs, who)
    if matvecs % 3:
        raise ValueError(f"{who}: matvecs must be a multiple of 3 (sketch, projection, Hutchinson), got {matvecs}")
    _check_noise(noise, who)
    _check_generator(generator, who)
    A = _as_operator(op, x, dim, torch.float64, who)
    k = matvecs // 3
    if k > A.dim:
        raise ValueError(f"{who}: matvecs/3 = {k} exceeds the dimension {A.dim}; the exact trace is cheaper")
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
    return _symmetric_part(A, "symmetric_part")


def _symmetric_part(A: Tensor, who: str) -> Tensor:
    check_tensor(A, who, nonempty=False)
    if A.dim() < 2 or A.shape[-1] != A.shape[-2] or A.numel() == 0:
        raise ValueError(f"{who}: expected a non-empty square matrix [..., m, m], got shape {list(A.shape)}")
    return (A + A.transpose(-1, -2)) / 2


def hutchinson_variance(A: Tensor, noise: str) -> Tensor:
    r"""Variance of one probe's :math:`\varepsilon^\top A \varepsilon`:
    :math:`2\|S\|_F^2` (Gaussian) or :math:`2(\|S\|_F^2 - \sum_i S_{ii}^2)` (Rademacher)."""
    _check_noise(noise, "hutchinson_variance")
    S = _symmetric_part(A, "hutchinson_variance")
    fro2 = (S ** 2).sum((-1, -2))
    if noise == "gaussian":
        return 2 * fro2
    return 2 * (fro2 - (torch.diagonal(S, dim1=-2, dim2=-1) ** 2).sum(-1))


def sample_variance_se(samples: Tensor) -> Tensor:
    r"""Standard error of the unbiased sample variance of i.i.d. ``samples`` (first dimension):
    :math:`\sqrt{(\mu_4 - \frac{n-3}{n-1}\sigma^4)/n}`, with the moments estimated from the sample.

    A rough scale only: as a band, its z-scores have heavy tails when the draws do (the estimate is low
    exactly when the sample variance is far out). For Hutchinson draws the exact law is known:
    :func:`flowlab.measure.quadratic_form_z` (false-alarm rate verified in tests/measure/test_bands.py)."""
    check_tensor(samples, "sample_variance_se")
    if samples.dim() < 1 or samples.shape[0] < 4:
        raise ValueError(f"sample_variance_se needs at least 4 samples along the first dimension, "
                         f"got shape {list(samples.shape)}")
    n = samples.shape[0]
    centred = samples - samples.mean(0)
    m2 = (centred ** 2).mean(0)
    m4 = (centred ** 4).mean(0)
    return ((m4 - (n - 3) / (n - 1) * m2 ** 2).clamp_min(0) / n).sqrt()


def hutchinson_bottleneck_samples(g: Callable, h: Callable, x: Tensor, *, probes: int = 1,
                                  noise: str = "rademacher", generator: torch.Generator) -> Tensor:
    r"""FFJORD's bottleneck trick for :math:`f = g \circ h` with :math:`h: \mathbb{R}^D \to \mathbb{R}^H`,
    :math:`H < D`: :math:`\operatorname{tr} J_f = \operatorname{tr}(J_g J_h) = \operatorname{tr}(J_h J_g)`,
    an :math:`H \times H` trace, so the probes live in :math:`\mathbb{R}^H` (lower variance).
    Each draw :math:`\varepsilon^\top J_h J_g \varepsilon` costs one VJP through ``h`` and one through
    ``g``. ``x`` is ``[D]`` or ``[B, D]``; returns ``[probes, *batch]``."""
    who = "hutchinson_bottleneck_samples"
    check_callable(g, "g", who)
    check_callable(h, "h", who)
    _check_count("probes", probes, who)
    _check_noise(noise, who)
    _check_generator(generator, who)
    check_tensor(x, f"{who} (its point x)")
    if x.dim() not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"{who}: x must be a point [D] or a batch [B, D], got {list(x.shape)}")
    hidden, vjp_h = vjp(h, x)
    out, vjp_g = vjp(g, hidden)
    if out.shape != x.shape or hidden.shape[:-1] != x.shape[:-1]:
        raise ValueError(f"{who}: need h: [..., D] -> [..., H] and g: [..., H] -> [..., D]; got x {list(x.shape)}, "
                         f"h(x) {list(hidden.shape)}, g(h(x)) {list(out.shape)}")
    eps = draw_probes((probes, *hidden.shape), noise, generator, dtype=x.dtype, device=x.device)
    quad = vmap(lambda e: (vjp_g(vjp_h(e)[0])[0] * e).sum(-1))
    return quad(eps)


def integrated_jacobian(field: Callable, x: Tensor, t0: float = 0.0, t1: float = 1.0, *,
                        jacobian: Callable | None = None, **odeint_kwargs) -> Tensor:
    r""":math:`M = \int_{t_0}^{t_1} J(t, z(t))\,dt` along each trajectory of :math:`dz/dt = f(t, z)`
    from ``x [B, D]``, solved by torchdiffeq on the augmented state :math:`[z, M]`.

    Why: FFJORD holds one probe :math:`\varepsilon` fixed along the trajectory, so its log-det estimate
    is :math:`\int \varepsilon^\top J \varepsilon\, dt = \varepsilon^\top M \varepsilon` (the solver's
    quadrature is linear in the integrand): a Hutchinson estimate of :math:`\operatorname{tr} M` whose
    variance is ``hutchinson_variance(M, noise)``. With a fixed-step method and the same step as the
    estimator, the identity holds to rounding. ``jacobian(t, z) -> [B, k, k]`` replaces the field's
    Jacobian (e.g. :math:`J_h J_g` for the bottleneck trick)."""
    from torchdiffeq import odeint

    who = "integrated_jacobian"
    check_callable(field, "field", who)
    check_tensor(x, who)
    if x.dim() != 2:
        raise ValueError(f"{who}: x must be a batch of points [B, D], got {list(x.shape)}")
    if jacobian is None:
        def jacobian(t, z):  # inside the solve: no input checks at every step
            return _field_jacobian(field, t, z)
    else:
        check_callable(jacobian, "jacobian", who)
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
    if not isinstance(probe, Tensor) or probe.shape != z.shape:
        got = list(probe.shape) if isinstance(probe, Tensor) else type(probe).__name__
        raise ValueError(f"divergence_hutchinson: the probe must have the shape of z {list(z.shape)}, got {got}")
    keep = torch.is_grad_enabled()
    with torch.enable_grad():
        z = _track(z)
        out = fn(z)
        div = (_vjp_graph(out, z, probe, keep) * probe).reshape(z.shape[0], -1).sum(dim=1)
    return (out, div) if keep else (out.detach(), div.detach())


def divergence_bottleneck(encode: Callable[[Tensor], Tensor], decode: Callable[[Tensor], Tensor],
                          z: Tensor, probe: Tensor) -> tuple[Tensor, Tensor]:
    r"""``(g(h(z)), ε^T (∂h/∂z)(∂g/∂h) ε)`` with ε of the bottleneck's shape: two VJPs
    (the same estimator as :func:`hutchinson_bottleneck_samples`, inside a solve)."""
    keep = torch.is_grad_enabled()
    with torch.enable_grad():
        z = _track(z)
        h = encode(z)
        if not isinstance(probe, Tensor) or probe.shape != h.shape:
            got = list(probe.shape) if isinstance(probe, Tensor) else type(probe).__name__
            raise ValueError(f"divergence_bottleneck: the probe must have the shape of h {list(h.shape)}, got {got}")
        out = decode(h)
        u = _vjp_graph(h, z, probe, keep)       # ε^T ∂h/∂z, in z-space
        w = _vjp_graph(out, h, u, keep)         # ε^T ∂h/∂z ∂g/∂h, in h-space
        div = (w * probe).reshape(z.shape[0], -1).sum(dim=1)
    return (out, div) if keep else (out.detach(), div.detach())


def field_jacobian(field: Callable, t: float | Tensor, z: Tensor) -> Tensor:
    """Per-sample Jacobians ``∂f/∂z`` of ``field(t, ·)`` at a batch ``z`` of vectors: ``[B, D, D]``."""
    check_callable(field, "field", "field_jacobian")
    check_tensor(z, "field_jacobian")
    if z.dim() != 2:
        raise ValueError(f"field_jacobian expects a batch of vectors [B, D], got {list(z.shape)}")
    return _field_jacobian(field, t, z)


def _field_jacobian(field: Callable, t: float | Tensor, z: Tensor) -> Tensor:
    t = torch.as_tensor(t, dtype=z.dtype, device=z.device)
    return vmap(jacrev(lambda v: field(t, v[None])[0]))(z)
