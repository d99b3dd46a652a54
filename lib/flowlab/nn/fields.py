r"""The one time-conditioned vector field :math:`f(t, z)`: FFJORD's ``concat`` layers (:math:`t`
enters every layer as an extra input), on vectors or images, split as :math:`f = g \circ h` for the
bottleneck trick; several one-hidden-layer fields stacked into one (:class:`StackedTimeMLP`); and the
DDPM noise predictor :math:`\epsilon_\theta(x_t, t, y)`."""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import Tensor, nn

from flowlab.nn.conditioners import ACTIVATIONS, MLP
from flowlab.validate import Count, Count0, EventShape, ItemsOf, OneOf, checked

Widths = ItemsOf(Count)  # hidden layer widths such as (64, 64)


class ConcatLinear(nn.Module):
    """A linear layer that sees time: :math:`W[h; t] + b` (FFJORD's ``concat`` layer)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features + 1, out_features)

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        tt = torch.as_tensor(t, dtype=h.dtype, device=h.device).reshape(1, 1).expand(h.shape[0], 1)
        return self.linear(torch.cat([h, tt], dim=1))


class ConcatConv2d(nn.Module):
    """A convolution over ``[h; t]`` (odd ``kernel_size``, padded to keep the image size): time enters as
    one constant channel."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(in_channels + 1, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        tt = torch.as_tensor(t, dtype=h.dtype, device=h.device).reshape(1, 1, 1, 1)
        return self.conv(torch.cat([h, tt.expand(h.shape[0], 1, *h.shape[2:])], dim=1))


