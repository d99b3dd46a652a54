r"""Sylvester flows (van den Berg et al. 2018): a rank-:math:`d` residual map with a :math:`d \times d` log-det.

The general form (lecture 003, with :math:`m` the data dimension and :math:`d \le m` the hidden one):

.. math:: g(z) = z + A\, h(B z + b), \qquad A \in \mathbb R^{m \times d},\ B \in \mathbb R^{d \times m},

has Jacobian :math:`I_m + A\,\mathrm{diag}(h')\,B`, and Sylvester's determinant identity

.. math:: \det(I_m + A B) = \det(I_d + B A)

turns its :math:`O(m^3)` determinant into an :math:`O(d^3)` one (:func:`sylvester_logdet`).

The flow layer uses the Householder parametrization (H-SNF): :math:`A = Q R`, :math:`B = \tilde R Q^\top`
with :math:`Q \in \mathbb R^{m \times d}` the first :math:`d` columns of a product of Householder
reflections (orthonormal columns) and :math:`R, \tilde R` upper triangular. Then
:math:`\det(I_d + \mathrm{diag}(h')\tilde R Q^\top Q R) = \prod_i (1 + h'_i \tilde R_{ii} R_{ii})`, and
with :math:`h = \tanh` and diagonals :math:`\tanh(\cdot)` (so :math:`R_{ii}\tilde R_{ii} > -1`) the map
is invertible.

**One map, three choices of Q** (:func:`sylvester_map`, shared or per-sample parameters): the
paper's O-SNF orthogonalizes a free :math:`m \times M` matrix (:func:`orthogonalize`), H-SNF
multiplies Householder reflections (:func:`householder_q`, the flow layer below), T-SNF takes
:math:`Q` the identity or the reversal permutation, alternating between flows. Amortized
posteriors (:mod:`flowlab.flows.amortized`) call the same map with parameters computed per sample.

**Directions.** As for planar flows, ``inverse(z)`` is the closed-form :math:`g` (sampling direction)
and ``forward(x)`` solves :math:`g(z) = x`: the part of :math:`z` orthogonal to :math:`Q` equals
:math:`x`'s, and :math:`v = Q^\top z` solves :math:`v + R\tanh(\tilde R v + b) = Q^\top x`, a
*triangular* system: equation :math:`i` involves only :math:`v_i, \dots, v_d`. Back-substitution
from :math:`i = d` down solves one increasing scalar equation per row
(:func:`~flowlab.flows.planar.solve_tanh_residual`), then one Newton step with autograd on gives
implicit-function gradients.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from flowlab.flows.base import Flow
from flowlab.flows.planar import solve_tanh_residual
from flowlab.validate import Count, MaybeCount, Shape, checked


@checked
def sylvester_logdet(a: Shape("m d"), b: Shape("d m"), hprime: Shape("B d")) -> Tensor:
    r""":math:`\log|\det(I_m + A\,\mathrm{diag}(h')\,B)|` through the :math:`d \times d` determinant
    :math:`\det(I_d + \mathrm{diag}(h')\,B A)`.

    ``a``: [m, d]; ``b``: [d, m]; ``hprime``: [batch, d] (one diagonal per sample). Returns [batch].
    """
    d = a.shape[1]
    small = torch.eye(d, dtype=a.dtype, device=a.device) + hprime.unsqueeze(-1) * (b @ a)
    return torch.linalg.slogdet(small)[1]


@checked
def dense_logdet(a: Shape("m d"), b: Shape("d m"), hprime: Shape("B d")) -> Tensor:
    r""":math:`\log|\det(I_m + A\,\mathrm{diag}(h')\,B)|` the direct way, an :math:`m \times m` determinant."""
    m = a.shape[0]
    big = torch.eye(m, dtype=a.dtype, device=a.device) + (a * hprime.unsqueeze(1)) @ b
    return torch.linalg.slogdet(big)[1]


# The factors of the map, shared by the layer and the amortized posteriors. No input checks: the layer's
# constructor and the posterior's heads shape what they pass.
def _row_times(x: Tensor, m: Tensor) -> Tensor:
    """Row vectors ``x`` [batch, k] times matrices ``m`` [k, n] (shared) or [batch, k, n] (one per row)."""
    return (x.unsqueeze(-2) @ m).squeeze(-2)


def triangle(upper: Tensor, diag_raw: Tensor) -> Tensor:
    r"""An upper-triangular :math:`R`: the strictly upper part of ``upper`` [..., d, d] and the
    diagonal :math:`\tanh(\text{diag\_raw})` [..., d], so that :math:`|R_{ii}| < 1` and any two such
    triangles give :math:`R_{ii}\tilde R_{ii} > -1` (an invertible map)."""
    return torch.triu(upper, 1) + torch.diag_embed(torch.tanh(diag_raw))


def householder_q(vectors: Tensor, columns: int) -> Tensor:
    r""":math:`Q` [..., m, columns]: the first ``columns`` columns of :math:`H_1 \cdots H_K`,
    :math:`H_k = I - 2 v_k v_k^\top / \|v_k\|^2`, from ``vectors`` [..., K, m] (batched or not),
    ``columns <= m``. Orthonormal columns by construction (H-SNF)."""
    *lead, k, m = vectors.shape
    unit = vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(vectors.dtype).tiny)
    unit = unit.reshape(-1, k, m)                       # one flat batch: batched GEMMs, no broadcasting
    v = unit[:, -1]                                     # the last reflection, applied to I[:, :columns]
    eye = torch.eye(m, columns, dtype=vectors.dtype, device=vectors.device)
    q = eye - 2 * v.unsqueeze(-1) * v[:, :columns].unsqueeze(-2)
    for i in reversed(range(k - 1)):
        v = unit[:, i]
        q = torch.baddbmm(q, v.unsqueeze(-1), torch.bmm(v.unsqueeze(-2), q), alpha=-2)
    return q.reshape(*lead, m, columns)


def orthogonalize(a: Tensor, max_steps: int = 100) -> Tensor:
    r"""Orthonormal columns from ``a`` [..., m, M], :math:`M \le m` (O-SNF, van den Berg et al.):
    scale each matrix by its Frobenius norm (all singular values :math:`\le 1`), then iterate

    .. math:: Q_{k+1} = Q_k \left(I + \tfrac12 (I - Q_k^\top Q_k)\right),

    which sends every singular value :math:`\sigma \in (0, \sqrt 3)` to 1, quadratically: with
    :math:`e = 1 - \sigma^2`, one step gives :math:`e' = \tfrac34 e^2 + \tfrac14 e^3`.

    Each matrix stops on its own, at its first step with :math:`\|Q^\top Q - I\|_F \le \sqrt{\epsilon}`
    (:math:`\epsilon` the dtype's machine epsilon; or after ``max_steps``), and then takes one more
    step, which leaves :math:`|e| \lesssim \epsilon`: :math:`Q` is orthonormal to working precision,
    so the Sylvester log-det (which takes :math:`Q^\top Q = I`) is that of the :math:`Q` used, and a
    matrix's :math:`Q` does not depend on the other matrices of its batch. Differentiable (gradients
    flow through the iterations)."""
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    tol = torch.finfo(a.dtype).eps ** 0.5
    q = a / a.flatten(-2).norm(dim=-1).clamp_min(torch.finfo(a.dtype).tiny)[..., None, None]
    for _ in range(max_steps):
        gram = q.transpose(-1, -2) @ q
        active = (gram.detach() - eye).flatten(-2).norm(dim=-1) > tol     # per matrix
        if not bool(active.any()):
            break
        q = torch.where(active[..., None, None], q @ (1.5 * eye - 0.5 * gram), q)
    return q @ (1.5 * eye - 0.5 * (q.transpose(-1, -2) @ q))


def sylvester_map(z: Tensor, q: Tensor, r: Tensor, r_tilde: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    r""":math:`g(z) = z + Q R \tanh(\tilde R Q^\top z + b)` and
    :math:`\log|\det \partial g/\partial z| = \sum_i \log|1 + h'_i R_{ii}\tilde R_{ii}|`.

    The one Sylvester map, for every choice of :math:`Q` (Householder, orthogonalized, a permutation):
    ``q`` is [m, d] or [batch, m, d] with orthonormal columns, ``r``, ``r_tilde`` upper triangular
    [d, d] or [batch, d, d], ``b`` [d] or [batch, d]: shared parameters or one set per sample (an
    amortized posterior's). The log-det is Sylvester's identity with :math:`Q^\top Q = I`:
    :math:`\det(I_d + \mathrm{diag}(h')\tilde R R)`, triangular. Returns ``(g(z), logdet [batch])``.
    """
    t = torch.tanh(_row_times(_row_times(z, q), r_tilde.transpose(-1, -2)) + b)
    diag = torch.diagonal(r, dim1=-2, dim2=-1) * torch.diagonal(r_tilde, dim1=-2, dim2=-1)
    logdet = torch.log((1 + (1 - t * t) * diag).abs()).sum(-1)
    return z + _row_times(_row_times(t, r.transpose(-1, -2)), q.transpose(-1, -2)), logdet


class SylvesterFlow(Flow):
    r"""Householder Sylvester flow :math:`g(z) = z + Q R \tanh(\tilde R Q^\top z + b)`.

    ``features`` is :math:`m`, ``hidden`` is :math:`d \le m`, ``reflections`` the number of
    Householder vectors whose product gives :math:`Q` (default :math:`m`, enough for any orthogonal
    matrix up to sign). ``inverse(z)`` is :math:`g` (sampling direction, closed form);
    ``forward(x)`` is :math:`g^{-1}` by triangular back-substitution (module docstring).
    """

    @checked
    def __init__(self, features: Count, hidden: MaybeCount = None, reflections: MaybeCount = None,
                 init_scale: float = 0.5):
        super().__init__()
        hidden = features if hidden is None else hidden
        reflections = features if reflections is None else reflections
        if hidden > features:
            raise ValueError(f"SylvesterFlow needs hidden <= features (d <= m), got {hidden} > {features}")
        self.features, self.hidden = features, hidden
        self.event_shape = (features,)
        self.householder = nn.Parameter(torch.randn(reflections, features))
        self.r_upper = nn.Parameter(torch.randn(hidden, hidden) * init_scale / hidden ** 0.5)
        self.r_tilde_upper = nn.Parameter(torch.randn(hidden, hidden) * init_scale / hidden ** 0.5)
        self.r_diag_raw = nn.Parameter(torch.randn(hidden) * init_scale)
        self.r_tilde_diag_raw = nn.Parameter(torch.randn(hidden) * init_scale)
        self.b = nn.Parameter(torch.zeros(hidden))

    def q(self) -> Tensor:
        """:math:`Q` [m, d]: the first d columns of :math:`H_1 \\cdots H_K`, orthonormal by construction."""
        return householder_q(self.householder, self.hidden)

    def triangles(self) -> tuple[Tensor, Tensor]:
        """:math:`R, \\tilde R`: strictly upper parts free, diagonals :math:`\\tanh`
        (so :math:`R_{ii}\\tilde R_{ii} > -1`)."""
        return triangle(self.r_upper, self.r_diag_raw), triangle(self.r_tilde_upper, self.r_tilde_diag_raw)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return sylvester_map(z, self.q(), *self.triangles(), self.b)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        q = self.q()
        r, rt = self.triangles()
        y = x @ q
        v = self._back_substitute(y.detach(), r.detach(), rt.detach(), self.b.detach())
        # One Newton step at the detached root: J = I + R diag(h') R~ is upper triangular.
        t0 = torch.tanh(v @ rt.T + self.b)
        residual = v + t0 @ r.T - y
        jac = torch.eye(self.hidden, dtype=x.dtype, device=x.device) + (r * (1 - t0 * t0).unsqueeze(1)) @ rt
        v = v - torch.linalg.solve_triangular(jac, residual.unsqueeze(-1), upper=True).squeeze(-1)
        t = torch.tanh(v @ rt.T + self.b)
        logdet = -torch.log((1 + (1 - t * t) * torch.diagonal(r) * torch.diagonal(rt)).abs()).sum(-1)
        return x + (v - y) @ q.T, logdet

    @staticmethod
    def _back_substitute(y: Tensor, r: Tensor, rt: Tensor, b: Tensor) -> Tensor:
        d = r.shape[0]
        v = torch.zeros_like(y)
        tanh_done = torch.zeros_like(y)  # tanh((R~ v + b)_j) for the rows j already solved
        for i in reversed(range(d)):
            shift = v[:, i + 1:] @ rt[i, i + 1:] + b[i]
            known = tanh_done[:, i + 1:] @ r[i, i + 1:]
            v_i = solve_tanh_residual(y[:, i] - known, r[i, i], rt[i, i], shift)
            v = v.clone()
            v[:, i] = v_i
            tanh_done = tanh_done.clone()
            tanh_done[:, i] = torch.tanh(rt[i, i] * v_i + shift)
        return v
