"""Toy 2D densities (the FFJORD/RealNVP test bed), sampled with an explicit generator.

Each sampler returns a float tensor of shape [n, 2], roughly centred and of scale a few units.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from flowlab.validate import Count, OneOf, Rng, checked


def _eight_gaussians(n: int, g: torch.Generator) -> Tensor:
    angles = torch.arange(8) * (2 * math.pi / 8)
    centers = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)
    idx = torch.randint(0, 8, (n,), generator=g)
    return centers[idx] + 0.2 * torch.randn(n, 2, generator=g)


def _checkerboard(n: int, g: torch.Generator) -> Tensor:
    # Uniform on the 8 black squares of a 4x4 board over [-2, 2]^2.
    x1 = torch.rand(n, generator=g) * 4 - 2
    x2 = torch.rand(n, generator=g) - torch.randint(0, 2, (n,), generator=g) * 2.0
    x2 = x2 + torch.floor(x1) % 2
    return torch.stack([x1, x2], dim=1) * 2


def _two_moons(n: int, g: torch.Generator) -> Tensor:
    t = torch.rand(n, generator=g) * math.pi
    upper = torch.rand(n, generator=g) < 0.5
    x = torch.where(upper, t.cos(), 1 - t.cos())
    y = torch.where(upper, t.sin(), 0.5 - t.sin())
    pts = torch.stack([x - 0.5, y - 0.25], dim=1) * 2
    return pts + 0.1 * torch.randn(n, 2, generator=g)


def _circles(n: int, g: torch.Generator) -> Tensor:
    t = torch.rand(n, generator=g) * 2 * math.pi
    radius = torch.where(torch.rand(n, generator=g) < 0.5, 1.0, 2.5)
    pts = torch.stack([t.cos(), t.sin()], dim=1) * radius[:, None]
    return pts + 0.08 * torch.randn(n, 2, generator=g)


def _pinwheel(n: int, g: torch.Generator, arms: int = 5) -> Tensor:
    radial, tangential, rate = 0.3, 0.1, 0.25
    arm = torch.randint(0, arms, (n,), generator=g)
    feats = torch.randn(n, 2, generator=g) * torch.tensor([radial, tangential]) + torch.tensor([1.0, 0.0])
    angle = arm * (2 * math.pi / arms) + rate * feats[:, 0].exp()
    rot = torch.stack([angle.cos(), -angle.sin(), angle.sin(), angle.cos()], dim=1).reshape(n, 2, 2)
    return 2 * torch.einsum("ni,nij->nj", feats, rot)


def _two_spirals(n: int, g: torch.Generator) -> Tensor:
    t = torch.sqrt(torch.rand(n, generator=g)) * 540 * (2 * math.pi / 360)
    sign = torch.where(torch.rand(n, generator=g) < 0.5, 1.0, -1.0)
    pts = torch.stack([-t.cos() * t, t.sin() * t], dim=1) * sign[:, None]
    return pts / 3 + 0.1 * torch.randn(n, 2, generator=g)


TOY_DENSITIES = {
    "8gaussians": _eight_gaussians,
    "checkerboard": _checkerboard,
    "moons": _two_moons,
    "circles": _circles,
    "pinwheel": _pinwheel,
    "2spirals": _two_spirals,
}


@checked
def sample_toy(name: OneOf(TOY_DENSITIES), n: Count, generator: Rng = None) -> Tensor:
    """``n`` samples of the named toy density; names are ``TOY_DENSITIES``'s keys."""
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    return TOY_DENSITIES[name](n, g).to(torch.get_default_dtype())
