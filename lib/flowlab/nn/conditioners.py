"""Coupling conditioners: an MLP for vectors, RealNVP/Glow's conv net for images; the last
layer starts at zero so that a fresh coupling is the identity. Inner networks: the layers and
models that build them validate the sizes."""
from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "softplus": nn.Softplus, "tanh": nn.Tanh, "elu": nn.ELU, "swish": nn.SiLU}


def _zero(layer: nn.Module) -> nn.Module:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class MLP(nn.Sequential):
    """``in -> hidden -> ... -> out`` with ``layers`` hidden layers; the last layer starts at zero."""

    def __init__(self, in_features: int, out_features: int, hidden: int = 64, layers: int = 2,
                 activation: type[nn.Module] = nn.ReLU, zero_last: bool = True):
        mods: list[nn.Module] = []
        width = in_features
        for _ in range(layers):
            mods += [nn.Linear(width, hidden), activation()]
            width = hidden
        last = nn.Linear(width, out_features)
        super().__init__(*mods, _zero(last) if zero_last else last)


def _in_place(activation: type[nn.Module]) -> nn.Module:
    """The activation computing in place where it can: after a convolution, whose backward does not
    need its output, that saves a pass over the largest tensors of the step."""
    return activation(inplace=True) if activation in (nn.ReLU, nn.ELU, nn.SiLU) else activation()


class ConvNet(nn.Sequential):
    """3x3 conv -> 1x1 conv -> 3x3 conv (RealNVP/Glow's ``NN()``); the last conv starts at zero."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 64,
                 activation: type[nn.Module] = nn.ReLU):
        # The last layer is built first so that a seeded model draws the same weights as it always has.
        last = _zero(nn.Conv2d(hidden, out_channels, 3, padding=1))
        super().__init__(nn.Conv2d(in_channels, hidden, 3, padding=1), _in_place(activation),
                         nn.Conv2d(hidden, hidden, 1), _in_place(activation), last)
        self.to(memory_format=torch.channels_last)

    def forward(self, x):
        # oneDNN's CPU convolutions, forward and backward, run ~20% faster on channels-last (NHWC) data;
        # a vmapped ensemble's copies (batched tensors) cannot take a memory format
        if not torch._C._functorch.is_batchedtensor(x):
            x = x.contiguous(memory_format=torch.channels_last)
        return super().forward(x)
