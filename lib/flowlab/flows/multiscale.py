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
from torch import Tensor, nn

from flowlab.flows.base import Compose, Flow
from flowlab.flows.coupling import AdditiveCoupling, AffineCoupling
from flowlab.flows.glow import ActNorm, InvertibleConv1x1
from flowlab.flows.logit import LogitTransform
from flowlab.flows.masks import channel_mask
from flowlab.flows.model import FlowModel, StandardNormal
from flowlab.flows.permutations import RandomPermutation, ReversePermutation
from flowlab.measure.budget import count_parameters
from flowlab.validate import (
    check_choice,
    check_count,
    check_event_shape,
    check_generator,
    check_module,
    check_tensor,
)

PERMUTATIONS = ("reverse", "shuffle", "conv")
COUPLINGS = ("additive", "affine")


def _image_shape(shape: Sequence[int], who: str) -> tuple[int, int, int]:
    shape = check_event_shape(shape, who)
    if len(shape) != 3:
        raise ValueError(f"{who} needs an image shape (C, H, W) of positive sizes, got {shape}")
    return shape


class Squeeze(Flow):
    """``[C, H, W] -> [4C, H/2, W/2]``: each 2x2 patch of a channel becomes 4 channels; log-det 0."""

    def __init__(self, shape: Sequence[int]):
        super().__init__()
        c, h, w = _image_shape(shape, "Squeeze")
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze needs an even height and width, got (C, H, W) = {(c, h, w)}")
        self.in_shape = (c, h, w)
        self.out_shape = (4 * c, h // 2, w // 2)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(x, self.in_shape, "Squeeze")
        b, (c, h, w) = x.shape[0], self.in_shape
        z = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return z.reshape(b, *self.out_shape), x.new_zeros(b)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(z, self.out_shape, "Squeeze.inverse")
        b, (c, h, w) = z.shape[0], self.in_shape
        x = z.reshape(b, c, 2, 2, h // 2, w // 2).permute(0, 1, 4, 2, 5, 3)
        return x.reshape(b, c, h, w), z.new_zeros(b)


class Flatten(Flow):
    """``[C, H, W] -> [C*H*W]``, the last level's exit to the flat latent; log-det 0."""

    def __init__(self, shape: Sequence[int]):
        super().__init__()
        self.in_shape = check_event_shape(shape, "Flatten")
        self.dim = math.prod(self.in_shape)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(x, self.in_shape, "Flatten")
        return x.reshape(x.shape[0], self.dim), x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(z, (self.dim,), "Flatten.inverse")
        return z.reshape(z.shape[0], *self.in_shape), z.new_zeros(z.shape[0])


class Split(Flow):
    r"""Factor out the second half of the channels; run ``inner`` on the first half.

    ``inner`` maps ``[C - C//2, H, W]`` to a flat latent ``[batch, d]``; the output is
    ``[batch, (C//2)*H*W + d]``, the split-off part first. ``inverse`` slices it back.
    """

    def __init__(self, shape: Sequence[int], inner: Flow, inner_dim: int):
        super().__init__()
        c, h, w = _image_shape(shape, "Split")
        if c < 2:
            raise ValueError(f"Split needs at least 2 channels to split, got (C, H, W) = {(c, h, w)}")
        if not isinstance(inner, Flow):
            raise TypeError(f"Split expects the inner flow to be a Flow, got {type(inner).__name__}")
        self.in_shape = (c, h, w)
        self.keep = c - c // 2
        self.out_dim = (c // 2) * h * w  # the factored-out part's size
        check_count(inner_dim, "inner_dim", "Split")
        if inner_dim != self.keep * h * w:  # a bijection keeps the dimension of what it maps
            raise ValueError(f"Split: the inner flow maps the kept [{self.keep}, {h}, {w}] to a latent of "
                             f"{self.keep * h * w} numbers, so inner_dim must be {self.keep * h * w}, got {inner_dim}")
        self.inner, self.inner_dim = inner, int(inner_dim)
        self.dim = self.out_dim + self.inner_dim

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(x, self.in_shape, "Split")
        kept, out = x[:, : self.keep], x[:, self.keep:]
        z_inner, logdet = self.inner(kept)
        return torch.cat([out.reshape(x.shape[0], -1), z_inner], dim=1), logdet

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(z, (self.dim,), "Split.inverse")
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
    # Always the same channel half: the permutation before it decides what gets transformed.
    cls = AdditiveCoupling if kind == "additive" else AffineCoupling
    return cls((channels, None, None), channel_mask(channels, 0), hidden=hidden)


def glow_step(channels: int, hidden: int, permutation: str = "conv", coupling: str = "affine",
              lu: bool = True, generator: torch.Generator | None = None) -> Compose:
    """One flow step: ActNorm -> permutation (reverse, shuffle or 1x1 conv) -> coupling."""
    check_choice(permutation, PERMUTATIONS, "permutation", "glow_step")
    check_choice(coupling, COUPLINGS, "coupling", "glow_step")
    check_count(channels, "channels", "glow_step", minimum=2)
    check_count(hidden, "hidden", "glow_step")
    check_generator(generator, "glow_step")
    return Compose(ActNorm(channels), _permutation(permutation, channels, lu, generator),
                   _coupling(coupling, channels, hidden))


def multiscale_flow(shape: Sequence[int], levels: int, depth: int, hidden: int,
                    permutation: str = "conv", coupling: str = "affine", lu: bool = True,
                    generator: torch.Generator | None = None) -> Flow:
    """L = ``levels`` levels of K = ``depth`` steps on images of ``shape`` = (C, H, W); see module doc.

    Returns a flow from ``[batch, C, H, W]`` to the flat latent ``[batch, C*H*W]``.
    """
    c, h, w = _image_shape(shape, "multiscale_flow")
    check_count(levels, "levels", "multiscale_flow")
    check_count(depth, "depth", "multiscale_flow")
    check_count(hidden, "hidden", "multiscale_flow")
    check_choice(permutation, PERMUTATIONS, "permutation", "multiscale_flow")
    check_choice(coupling, COUPLINGS, "coupling", "multiscale_flow")
    check_generator(generator, "multiscale_flow")
    if h % 2 ** levels or w % 2 ** levels:
        raise ValueError(f"multiscale_flow: {levels} levels squeeze {levels} times, so height and width must be "
                         f"divisible by {2 ** levels}; got (C, H, W) = {(c, h, w)}")

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

    flow, dim = level((c, h, w), levels)
    assert dim == c * h * w
    return flow


def multiscale_model(shape: Sequence[int], levels: int, depth: int, hidden: int,
                     permutation: str = "conv", coupling: str = "affine", lu: bool = True,
                     logit_alpha: float | None = 0.05,
                     generator: torch.Generator | None = None) -> FlowModel:
    """A density model on dequantized images in [0, 1): [logit ->] multi-scale flow -> N(0, I).

    With ``logit_alpha`` (RealNVP's preprocessing, see :class:`flowlab.flows.LogitTransform`) the
    logit's log-det is inside ``log_prob``, so bits/dim of the [0, 1) data are honest.
    """
    _image_shape(shape, "multiscale_model")
    for name, value in (("levels", levels), ("depth", depth), ("hidden", hidden)):
        check_count(value, name, "multiscale_model")
    flow = multiscale_flow(shape, levels, depth, hidden, permutation, coupling, lu, generator)
    if logit_alpha is not None:
        flow = Compose(LogitTransform(logit_alpha), flow)
    return FlowModel(flow, StandardNormal(math.prod(shape)))


@torch.no_grad()
def initialize_actnorm(model: nn.Module, x: Tensor) -> int:
    """Data-dependent init of every ActNorm in ``model`` with one forward pass on ``x``.

    Each ActNorm initialises from the activations it receives, in order. Returns how many were set.
    """
    check_module(model, "model", "initialize_actnorm")
    check_tensor(x, "initialize_actnorm")
    layers = [m for m in model.modules() if isinstance(m, ActNorm)]
    for m in layers:
        m.initialized.fill_(False)
    (model.log_prob if hasattr(model, "log_prob") else model)(x)
    return len(layers)


def hidden_for_budget(budget: int, shape: Sequence[int], levels: int, depth: int,
                      permutation: str, coupling: str, lu: bool = True, max_hidden: int = 1024) -> int:
    """The conditioner width whose model has the parameter count closest to ``budget``.

    Affine couplings output twice as many channels as additive ones and the 1x1 convolution adds
    :math:`C^2` weights per step, so an ablation at equal *parameters* needs a width per variant.
    """
    check_count(budget, "budget", "hidden_for_budget")
    check_count(max_hidden, "max_hidden", "hidden_for_budget")
    _image_shape(shape, "hidden_for_budget")
    check_count(levels, "levels", "hidden_for_budget")
    check_count(depth, "depth", "hidden_for_budget")

    def size(hidden):
        return count_parameters(multiscale_flow(shape, levels, depth, hidden, permutation, coupling, lu))

    lo, hi = 1, max_hidden
    while lo < hi:  # the count grows with the width: bisect for the first width at or above budget
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if size(mid) < budget else (lo, mid)
    return min((h for h in (lo - 1, lo) if h >= 1), key=lambda h: abs(size(h) - budget))
