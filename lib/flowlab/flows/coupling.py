r"""Coupling layers: NICE (additive) and RealNVP (affine), for vectors and images.

A binary mask :math:`b` splits the input into a copied part :math:`x_a` and a transformed part
:math:`x_b`; a conditioner sees only :math:`x_a` (003 "Coupling Law - RealNVP"):

.. math:: z_a = x_a, \qquad z_b = x_b \odot e^{s(x_a)} + t(x_a), \qquad
          \log\left|\det \frac{\partial z}{\partial x}\right| = \textstyle\sum_i s_i(x_a),

and the inverse is exact: :math:`x_b = (z_b - t(z_a)) \odot e^{-s(z_a)}`. NICE's additive
coupling is :math:`s = 0` (volume preserving, log-det 0). Every coupling is the same four steps,
split -> conditioner -> elementwise map -> merge; what varies is one small part each:

- the **split** by mask kind: :class:`IndexSplit` for masks along features or channels (vector
  masks ``[D]``, channel masks ``[C, 1, 1]``: the conditioner sees only the copied coordinates),
  :class:`MaskSplit` for spatial masks (checkerboard ``[1, H, W]``: the conditioner sees
  :math:`b \odot x` and its outputs are multiplied by :math:`1 - b`, 003 "Real NVP via Masked
  Convolution");
- the **map**: :class:`AdditiveMap` (:math:`z_b = x_b + t`) or :class:`AffineMap`, whose scale is
  stabilised either by ``"tanh"``, :math:`s = a \tanh(\tilde s / a)` (identity at init with the
  conditioner's zero last layer), or by Glow's ``"sigmoid"``, :math:`e^{s} = \sigma(\tilde s + 2)`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowlab.flows.base import Compose, Flow
from flowlab.flows.masks import _half, alternating_mask
from flowlab.nn.conditioners import MLP, ConvNet
from flowlab.validate import AtLeast, Count, MaybeModule, OneOf, Positive, check_event_shape, check_tensor, checked

__all__ = ["Coupling", "AdditiveCoupling", "AffineCoupling", "IndexSplit", "MaskSplit",
           "AdditiveMap", "AffineMap", "realnvp"]

SCALES = ("tanh", "sigmoid")   # how AffineMap stabilises its log-scale
MASKS = ("alternating", "half")  # the vector masks of realnvp


# ----------------------------------------------------------------------------------------- splits
class IndexSplit(nn.Module):
    """Split along dim 1 by a mask over features or channels: ``x -> (x[:, copied], x[:, rest])``."""

    def __init__(self, mask_1d: Tensor):
        super().__init__()
        keep = mask_1d.nonzero().squeeze(1)
        trans = (mask_1d == 0).nonzero().squeeze(1)
        self.register_buffer("keep", keep)
        self.register_buffer("trans", trans)
        self.register_buffer("unsort", torch.argsort(torch.cat([keep, trans])))
        # A half mask copies one contiguous block: slices then replace the gathers (three copies saved).
        contiguous = bool((keep.diff() == 1).all() and (trans.diff() == 1).all())
        self.keep_first = bool(keep[0] == 0) if contiguous else None
        self.copied, self.transformed = len(keep), len(trans)

    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.keep_first is None:
            return x.index_select(1, self.keep), x.index_select(1, self.trans)
        k = self.copied
        return (x[:, :k], x[:, k:]) if self.keep_first else (x[:, x.shape[1] - k:], x[:, :x.shape[1] - k])

    def merge(self, x_a: Tensor, z_b: Tensor) -> Tensor:
        if self.keep_first is None:
            return torch.cat([x_a, z_b], 1).index_select(1, self.unsort)
        return torch.cat([x_a, z_b] if self.keep_first else [z_b, x_a], 1)

    def restrict(self, param: Tensor) -> Tensor:
        return param  # the conditioner already outputs values for the transformed part only

    def full(self, x_a: Tensor, param: Tensor) -> Tensor:
        """``param`` of the transformed part on the full event, zero on the copied part."""
        return self.merge(torch.zeros_like(x_a), param)


class MaskSplit(nn.Module):
    r"""Split by a spatial mask: the conditioner sees :math:`b \odot x`, the map acts on all of
    :math:`x` with parameters that are zero where :math:`b = 1`, which leaves the copied part as is."""

    def __init__(self, mask: Tensor):
        super().__init__()
        self.register_buffer("mask", mask.clone())

    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.mask * x, x

    def merge(self, x_a: Tensor, z_b: Tensor) -> Tensor:
        return z_b  # on the copied coordinates z_b = x exactly (zero shift, zero log-scale)

    def restrict(self, param: Tensor) -> Tensor:
        return param * (1 - self.mask)

    def full(self, x_a: Tensor, param: Tensor) -> Tensor:
        return param


# ------------------------------------------------------------------------------------------- maps
class AdditiveMap(nn.Module):
    """NICE: :math:`z_b = x_b + t`, log-det 0."""

    params_per_coordinate = 1

    def parameters_from(self, raw: Tensor) -> tuple[Tensor, ...]:
        return (raw,)

    def forward(self, x_b: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        return x_b + t, x_b.new_zeros(x_b.shape[0])

    def inverse(self, z_b: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        return z_b - t, z_b.new_zeros(z_b.shape[0])


class AffineMap(nn.Module):
    r"""RealNVP: :math:`z_b = x_b \odot e^{s} + t`, log-det :math:`\sum s`; ``scale`` one of ``SCALES``
    and ``scale_bound > 0``, as :class:`AffineCoupling` checks them."""

    params_per_coordinate = 2

    def __init__(self, scale: str = "tanh", scale_bound: float = 3.0):
        super().__init__()
        self.scale, self.scale_bound = scale, float(scale_bound)

    def parameters_from(self, raw: Tensor) -> tuple[Tensor, ...]:
        raw_s, t = raw.chunk(2, dim=1)
        if self.scale == "sigmoid":
            return F.logsigmoid(raw_s + 2.0), t
        return self.scale_bound * torch.tanh(raw_s / self.scale_bound), t

    def forward(self, x_b: Tensor, s: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        return x_b * s.exp() + t, s.flatten(1).sum(1)

    def inverse(self, z_b: Tensor, s: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        return (z_b - t) * (-s).exp(), -s.flatten(1).sum(1)


# --------------------------------------------------------------------------------------- coupling
def _split_for(event_shape: tuple, mask, who: str) -> tuple[nn.Module, int, int]:
    """The split a mask asks for, and the conditioner's input and output sizes per parameter."""
    try:
        mask = torch.as_tensor(mask).detach().to(torch.get_default_dtype())
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{who}: the mask must be a 0/1 tensor, got {type(mask).__name__}") from None
    check_tensor(mask, f"{who} (its mask)", nonempty=False)
    # The shapes a mask may have: [D] for vectors; [C, 1, 1] (channels) or [1 or C, H, W] (pixels) for images.
    c, *hw = event_shape
    shapes = [(c,)] if not hw else list(dict.fromkeys([(c, 1, 1)] + ([(1, *hw), (c, *hw)] if None not in hw else [])))
    allowed = " or ".join(str(list(s)) for s in shapes) + (" (a pixel mask needs fixed H, W)" if None in hw else "")
    if tuple(mask.shape) not in shapes:
        raise ValueError(f"{who}: for events {event_shape} the mask must have shape {allowed}, got {list(mask.shape)}")
    spatial = bool(hw) and tuple(mask.shape) != (c, 1, 1)
    full = mask.expand(event_shape) if spatial else mask.flatten()
    if not bool(((full == 0) | (full == 1)).all()) or full.all() or not full.any():
        raise ValueError(f"{who}: the mask must be binary (0/1) and copy some coordinates and transform others")
    if spatial:
        return MaskSplit(full), c, c
    split = IndexSplit(full)
    return split, split.copied, split.transformed