class _TimeConcatStack(nn.Module):
    r"""Layers that each see time, the activation between them: :math:`f = g \circ h`, with
    ``encode`` the first layer and its activation (:math:`h`) and ``decode`` the rest (:math:`g`).
    The subclasses check ``hidden`` (a non-empty tuple of widths) and ``activation``."""

    def __init__(self, layer: type[nn.Module], event_shape: tuple, width: int, hidden: tuple, activation: str):
        super().__init__()
        self.act = ACTIVATIONS[activation]()
        widths = (width, *hidden, width)
        self.layers = nn.ModuleList(layer(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.event_shape = event_shape

    def encode(self, t: Tensor, z: Tensor) -> Tensor:
        return self.act(self.layers[0](t, z))

    def decode(self, t: Tensor, h: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers[1:]):
            h = layer(t, h)
            if i < len(self.layers) - 2:
                h = self.act(h)
        return h

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        if tuple(z.shape[1:]) != self.event_shape:
            raise ValueError(f"{type(self).__name__} expects z of shape [batch, "
                             f"{', '.join(map(str, self.event_shape))}], got {list(z.shape)}")
        return self.decode(t, self.encode(t, z))


class TimeConcatMLP(_TimeConcatStack):
    r"""The vector field :math:`f(t, z)` on :math:`\mathbb R^D`: an MLP with :math:`t` concatenated to
    every layer's input. ``TimeConcatMLP(D, (H,), "tanh")`` is the classic one-hidden-layer
    neural-ODE field."""

    @checked
    def __init__(self, features: Count, hidden: Widths = (64, 64, 64), activation: OneOf(ACTIVATIONS) = "softplus"):
        super().__init__(ConcatLinear, (features,), features, hidden, activation)
        self.features = features


class TimeConcatConvNet(_TimeConcatStack):
    """The field :math:`f(t, z)` on images of ``shape = (C, H, W)``: 3x3 time-concat convolutions
    with ``hidden`` channels per layer, padding keeping the spatial size."""

    @checked
    def __init__(self, shape: EventShape, hidden: Widths = (32, 32, 32), activation: OneOf(ACTIVATIONS) = "softplus"):
        if len(shape) != 3:
            raise ValueError(f"TimeConcatConvNet needs an image shape (C, H, W), got {shape}")
        super().__init__(ConcatConv2d, shape, shape[0], hidden, activation)
        self.shape = shape


class TimeLabelMLP(nn.Module):
    r"""The noise predictor :math:`\epsilon_\theta(x_t, t, y)` on :math:`\mathbb R^D`: an :class:`MLP`
    on :math:`[x_t;\ \sin, \cos \text{ features of } t \in [0, 1];\ \text{embedding of } y]`. Label
    ``num_classes`` (or ``y=None``) is the empty label of classifier-free guidance;
    ``num_classes=0`` is unconditional."""

    @checked
    def __init__(self, features: Count, num_classes: Count0 = 0, hidden: Count = 128, layers: Count = 3,
                 time_features: Count = 16, label_features: Count = 16, activation: OneOf(ACTIVATIONS) = "swish"):
        super().__init__()
        if time_features % 2:
            raise ValueError(f"TimeLabelMLP: time_features must be even (sines and cosines), got {time_features}")
        self.features, self.num_classes = features, num_classes
        self.register_buffer("frequencies", torch.exp(torch.linspace(0.0, 6.0, time_features // 2)))
        self.label = nn.Embedding(num_classes + 1, label_features) if num_classes else None
        width = features + time_features + (label_features if num_classes else 0)
        self.net = MLP(width, features, hidden, layers, activation=ACTIVATIONS[activation], zero_last=False)

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        arg = t.to(x.dtype)[:, None] * self.frequencies.to(x.dtype)[None]
        parts = [x, torch.sin(arg), torch.cos(arg)]
        if self.label is not None:
            if y is None:
                y = torch.full((len(x),), self.num_classes, dtype=torch.long, device=x.device)
            parts.append(self.label(y).to(x.dtype))
        return self.net(torch.cat(parts, dim=1))


class StackedTimeMLP(nn.Module):
    r"""Several independent one-hidden-layer time-concat fields :math:`f_s(t, z_s)` on :math:`\mathbb R^2`,
    evaluated together on the concatenation :math:`z = [z_1, \dots, z_S] \in \mathbb R^{2S}`.

    Its Jacobian is block diagonal, so a CNF over it moves every member independently and its
    log-det is the sum of the members' log-dets. Built from ``TimeConcatMLP(2, (hidden,), "tanh")``
    members, all alike (copied in), and :meth:`member` gives them back as ordinary fields. The
    ensemble fitter that builds it (:func:`flowlab.train.fit_reverse_kl_cnf_ensemble`) validates.
    """

    def __init__(self, members: Sequence[TimeConcatMLP]):
        super().__init__()
        first, last = zip(*[(m.layers[0].linear, m.layers[1].linear) for m in members])
        self.w1 = nn.Parameter(torch.stack([lin.weight.detach() for lin in first]))   # [S, H, 3]
        self.b1 = nn.Parameter(torch.stack([lin.bias.detach() for lin in first]))     # [S, H]
        self.w2 = nn.Parameter(torch.stack([lin.weight.detach() for lin in last]))    # [S, 2, H + 1]
        self.b2 = nn.Parameter(torch.stack([lin.bias.detach() for lin in last]))      # [S, 2]
        self._template = copy.deepcopy(members[0])
        self.size = len(members)

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        zs = z.reshape(z.shape[0], self.size, 2)
        tt = torch.as_tensor(t, dtype=z.dtype, device=z.device).expand(z.shape[0], self.size, 1)
        h = torch.tanh(torch.einsum("bsi,shi->bsh", torch.cat([zs, tt], -1), self.w1) + self.b1)
        out = torch.einsum("bsh,soh->bso", torch.cat([h, tt], -1), self.w2) + self.b2
        return out.reshape(z.shape[0], 2 * self.size)

    def member(self, i: int) -> TimeConcatMLP:
        field = copy.deepcopy(self._template)
        with torch.no_grad():
            for layer, w, b in ((field.layers[0].linear, self.w1, self.b1), (field.layers[1].linear, self.w2, self.b2)):
                layer.weight.copy_(w[i])
                layer.bias.copy_(b[i])
        return field
