r"""The flow protocol and composition.

A flow is a bijection :math:`f: x \mapsto z` in the *normalizing* direction (data to latent), as
in the lectures. Every layer returns the log absolute determinant of the Jacobian of the direction
it computes, one value per sample:

.. math:: \texttt{forward}(x) = (f(x),\ \log|\det \partial f / \partial x|), \qquad
          \texttt{inverse}(z) = (f^{-1}(z),\ \log|\det \partial f^{-1} / \partial z|).

so that ``inverse`` returns minus the forward log-det evaluated at the reconstructed point.
Composition :math:`f_S \circ \dots \circ f_1` sums the per-layer log-dets (the chain rule).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn


class Flow(nn.Module):
    """Base class of every bijection. Subclasses implement ``forward`` and ``inverse``."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


class Compose(Flow):
    r"""The composition :math:`f_S \circ \dots \circ f_1`; ``layers[0]`` is applied first."""

    def __init__(self, *layers: Flow | Sequence[Flow]):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Flow):
                raise TypeError(
                    f"Compose expects Flow layers; layer {i} is {type(layer).__name__}"
                )
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, logdet = layer(x)
            total = total + logdet
        return x, total

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        total = z.new_zeros(z.shape[0])
        for layer in reversed(self.layers):
            z, logdet = layer.inverse(z)
            total = total + logdet
        return z, total

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]


class Inverse(Flow):
    """Swaps the two directions of a flow (turns a MAF into an IAF, a sampler into a density)."""

    def __init__(self, flow: Flow):
        super().__init__()
        self.flow = flow

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.flow.inverse(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.flow(z)


def check_shape(x: Tensor, event_shape: Sequence[int | None], who: str) -> None:
    """Raise a ValueError unless ``x`` is a batch of events of ``event_shape``.

    ``None`` in ``event_shape`` accepts any size along that axis.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{who} expects a torch.Tensor, got {type(x).__name__}")
    expected = tuple(event_shape)
    want = "[batch, " + ", ".join("*" if s is None else str(s) for s in expected) + "]"
    if x.dim() != len(expected) + 1 or any(
        s is not None and s != actual for s, actual in zip(expected, x.shape[1:])
    ):
        raise ValueError(f"{who} expects input of shape {want}, got {list(x.shape)}")
