r"""The multi-scale architecture of RealNVP and Glow: squeeze, split, and the L x K builder.

**Squeeze** trades space for channels: every 2x2 patch of each channel becomes 4 channels,
``[C, H, W] -> [4C, H/2, W/2]``. It only moves numbers, so :math:`\log|\det| = 0`.

**Split** factors out half of the channels at each scale (Dinh et al. 2017, Sec. 3.6):

.. math:: (x_a, x_b) = x, \qquad z = (x_b,\ g(x_a)), \qquad \log|\det| = \log|\det \partial g/\partial x_a|,

where :math:`g` is the rest of the flow (the coarser levels). :math:`x_b` goes straight to the
latent, so its Jacobian block is the identity. The latent of the whole model is the concatenation
of all split-off parts, flattened into one vector ``[batch, D]`` with a standard normal base; the
inverse cuts that vector back into its parts, so the split-off latents are restored exactly.

**The builder** makes L levels of K steps (``depth`` = K); each step is

.. math:: \text{ActNorm} \to \{\text{reverse} \mid \text{shuffle} \mid \text{1x1 conv}\} \to
          \{\text{additive} \mid \text{affine}\}\ \text{coupling},

a level is squeeze -> K steps -> split (the last level: squeeze -> K steps -> flatten). With
``permutation="reverse", coupling="affine"`` it is RealNVP's channel-wise multi-scale flow with
ActNorm; with ``permutation="conv"`` it is Glow. The Glow ablation is one switch away.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from flowlab.flows.base import Compose, Flow, first_parameter, trusted
from flowlab.flows.coupling import AdditiveCoupling, AffineCoupling
from flowlab.flows.glow import ActNorm, InvertibleConv1x1
from flowlab.flows.logit import LogitTransform
from flowlab.flows.masks import channel_mask
from flowlab.flows.model import FlowModel, StandardNormal
from flowlab.flows.permutations import RandomPermutation, ReversePermutation
from flowlab.measure.budget import count_parameters
from flowlab.nn.conditioners import ConvNet
from flowlab.validate import Count, EventShape, IsA, OneOf, Rng, checked

PERMUTATIONS = ("reverse", "shuffle", "conv")
COUPLINGS = ("additive", "affine")


def _check_image(shape: tuple, who: str, divisor: int) -> tuple[int, int, int]:
    """An event shape (an ``EventShape`` of the caller's) that is an image (C, H, W) whose H and W ``divisor``
    divides (2 for a squeeze, 2 ** L for L levels)."""
    if len(shape) != 3 or shape[1] % divisor or shape[2] % divisor:
        raise ValueError(f"{who} needs an image shape (C, H, W) with H and W divisible by {divisor}, got {shape}")
    return shape


class Squeeze(Flow):
    """``[C, H, W] -> [4C, H/2, W/2]``: each 2x2 patch of a channel becomes 4 channels; log-det 0."""

    @checked
    def __init__(self, shape: EventShape):
        super().__init__()
        c, h, w = _check_image(shape, "Squeeze", 2)
        self.in_shape = self.event_shape = (c, h, w)
        self.out_shape = self.latent_shape = (4 * c, h // 2, w // 2)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        b, (c, h, w) = x.shape[0], self.in_shape
        z = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return z.reshape(b, *self.out_shape), x.new_zeros(b)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        b, (c, h, w) = z.shape[0], self.in_shape
        x = z.reshape(b, c, 2, 2, h // 2, w // 2).permute(0, 1, 4, 2, 5, 3)
        return x.reshape(b, c, h, w), z.new_zeros(b)


# The builder's pieces below get their sizes from multiscale_model (or hidden_for_budget), which checks them.
class Flatten(Flow):
    """``[C, H, W] -> [C*H*W]``, the last level's exit to the flat latent; log-det 0."""

    def __init__(self, shape: Sequence[int]):
        super().__init__()
        self.in_shape = self.event_shape = tuple(shape)
        self.dim = math.prod(self.in_shape)
        self.latent_shape = (self.dim,)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x.reshape(x.shape[0], self.dim), x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return z.reshape(z.shape[0], *self.in_shape), z.new_zeros(z.shape[0])


class Split(Flow):
    r"""Factor out the second half of the channels; run ``inner`` on the first half.

    ``inner`` maps ``[C - C//2, H, W]`` to a flat latent ``[batch, inner_dim]`` (``C >= 2``,
    ``inner_dim = (C - C//2) H W``); the output is ``[batch, (C//2)*H*W + inner_dim]``, the split-off
    part first. ``inverse`` slices it back.
    """

    def __init__(self, shape: Sequence[int], inner: Flow, inner_dim: int):
        super().__init__()
        c, h, w = shape
        self.in_shape = self.event_shape = (c, h, w)
        self.keep = c - c // 2
        self.out_dim = (c // 2) * h * w  # the factored-out part's size
        self.inner, self.inner_dim = inner, int(inner_dim)
        self.dim = self.out_dim + self.inner_dim
        self.latent_shape = (self.dim,)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        kept, out = x[:, : self.keep], x[:, self.keep:]
        z_inner, logdet = self.inner(kept)
        return torch.cat([out.reshape(x.shape[0], -1), z_inner], dim=1), logdet

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        c, h, w = self.in_shape
        out = z[:, : self.out_dim].reshape(z.shape[0], c - self.keep, h, w)
        kept, logdet = self.inner.inverse(z[:, self.out_dim:])
        return torch.cat([kept, out], dim=1), logdet


def _permutation(kind: str, channels: int, lu: bool, generator: torch.Generator | None) -> Flow:
    if kind == "conv":
        return InvertibleConv1x1(channels, lu=lu, generator=generator)
    if kind == "reverse":
        return ReversePermutation(channels)
    return RandomPermutation(channels, generator=generator)


def _coupling(kind: str, channels: int, hidden: int) -> Flow:
    # Always the same channel half: the permutation before it decides what gets transformed. The
    # conditioner is built here, for the checked width: it copies c // 2 channels and outputs one
    # (additive) or two (affine) parameters per transformed channel.
    cls, params = (AdditiveCoupling, 1) if kind == "additive" else (AffineCoupling, 2)
    net = ConvNet(channels // 2, (channels - channels // 2) * params, hidden)
    return cls((channels, None, None), channel_mask(channels, 0), conditioner=net)


def glow_step(channels: int, hidden: int, permutation: str = "conv", coupling: str = "affine",
              lu: bool = True, generator: torch.Generator | None = None) -> Compose:
    """One flow step: ActNorm -> permutation (reverse, shuffle or 1x1 conv) -> coupling.

    ``channels >= 2`` and the kinds as :func:`multiscale_model` checks them."""
    return Compose(ActNorm(channels), _permutation(permutation, channels, lu, generator),
                   _coupling(coupling, channels, hidden))


def multiscale_flow(shape: Sequence[int], levels: int, depth: int, hidden: int,
                    permutation: str = "conv", coupling: str = "affine", lu: bool = True,
                    generator: torch.Generator | None = None) -> Flow:
    """L = ``levels`` levels of K = ``depth`` steps on images of ``shape`` = (C, H, W); see module doc.

    Returns a flow from ``[batch, C, H, W]`` to the flat latent ``[batch, C*H*W]``. The arguments are
    those :func:`multiscale_model` checks (H and W divisible by ``2 ** levels``).
    """

    def level(shape, remaining) -> tuple[Flow, int]:
        squeeze = Squeeze(shape)
        c2, h2, w2 = squeeze.out_shape
        body = [squeeze] + [glow_step(c2, hidden, permutation, coupling, lu, generator) for _ in range(depth)]
        if remaining == 1:
            flatten = Flatten(squeeze.out_shape)
            return Compose(body + [flatten]), flatten.dim
        keep = c2 - c2 // 2
        inner, inner_dim = level((keep, h2, w2), remaining - 1)
        split = Split(squeeze.out_shape, inner, inner_dim)
        return Compose(body + [split]), split.dim

    return level(tuple(shape), levels)[0]


@checked
def multiscale_model(shape: EventShape, levels: Count, depth: Count, hidden: Count,
                     permutation: OneOf(PERMUTATIONS) = "conv", coupling: OneOf(COUPLINGS) = "affine",
                     lu: bool = True, logit_alpha: float | None = 0.05, generator: Rng = None) -> FlowModel:
    """A density model on dequantized images in [0, 1): [logit ->] multi-scale flow -> N(0, I).

    With ``logit_alpha`` (RealNVP's preprocessing, see :class:`flowlab.flows.LogitTransform`, which checks
    it) the logit's log-det is inside ``log_prob``, so bits/dim of the [0, 1) data are honest.
    """
    _check_image(shape, "multiscale_model", 2 ** levels)
    flow = multiscale_flow(shape, levels, depth, hidden, permutation, coupling, lu, generator)
    if logit_alpha is not None:
        flow = Compose(LogitTransform(logit_alpha), flow)
    return FlowModel(flow, StandardNormal(math.prod(shape)))


@torch.no_grad()
@checked
def initialize_actnorm(model: IsA((FlowModel, Flow), "a FlowModel or a Flow"), x: Tensor) -> int:
    """Data-dependent init of every ActNorm in ``model`` (a :class:`FlowModel` or a flow) with one
    forward pass on ``x``.

    Each ActNorm initialises from the activations it receives, in order. Returns how many were set.
    """
    flow = model.flow if isinstance(model, FlowModel) else model
    flow.check_input(x, who="initialize_actnorm", like=first_parameter(model))
    layers = [m for m in model.modules() if isinstance(m, ActNorm)]
    for m in layers:
        m.initialized.fill_(False)
    with trusted():
        flow(x)
    return len(layers)


@checked
def hidden_for_budget(budget: Count, shape: EventShape, levels: Count, depth: Count,
                      permutation: OneOf(PERMUTATIONS), coupling: OneOf(COUPLINGS), lu: bool = True,
                      max_hidden: Count = 1024) -> int:
    """The conditioner width whose model has the parameter count closest to ``budget``.

    Affine couplings output twice as many channels as additive ones and the 1x1 convolution adds
    :math:`C^2` weights per step, so an ablation at equal *parameters* needs a width per variant.
    """
    _check_image(shape, "hidden_for_budget", 2 ** levels)

    def size(hidden):
        return count_parameters(multiscale_flow(shape, levels, depth, hidden, permutation, coupling, lu))

    lo, hi = 1, max_hidden
    while lo < hi:  # the count grows with the width: bisect for the first width at or above budget
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if size(mid) < budget else (lo, mid)
    return min((h for h in (lo - 1, lo) if h >= 1), key=lambda h: abs(size(h) - budget))
