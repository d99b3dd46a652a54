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
from flowlab.measure.validate import check_tensor


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
            raise ValueError(f"SylvesterFlow needs hidden <= features (d <= m), got hidden={hidden}, features={features}")
        self.features, self.hidden = features, hidden
        self.householder = nn.Parameter(torch.randn(reflections, features))
        self.r_upper = nn.Parameter(torch.randn(hidden, hidden) * init_scale / hidden ** 0.5)
        self.r_tilde_upper = nn.Parameter(torch.randn(hidden, hidden) * init_scale / hidden ** 0.5)
        self.r_diag_raw = nn.Parameter(torch.randn(hidden) * init_scale)
        self.r_tilde_diag_raw = nn.Parameter(torch.randn(hidden) * init_scale)
        self.b = nn.Parameter(torch.zeros(hidden))

    def q(self) -> Tensor:
        """:math:`Q` [m, d]: the first d columns of :math:`H_1 \\cdots H_K`, orthonormal by construction."""
        q = torch.eye(self.features, self.hidden, dtype=self.householder.dtype, device=self.householder.device)
        for v in reversed(self.householder):
            v = v / v.norm()
            q = q - 2 * torch.outer(v, v @ q)
        return q

    def triangles(self) -> tuple[Tensor, Tensor]:
        """:math:`R, \\tilde R`: strictly upper parts free, diagonals :math:`\\tanh` (so :math:`R_{ii}\\tilde R_{ii} > -1`)."""
        r = torch.triu(self.r_upper, 1) + torch.diag(torch.tanh(self.r_diag_raw))
        rt = torch.triu(self.r_tilde_upper, 1) + torch.diag(torch.tanh(self.r_tilde_diag_raw))
        return r, rt

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(z, (self.features,), "SylvesterFlow.inverse")
        q = self.q()
        r, rt = self.triangles()
        t = torch.tanh((z @ q) @ rt.T + self.b)
        logdet = torch.log((1 + (1 - t * t) * torch.diagonal(r) * torch.diagonal(rt)).abs()).sum(-1)
        return z + (t @ r.T) @ q.T, logdet

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
