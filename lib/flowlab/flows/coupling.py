r"""Coupling layers: NICE (additive) and RealNVP (affine), for vectors and images.

A binary mask :math:`b` splits the input into a part that is copied and a part that is transformed
by functions of the copied part only (003 "Real NVP via Masked Convolution"):

.. math:: z = b \odot x + (1 - b) \odot \big(x \odot e^{s(b \odot x)} + t(b \odot x)\big),
          \qquad \log\left|\det \frac{\partial z}{\partial x}\right| = \sum_i (1 - b_i)\, s_i(b \odot x).

The Jacobian is triangular (after ordering the copied coordinates first) with diagonal
:math:`1` on the copied part and :math:`e^{s}` on the transformed part, so the log-det is the sum of
:math:`s`, and the inverse is exact:
:math:`x = b \odot z + (1 - b) \odot (z - t(b \odot z)) \odot e^{-s(b \odot z)}`.
NICE's additive coupling is the case :math:`s = 0`: volume preserving, log-det 0.

Masks (see :func:`checkerboard_mask`, :func:`channel_mask`, :func:`alternating_mask`,
:func:`half_mask`) decide the computation:

- a mask that varies only along features/channels (vector masks, shape ``[D]``; channel masks,
  shape ``[C, 1, 1]``) is applied by indexing: the conditioner sees only the copied coordinates and
  outputs values only for the transformed ones (the Glow/RealNVP "split" form, half the compute);
- a spatial mask (checkerboard, shape ``[1, H, W]`` or ``[C, H, W]``) is applied by multiplication:
  a convolutional conditioner sees :math:`b \odot x` and its outputs are multiplied by :math:`1-b`.

Both compute the same formula above.

The scale is stabilised (``scale=`` argument):

- ``"tanh"`` (default): :math:`s = a \tanh(\tilde s / a)` with bound :math:`a` (``scale_bound``), a
  soft clamp that equals :math:`\tilde s` near 0; with the conditioner's zero-initialised last layer
  the layer starts as the identity;
- ``"sigmoid"``: Glow's :math:`e^{s} = \sigma(\tilde s + 2)`, i.e. :math:`s = \log\sigma(\tilde s + 2)`
  (always contracting, starts at scale 0.88, not the identity).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowlab.flows.base import Compose, Flow, check_shape

__all__ = [
    "AdditiveCoupling", "AffineCoupling", "MLPConditioner", "ConvConditioner",
    "checkerboard_mask", "channel_mask", "alternating_mask", "half_mask", "realnvp",
]


# ----------------------------------------------------------------------------------------- masks

def _check_parity(parity: int, who: str) -> int:
    if parity not in (0, 1):
        raise ValueError(f"{who}: parity must be 0 or 1, got {parity!r}")
    return parity


def checkerboard_mask(h: int, w: int, parity: int = 0) -> Tensor:
    """``[1, h, w]`` mask with ``b[i, j] = 1`` where ``(i + j) % 2 == parity`` (copied pixels)."""
    _check_parity(parity, "checkerboard_mask")
    if not (isinstance(h, int) and isinstance(w, int)) or h <= 0 or w <= 0 or h * w < 2:
        raise ValueError(f"checkerboard_mask needs positive integer h, w with h*w >= 2, got {h}, {w}")
    i = torch.arange(h)[:, None]
    j = torch.arange(w)[None, :]
    return ((i + j) % 2 == parity).to(torch.get_default_dtype())[None]


def channel_mask(c: int, parity: int = 0) -> Tensor:
    """``[c, 1, 1]`` mask copying the first ``c // 2`` channels (parity 0) or the rest (parity 1)."""
    _check_parity(parity, "channel_mask")
    if not isinstance(c, int) or c < 2:
        raise ValueError(f"channel_mask needs at least 2 channels to split, got {c!r}")
    return half_mask(c, parity)[:, None, None]


