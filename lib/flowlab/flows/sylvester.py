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
from flowlab.validate import check_count, check_positive, check_tensor


def _check_factors(a: Tensor, b: Tensor, hprime: Tensor, who: str) -> None:
    for name, t in (("A", a), ("B", b)):
        check_tensor(t, f"{who} (its {name})", nonempty=False)
    check_tensor(hprime, f"{who} (its h')")
    if a.dim() != 2 or b.dim() != 2 or a.shape != b.shape[::-1] or a.numel() == 0:
        raise ValueError(f"{who} expects A [m, d] and B [d, m], got {list(a.shape)} and {list(b.shape)}")
    d = a.shape[1]
    if hprime.dim() != 2 or hprime.shape[1] != d:
        raise ValueError(f"{who} expects h' of shape [batch, {d}], got {list(hprime.shape)}")
    if not (a.dtype == b.dtype == hprime.dtype):
        raise TypeError(f"{who} expects A, B and h' of one dtype, got {a.dtype}, {b.dtype}, {hprime.dtype}")
    if not (a.device == b.device == hprime.device):
        raise ValueError(f"{who} expects A, B and h' on one device, got {a.device}, {b.device}, {hprime.device}")


def sylvester_logdet(a: Tensor, b: Tensor, hprime: Tensor) -> Tensor:
    r""":math:`\log|\det(I_m + A\,\mathrm{diag}(h')\,B)|` through the :math:`d \times d` determinant
    :math:`\det(I_d + \mathrm{diag}(h')\,B A)`.

    ``a``: [m, d]; ``b``: [d, m]; ``hprime``: [batch, d] (one diagonal per sample). Returns [batch].
    """
    _check_factors(a, b, hprime, "sylvester_logdet")
    d = a.shape[1]
    small = torch.eye(d, dtype=a.dtype, device=a.device) + hprime.unsqueeze(-1) * (b @ a)
    return torch.linalg.slogdet(small)[1]


def dense_logdet(a: Tensor, b: Tensor, hprime: Tensor) -> Tensor:
    r""":math:`\log|\det(I_m + A\,\mathrm{diag}(h')\,B)|` the direct way, an :math:`m \times m` determinant."""
    _check_factors(a, b, hprime, "dense_logdet")
    m = a.shape[0]
    big = torch.eye(m, dtype=a.dtype, device=a.device) + (a * hprime.unsqueeze(1)) @ b
    return torch.linalg.slogdet(big)[1]


def _row_times(x: Tensor, m: Tensor) -> Tensor:
    """Row vectors ``x`` [batch, k] times matrices ``m`` [k, n] (shared) or [batch, k, n] (one per row)."""
    return (x.unsqueeze(-2) @ m).squeeze(-2)


def triangle(upper: Tensor, diag_raw: Tensor) -> Tensor:
    r"""An upper-triangular :math:`R`: the strictly upper part of ``upper`` [..., d, d] and the
    diagonal :math:`\tanh(\text{diag\_raw})` [..., d], so that :math:`|R_{ii}| < 1` and any two such
    triangles give :math:`R_{ii}\tilde R_{ii} > -1` (an invertible map)."""
    check_tensor(upper, "triangle (its upper)")
    check_tensor(diag_raw, "triangle (its diag_raw)", like=upper)
    if upper.dim() < 2 or upper.shape[-1] != upper.shape[-2] or tuple(diag_raw.shape) != tuple(upper.shape[:-1]):
        raise ValueError(f"triangle expects upper [..., d, d] and diag_raw [..., d], got {list(upper.shape)} "
                         f"and {list(diag_raw.shape)}")
    return _triangle(upper, diag_raw)


def _triangle(upper: Tensor, diag_raw: Tensor) -> Tensor:
    return torch.triu(upper, 1) + torch.diag_embed(torch.tanh(diag_raw))


def householder_q(vectors: Tensor, columns: int) -> Tensor:
    r""":math:`Q` [..., m, columns]: the first ``columns`` columns of :math:`H_1 \cdots H_K`,
    :math:`H_k = I - 2 v_k v_k^\top / \|v_k\|^2`, from ``vectors`` [..., K, m] (batched or not).
    Orthonormal columns by construction (H-SNF)."""
    check_tensor(vectors, "householder_q (its vectors)", nonempty=False)
    if vectors.dim() < 2 or vectors.shape[-1] == 0 or vectors.shape[-2] == 0:
        raise ValueError(f"householder_q expects vectors of shape [..., K, m], got {list(vectors.shape)}")
    m = vectors.shape[-1]
    check_count(columns, "columns", "householder_q")
    if columns > m:
        raise ValueError(f"householder_q: columns must be <= m = {m}, got {columns}")
    return _householder_q(vectors, columns)


def _householder_q(vectors: Tensor, columns: int) -> Tensor:
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