class Coupling(Flow):
    r"""split -> conditioner -> elementwise map -> merge, in both directions:

    .. math:: (x_a, x_b) = \mathrm{split}(x), \quad z = \mathrm{merge}(x_a, m(x_b; c(x_a))); \qquad
              (z_a, z_b) = \mathrm{split}(z), \quad x = \mathrm{merge}(z_a, m^{-1}(z_b; c(z_a))).

    ``event_shape`` is ``D`` (vectors) or ``(C, H, W)`` (images; ``H, W`` may be ``None`` for channel
    masks); ``elementwise`` is a coupling map (:class:`AdditiveMap`, :class:`AffineMap`).
    """

    @checked
    def __init__(self, event_shape, mask: Tensor, elementwise: nn.Module, hidden: Count = 64,
                 layers: Count = 2, activation: type[nn.Module] = nn.ReLU, conditioner: MaybeModule = None):
        super().__init__()
        name = type(self).__name__
        self.event_shape = check_event_shape(event_shape, f"{name} (its event_shape)", allow_none=True)
        if len(self.event_shape) not in (1, 3) or self.event_shape[0] is None:
            raise ValueError(f"{name}: event_shape must be D or (C, H, W) (H, W may be None), got {self.event_shape}")
        self.partition, n_in, n_out = _split_for(self.event_shape, mask, name)
        self.map = elementwise
        n_out *= elementwise.params_per_coordinate
        if conditioner is None:
            conditioner = (ConvNet(n_in, n_out, hidden, activation) if len(self.event_shape) == 3
                           else MLP(n_in, n_out, hidden, layers, activation))
        self.conditioner = conditioner
        self.conditioner_out = n_out

    def _params(self, x_a: Tensor) -> tuple[Tensor, ...]:
        raw = self.conditioner(x_a)
        expected = (x_a.shape[0], self.conditioner_out, *x_a.shape[2:])
        if tuple(raw.shape) != expected:  # a conditioner of the caller's
            raise ValueError(f"{self.name_of()}: conditioner gave shape {list(raw.shape)}, expected {list(expected)}")
        return tuple(self.partition.restrict(p) for p in self.map.parameters_from(raw))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x_a, x_b = self.partition.split(x)
        z_b, logdet = self.map(x_b, *self._params(x_a))
        return self.partition.merge(x_a, z_b), logdet

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        z_a, z_b = self.partition.split(z)
        x_b, logdet = self.map.inverse(z_b, *self._params(z_a))
        return self.partition.merge(z_a, x_b), logdet

    def scale_and_shift(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``s(x_a)`` and ``t(x_a)`` on the full event shape, zero on the copied coordinates."""
        self.check_input(x, who=f"{type(self).__name__}.scale_and_shift")
        x_a, _ = self.partition.split(x)
        params = self._params(x_a)
        t = self.partition.full(x_a, params[-1])
        s = self.partition.full(x_a, params[0]) if len(params) == 2 else torch.zeros_like(t)
        return s, t

    def extra_repr(self) -> str:
        kind = "spatial" if isinstance(self.partition, MaskSplit) else (
            "channel" if len(self.event_shape) == 3 else "vector")
        return f"event_shape={self.event_shape}, mask={kind}"


class AdditiveCoupling(Coupling):
    r"""NICE: :math:`z_b = x_b + t(x_a)`; log-det exactly 0. ``event_shape`` is ``D`` or ``(C, H, W)``."""

    def __init__(self, event_shape, mask: Tensor, hidden: int = 64, layers: int = 2,
                 activation: type[nn.Module] = nn.ReLU, conditioner: nn.Module | None = None):
        super().__init__(event_shape, mask, AdditiveMap(), hidden, layers, activation, conditioner)


class AffineCoupling(Coupling):
    r"""RealNVP: :math:`z_b = x_b \odot e^{s(x_a)} + t(x_a)`; log-det :math:`\sum s`.

    ``scale="tanh"`` (default) soft-clamps :math:`s = a\tanh(\tilde s / a)` with :math:`a` =
    ``scale_bound`` (identity at init); ``scale="sigmoid"`` is Glow's :math:`s = \log\sigma(\tilde s + 2)`.
    """

    @checked
    def __init__(self, event_shape, mask: Tensor, hidden: int = 64, layers: int = 2,
                 activation: type[nn.Module] = nn.ReLU, conditioner: nn.Module | None = None,
                 scale: OneOf(SCALES) = "tanh", scale_bound: Positive = 3.0):
        super().__init__(event_shape, mask, AffineMap(scale, scale_bound), hidden, layers, activation,
                         conditioner)


@checked
def realnvp(features: AtLeast(2), num_layers: Count = 8, hidden: int = 64, layers: int = 2,
            mask: OneOf(MASKS) = "alternating", activation: type[nn.Module] = nn.ReLU,
            additive: bool = False) -> Compose:
    """A RealNVP (or NICE, ``additive=True``) stack for vectors: couplings with masks of
    alternating parity so that every coordinate is transformed. ``mask``: "alternating" or "half".
    The couplings check ``hidden`` and ``layers``."""
    make_mask = alternating_mask if mask == "alternating" else _half  # masks of the checked size
    cls = AdditiveCoupling if additive else AffineCoupling
    return Compose([cls(features, make_mask(features, i % 2), hidden=hidden, layers=layers,
                        activation=activation) for i in range(num_layers)])