def half_mask(d: int, parity: int = 0) -> Tensor:
    """``[d]`` mask copying the first ``d // 2`` features (parity 0) or the last ``d - d//2`` (parity 1)."""
    _check_parity(parity, "half_mask")
    if not isinstance(d, int) or d < 2:
        raise ValueError(f"half_mask needs at least 2 features to split, got {d!r}")
    first = (torch.arange(d) < d // 2).to(torch.get_default_dtype())
    return first if parity == 0 else 1 - first


def alternating_mask(d: int, parity: int = 0) -> Tensor:
    """``[d]`` mask copying the features with index ``i % 2 == parity``."""
    _check_parity(parity, "alternating_mask")
    if not isinstance(d, int) or d < 2:
        raise ValueError(f"alternating_mask needs at least 2 features to split, got {d!r}")
    return (torch.arange(d) % 2 == parity).to(torch.get_default_dtype())


# ----------------------------------------------------------------------------------- conditioners

class MLPConditioner(nn.Sequential):
    """``in -> hidden -> ... -> out`` MLP (``layers`` hidden layers); the last layer starts at zero."""

    def __init__(self, in_features: int, out_features: int, hidden: int = 64, layers: int = 2,
                 activation: type[nn.Module] = nn.ReLU):
        if min(in_features, out_features, hidden, layers) <= 0:
            raise ValueError("MLPConditioner needs positive in/out features, hidden width and layers, got "
                             f"{in_features}, {out_features}, {hidden}, {layers}")
        mods: list[nn.Module] = []
        width = in_features
        for _ in range(layers):
            mods += [nn.Linear(width, hidden), activation()]
            width = hidden
        last = nn.Linear(width, out_features)
        # Zero last layer: s = t = 0, so a fresh coupling layer is the identity.
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        super().__init__(*mods, last)


class ConvConditioner(nn.Sequential):
    """3x3 conv -> 1x1 conv -> 3x3 conv (RealNVP/Glow's ``NN()``); the last conv starts at zero."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 64,
                 activation: type[nn.Module] = nn.ReLU):
        if min(in_channels, out_channels, hidden) <= 0:
            raise ValueError("ConvConditioner needs positive in/out/hidden channels, got "
                             f"{in_channels}, {out_channels}, {hidden}")
        last = nn.Conv2d(hidden, out_channels, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        super().__init__(nn.Conv2d(in_channels, hidden, 3, padding=1), activation(),
                         nn.Conv2d(hidden, hidden, 1), activation(), last)


# ------------------------------------------------------------------------------------- couplings

def _event_shape(event_shape) -> tuple:
    if isinstance(event_shape, int):
        event_shape = (event_shape,)
    event_shape = tuple(event_shape)
    if len(event_shape) not in (1, 3) or any(s is not None and (not isinstance(s, int) or s <= 0)
                                             for s in event_shape) or event_shape[0] is None:
        raise ValueError("coupling event_shape must be D (vectors) or (C, H, W) (images; H, W may be None "
                         f"for channel masks), got {event_shape}")
    return event_shape


class _Coupling(Flow):
    """Shared machinery; subclasses set how many conditioner outputs per coordinate and the scale."""

    outputs_per_coordinate = 1
    name = "Coupling"

    def __init__(self, event_shape: int | Sequence[int | None], mask: Tensor, hidden: int = 64,
                 layers: int = 2, activation: type[nn.Module] = nn.ReLU,
                 conditioner: nn.Module | None = None):
        super().__init__()
        event_shape = _event_shape(event_shape)
        mask = torch.as_tensor(mask).detach().to(torch.get_default_dtype())
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError(f"{self.name}: the mask must be binary (0/1)")
        image = len(event_shape) == 3
        if not image and mask.shape != event_shape:
            raise ValueError(f"{self.name}: a vector mask must have shape {list(event_shape)}, got {list(mask.shape)}")
        if image and (mask.dim() != 3 or mask.shape[0] not in (1, event_shape[0])):
            raise ValueError(f"{self.name}: an image mask must have shape [1 or C={event_shape[0]}, H, W] "
                             f"or [C, 1, 1], got {list(mask.shape)}")
        spatial = image and mask.shape[1:] != (1, 1)
        if image and mask.shape[1:] == (1, 1) and mask.shape[0] != event_shape[0]:
            raise ValueError(f"{self.name}: a channel mask must have shape [{event_shape[0]}, 1, 1], "
                             f"got {list(mask.shape)}")
        if spatial:
            if None in event_shape[1:]:
                raise ValueError(f"{self.name}: a spatial mask needs fixed H, W in event_shape, got {event_shape}")
            if tuple(mask.shape[1:]) != tuple(event_shape[1:]):
                raise ValueError(f"{self.name}: mask spatial shape {list(mask.shape[1:])} does not match "
                                 f"event shape H, W = {list(event_shape[1:])}")
            full = mask.expand(event_shape)
        else:
            full = mask
        if full.all() or not full.any():
            raise ValueError(f"{self.name}: the mask must copy some coordinates and transform others")
        self.event_shape = event_shape
        self.spatial = spatial
        self.register_buffer("mask", full.clone())
        k = self.outputs_per_coordinate
        if spatial:
            c = event_shape[0]
            n_in, n_out = c, k * c
        else:
            keep = full.reshape(-1).nonzero().squeeze(1) if not image else full[:, 0, 0].nonzero().squeeze(1)
            trans = (full.reshape(-1) == 0).nonzero().squeeze(1) if not image else (full[:, 0, 0] == 0).nonzero().squeeze(1)
            self.register_buffer("keep", keep)
            self.register_buffer("trans", trans)
            # Putting [copied, transformed] back into the original order.
            self.register_buffer("unsort", torch.argsort(torch.cat([keep, trans])))
            # Half masks (Glow's channel split) copy one contiguous block: plain slices then replace
            # the gathers, which saves three copies per layer.
            contiguous = bool((keep.diff() == 1).all() and (trans.diff() == 1).all())
            self.keep_first = bool(keep[0] == 0) if contiguous else None
            n_in, n_out = len(keep), k * len(trans)
        if conditioner is None:
            conditioner = (ConvConditioner(n_in, n_out, hidden, activation) if image
                           else MLPConditioner(n_in, n_out, hidden, layers, activation))
        self.conditioner = conditioner
        self.conditioner_in, self.conditioner_out = n_in, n_out

    # Subclasses map raw conditioner output (k chunks along dim 1) to (log-scale, shift).
    def _log_scale_shift(self, raw: Tensor) -> tuple[Tensor | None, Tensor]:  # pragma: no cover
        raise NotImplementedError

    def _check(self, x: Tensor, who: str) -> None:
        check_shape(x, self.event_shape, f"{type(self).__name__}{who}")

    def _split_params(self, cond: Tensor) -> tuple[Tensor | None, Tensor]:
        """(log-scale or None, shift) for the transformed part, from the copied part ``cond``."""
        raw = self.conditioner(cond)
        expected = (cond.shape[0], self.conditioner_out, *cond.shape[2:])
        if tuple(raw.shape) != expected:
            raise ValueError(f"{type(self).__name__}: conditioner returned shape {list(raw.shape)}, "
                             f"expected {list(expected)}")
        return self._log_scale_shift(raw)

    def scale_and_shift(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``s(b*x)`` and ``t(b*x)`` on the full event shape, zero on the copied coordinates."""
        self._check(x, ".scale_and_shift")
        if self.spatial:
            s, t = self._split_params(self.mask * x)
            s = torch.zeros_like(x) if s is None else s * (1 - self.mask)
            return s, t * (1 - self.mask)
        x_keep = self._partition(x)[0]
        s, t = self._split_params(x_keep)
        zeros = torch.zeros_like(x_keep)
        s = torch.zeros_like(t) if s is None else s
        return self._merge(zeros, s), self._merge(zeros, t)

    def _transform(self, x: Tensor, sign: int) -> tuple[Tensor, Tensor]:
        if self.spatial:
            b = self.mask
            s, t = self._split_params(b * x)
            if s is None:
                y = x + t if sign > 0 else x - t
                return b * x + (1 - b) * y, x.new_zeros(x.shape[0])
            y = x * s.exp() + t if sign > 0 else (x - t) * (-s).exp()
            logdet = ((1 - b) * s).flatten(1).sum(1)
            return b * x + (1 - b) * y, sign * logdet
        x_keep, x_trans = self._partition(x)
        s, t = self._split_params(x_keep)
        if s is None:
            y = x_trans + t if sign > 0 else x_trans - t
            logdet = x.new_zeros(x.shape[0])
        else:
            y = x_trans * s.exp() + t if sign > 0 else (x_trans - t) * (-s).exp()
            logdet = sign * s.flatten(1).sum(1)
        return self._merge(x_keep, y), logdet

    def _partition(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(copied, transformed) coordinates along dim 1."""
        if self.keep_first is None:
            return x.index_select(1, self.keep), x.index_select(1, self.trans)
        n_keep = len(self.keep)
        if self.keep_first:
            return x[:, :n_keep], x[:, n_keep:]
        return x[:, x.shape[1] - n_keep:], x[:, :x.shape[1] - n_keep]

    def _merge(self, x_keep: Tensor, y: Tensor) -> Tensor:
        if self.keep_first is None:
            return torch.cat([x_keep, y], 1).index_select(1, self.unsort)
        return torch.cat([x_keep, y] if self.keep_first else [y, x_keep], 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x, "")
        return self._transform(x, +1)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self._check(z, ".inverse")
        return self._transform(z, -1)

    def extra_repr(self) -> str:
        kind = "spatial" if self.spatial else ("channel" if len(self.event_shape) == 3 else "vector")
        return f"event_shape={self.event_shape}, mask={kind}"


class AdditiveCoupling(_Coupling):
    r"""NICE: :math:`z = b \odot x + (1-b) \odot (x + t(b \odot x))`; log-det exactly 0.

    ``AdditiveCoupling(event_shape, mask, hidden=64, layers=2)``: ``event_shape`` is ``D`` or
    ``(C, H, W)``; ``mask`` from the mask factories (see the module docstring).
    """

    outputs_per_coordinate = 1
    name = "AdditiveCoupling"

    def _log_scale_shift(self, raw: Tensor) -> tuple[None, Tensor]:
        return None, raw


class AffineCoupling(_Coupling):
    r"""RealNVP: :math:`z = b \odot x + (1-b) \odot (x \odot e^{s(b \odot x)} + t(b \odot x))`.

    Log-det :math:`\sum (1-b) \odot s`. ``scale="tanh"`` (default) soft-clamps
    :math:`s = a\tanh(\tilde s / a)` with :math:`a` = ``scale_bound`` (identity at init);
    ``scale="sigmoid"`` is Glow's :math:`s = \log\sigma(\tilde s + 2)`.
    """

    outputs_per_coordinate = 2
    name = "AffineCoupling"

    def __init__(self, event_shape, mask, hidden: int = 64, layers: int = 2,
                 activation: type[nn.Module] = nn.ReLU, conditioner: nn.Module | None = None,
                 scale: str = "tanh", scale_bound: float = 3.0):
        if scale not in ("tanh", "sigmoid"):
            raise ValueError(f"AffineCoupling: scale must be 'tanh' or 'sigmoid', got {scale!r}")
        if not scale_bound > 0:
            raise ValueError(f"AffineCoupling: scale_bound must be positive, got {scale_bound!r}")
        super().__init__(event_shape, mask, hidden, layers, activation, conditioner)
        self.scale, self.scale_bound = scale, float(scale_bound)

    def _log_scale_shift(self, raw: Tensor) -> tuple[Tensor, Tensor]:
        raw_s, t = raw.chunk(2, dim=1)
        if self.scale == "sigmoid":
            return F.logsigmoid(raw_s + 2.0), t
        a = self.scale_bound
        return a * torch.tanh(raw_s / a), t


# -------------------------------------------------------------------------------------- builders

def realnvp(features: int, num_layers: int = 8, hidden: int = 64, layers: int = 2,
            mask: str = "alternating", activation: type[nn.Module] = nn.ReLU,
            additive: bool = False) -> Compose:
    """A RealNVP (or NICE, ``additive=True``) stack for vectors: couplings with masks of
    alternating parity so that every coordinate is transformed. ``mask``: "alternating" or "half"."""
    if mask not in ("alternating", "half"):
        raise ValueError(f"realnvp: mask must be 'alternating' or 'half', got {mask!r}")
    if not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"realnvp: num_layers must be a positive integer, got {num_layers!r}")
    make_mask = alternating_mask if mask == "alternating" else half_mask
    cls = AdditiveCoupling if additive else AffineCoupling
    return Compose([cls(features, make_mask(features, i % 2), hidden=hidden, layers=layers,
                        activation=activation) for i in range(num_layers)])