def orthogonalize(a: Tensor, max_steps: int = 100, tol: float = 1e-6) -> Tensor:
    r"""Orthonormal columns from ``a`` [..., m, M], :math:`M \le m` (O-SNF, van den Berg et al.):
    scale by the Frobenius norm (all singular values :math:`\le 1`), then iterate
    :math:`Q \leftarrow Q\,(I + \tfrac12 (I - Q^\top Q))`, which sends every singular value
    :math:`\sigma \in (0, \sqrt 3)` to 1, until :math:`\max \|Q^\top Q - I\|_F \le` ``tol``.
    Differentiable (gradients flow through the iterations)."""
    check_tensor(a, "orthogonalize")
    if a.dim() < 2 or a.shape[-2] < a.shape[-1] or a.shape[-1] == 0:
        raise ValueError(f"orthogonalize expects matrices [..., m, M] with 1 <= M <= m, got {list(a.shape)}")
    check_count(max_steps, "max_steps", "orthogonalize")
    check_positive(tol, "tol", "orthogonalize")
    return _orthogonalize(a, max_steps, tol)


def _orthogonalize(a: Tensor, max_steps: int = 100, tol: float = 1e-6) -> Tensor:
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    q = a / a.flatten(-2).norm(dim=-1).clamp_min(torch.finfo(a.dtype).tiny)[..., None, None]
    for _ in range(max_steps):
        gram = q.transpose(-1, -2) @ q
        if float((gram.detach() - eye).flatten(-2).norm(dim=-1).max()) <= tol:
            break
        q = q @ (1.5 * eye - 0.5 * gram)
    return q


def sylvester_map(z: Tensor, q: Tensor, r: Tensor, r_tilde: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    r""":math:`g(z) = z + Q R \tanh(\tilde R Q^\top z + b)` and
    :math:`\log|\det \partial g/\partial z| = \sum_i \log|1 + h'_i R_{ii}\tilde R_{ii}|`.

    The one Sylvester map, for every choice of :math:`Q` (Householder, orthogonalized, a permutation):
    ``q`` is [m, d] or [batch, m, d] with orthonormal columns, ``r``, ``r_tilde`` upper triangular
    [d, d] or [batch, d, d], ``b`` [d] or [batch, d]: shared parameters or one set per sample (an
    amortized posterior's). The log-det is Sylvester's identity with :math:`Q^\top Q = I`:
    :math:`\det(I_d + \mathrm{diag}(h')\tilde R R)`, triangular. Returns ``(g(z), logdet [batch])``.
    """
    who = "sylvester_map"
    check_tensor(z, f"{who} (its z)")
    if z.dim() != 2 or z.shape[1] == 0:
        raise ValueError(f"{who} expects z of shape [batch, m], got {list(z.shape)}")
    batch, m = z.shape
    check_tensor(q, f"{who} (its q)", nonempty=False)
    d = q.shape[-1] if q.dim() in (2, 3) else 0
    for name, t, shared in (("q", q, (m, d)), ("r", r, (d, d)), ("r_tilde", r_tilde, (d, d)), ("b", b, (d,))):
        check_tensor(t, f"{who} (its {name})", nonempty=False)
        if d == 0 or d > m or tuple(t.shape) not in (shared, (batch, *shared)):
            raise ValueError(f"{who} expects q [m, d] with 1 <= d <= m = {m}, r and r_tilde [d, d], b [d] "
                             f"(or each with a leading batch dimension {batch}); got {name} {list(t.shape)}")
        if t.dtype != z.dtype or t.device != z.device:
            raise TypeError(f"{who} expects {name} in z's dtype and device ({z.dtype} on {z.device}), "
                            f"got {t.dtype} on {t.device}")
    return _sylvester_map(z, q, r, r_tilde, b)


def _sylvester_map(z: Tensor, q: Tensor, r: Tensor, r_tilde: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
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

    def __init__(self, features: int, hidden: int | None = None, reflections: int | None = None,
                 init_scale: float = 0.5):
        super().__init__()
        hidden = features if hidden is None else hidden
        reflections = features if reflections is None else reflections
        for name, value in (("features", features), ("hidden", hidden), ("reflections", reflections)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"SylvesterFlow needs a positive integer {name}, got {value!r}")
        if hidden > features:
            raise ValueError(f"SylvesterFlow needs hidden <= features (d <= m), "
                             f"got hidden={hidden}, features={features}")
        self.features, self.hidden = features, hidden
        self.householder = nn.Parameter(torch.randn(reflections, features))
        self.r_upper = nn.Parameter(torch.randn(hidden, hidden) * init_scale / hidden ** 0.5)
        self.r_tilde_upper = nn.Parameter(torch.randn(hidden, hidden) * init_scale / hidden ** 0.5)
        self.r_diag_raw = nn.Parameter(torch.randn(hidden) * init_scale)
        self.r_tilde_diag_raw = nn.Parameter(torch.randn(hidden) * init_scale)
        self.b = nn.Parameter(torch.zeros(hidden))

    def q(self) -> Tensor:
        """:math:`Q` [m, d]: the first d columns of :math:`H_1 \\cdots H_K`, orthonormal by construction."""
        return _householder_q(self.householder, self.hidden)

    def triangles(self) -> tuple[Tensor, Tensor]:
        """:math:`R, \\tilde R`: strictly upper parts free, diagonals :math:`\\tanh`
        (so :math:`R_{ii}\\tilde R_{ii} > -1`)."""
        return _triangle(self.r_upper, self.r_diag_raw), _triangle(self.r_tilde_upper, self.r_tilde_diag_raw)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(z, (self.features,), "SylvesterFlow.inverse")
        return _sylvester_map(z, self.q(), *self.triangles(), self.b)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(x, (self.features,), "SylvesterFlow")
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
