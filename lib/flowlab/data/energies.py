r"""Unnormalized 2D target densities :math:`p(z) \propto e^{-U(z)}` (Rezende & Mohamed's test energies).

Rezende & Mohamed (2015, Table 1) test energies, with :math:`w_1 = \sin(2\pi z_1/4)`,
:math:`w_2 = 3 e^{-((z_1 - 1)/0.6)^2/2}`, :math:`w_3 = 3\,\sigma((z_1 - 1)/0.3)`:

.. math::
    U_1 &= \tfrac12\big((\|z\| - 2)/0.4\big)^2
           - \ln\big(e^{-\frac12((z_1 - 2)/0.6)^2} + e^{-\frac12((z_1 + 2)/0.6)^2}\big)\\
    U_2 &= \tfrac12\big((z_2 - w_1)/0.4\big)^2\\
    U_3 &= -\ln\big(e^{-\frac12((z_2 - w_1)/0.35)^2} + e^{-\frac12((z_2 - w_1 + w_2)/0.35)^2}\big)\\
    U_4 &= -\ln\big(e^{-\frac12((z_2 - w_1)/0.4)^2} + e^{-\frac12((z_2 - w_1 + w_3)/0.35)^2}\big)

:math:`U_2`–:math:`U_4` do not grow in :math:`z_1`, so :math:`e^{-U}` is not normalizable on
:math:`\mathbb R^2` (the paper only draws it on :math:`[-4, 4]^2`). We add a wall that is zero
inside :math:`|z_1| \le 4` and quadratic outside, :math:`\tfrac12(\max(|z_1| - 4, 0)/0.5)^2`, so
the density is the paper's inside the box and :math:`\log Z` is finite.

Fitting flows to these targets by reverse KL lives in :mod:`flowlab.train.reverse_kl`.
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import torch
from torch import Tensor

from flowlab.validate import (
    AtLeast,
    Dtype,
    Function,
    Positive,
    check_count,
    check_number,
    check_positive,
    check_shape,
    checked,
)

BOX = 4.0       # the paper's plotting box [-4, 4]^2
WALL = 0.5      # length scale of the wall outside |z1| <= BOX (U2-U4 only)


def _w1(z1: Tensor) -> Tensor:
    return torch.sin(2 * math.pi * z1 / 4)


def _w2(z1: Tensor) -> Tensor:
    return 3 * torch.exp(-0.5 * ((z1 - 1) / 0.6) ** 2)


def _w3(z1: Tensor) -> Tensor:
    return 3 * torch.sigmoid((z1 - 1) / 0.3)


def _wall(z1: Tensor) -> Tensor:
    return 0.5 * (torch.relu(z1.abs() - BOX) / WALL) ** 2


def _neg_log_sum_exp(a: Tensor, b: Tensor) -> Tensor:
    return -torch.logsumexp(torch.stack([a, b]), dim=0)


def _energy(u: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """``u`` on points ``z`` [batch, 2], checked once here for all four energies."""
    @functools.wraps(u)
    def checked(z: Tensor) -> Tensor:
        check_shape(z, (2,), u.__name__)
        return u(z)
    return checked


@_energy
def u1(z: Tensor) -> Tensor:
    z1 = z[:, 0]
    ring = 0.5 * ((z.norm(dim=-1) - 2) / 0.4) ** 2
    return ring + _neg_log_sum_exp(-0.5 * ((z1 - 2) / 0.6) ** 2, -0.5 * ((z1 + 2) / 0.6) ** 2)


@_energy
def u2(z: Tensor) -> Tensor:
    z1, z2 = z[:, 0], z[:, 1]
    return 0.5 * ((z2 - _w1(z1)) / 0.4) ** 2 + _wall(z1)


@_energy
def u3(z: Tensor) -> Tensor:
    z1, z2 = z[:, 0], z[:, 1]
    a = -0.5 * ((z2 - _w1(z1)) / 0.35) ** 2
    b = -0.5 * ((z2 - _w1(z1) + _w2(z1)) / 0.35) ** 2
    return _neg_log_sum_exp(a, b) + _wall(z1)


@_energy
def u4(z: Tensor) -> Tensor:
    z1, z2 = z[:, 0], z[:, 1]
    a = -0.5 * ((z2 - _w1(z1)) / 0.4) ** 2
    b = -0.5 * ((z2 - _w1(z1) + _w3(z1)) / 0.35) ** 2
    return _neg_log_sum_exp(a, b) + _wall(z1)


ENERGIES: dict[str, Callable[[Tensor], Tensor]] = {"U1": u1, "U2": u2, "U3": u3, "U4": u4}


def energy(name: str) -> Callable[[Tensor], Tensor]:
    """The energy called ``name`` ("U1".."U4"; the fitters that call this check the names)."""
    return ENERGIES[name]


@checked
def grid(lim: float | tuple[float, float] = BOX, n: int = 200, dtype: Dtype = torch.float64, *,
         cells: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """An ``n x n`` grid on the square ``[-lim, lim]^2``, or ``[lo, hi]^2`` for ``lim=(lo, hi)``: the two
    coordinate arrays, indexed ``[y, x]`` as ``imshow(origin="lower")`` draws them, and the points
    ``[n*n, 2]``, x varying fastest (so ``f(points).reshape(n, n)`` is an image).

    The nodes include both edges; with ``cells=True`` they are instead the centres of ``n`` equal cells
    per side, the nodes of the midpoint rule (``f(points).sum() * h**2`` integrates ``f``, ``h`` the side
    of a cell)."""
    if isinstance(lim, tuple):
        lo, hi = (check_number(edge, "an edge of lim", "grid") for edge in lim)
        if not lo < hi:
            raise ValueError(f"grid needs lim = (lo, hi) with lo < hi, got {lim}")
    else:
        hi = check_positive(lim, "lim", "grid")
        lo = -hi
    check_count(n, "n", "grid", minimum=1 if cells else 2)
    if cells:
        axis = lo + (torch.arange(n, dtype=dtype) + 0.5) * ((hi - lo) / n)
    else:
        axis = torch.linspace(lo, hi, n, dtype=dtype)
    g1, g2 = torch.meshgrid(axis, axis, indexing="xy")
    return g1, g2, torch.stack([g1.reshape(-1), g2.reshape(-1)], dim=-1)


@checked
def log_normalizer(u: Function, lim: Positive = 7.0, n: AtLeast(2) = 1401) -> float:
    r""":math:`\log Z = \log \int e^{-U}` by a Riemann sum on a fine grid (equal to the trapezoid rule,
    the integrand being ~0 at the edges).

    The integrands are smooth and decay fast inside ``[-lim, lim]^2``, where such sums converge
    very fast; compare two ``n`` to see the error.
    """
    _, _, pts = grid(lim, n)
    cell = (2 * lim / (n - 1)) ** 2
    with torch.no_grad():
        neg_u = -u(pts)
    return (torch.logsumexp(neg_u, 0) + math.log(cell)).item()
