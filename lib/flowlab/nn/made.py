"""MADE: masked linear layers whose masks make each output depend only on earlier inputs."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from flowlab.validate import Count, Count0, check_choice, check_symbols, checked


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 ``mask`` of shape [out, in]."""

    def __init__(self, in_features: int, out_features: int, mask: Tensor):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


def autoregressive_degrees(features: int, order: str | Sequence[int] | Tensor) -> Tensor:
    """The position of each coordinate in the autoregressive order, as degrees 1..D: ``"natural"``,
    ``"reverse"``, or a permutation of 0..D-1 listing the coordinates in the order they are generated.
    :class:`MADE`'s ``order`` is validated here."""
    if isinstance(order, str):
        check_choice(order, ("natural", "reverse"), "order", "MADE")
        return torch.arange(1, features + 1) if order == "natural" else torch.arange(features, 0, -1)
    perm = check_symbols(order, features, "MADE", "order (a permutation)")
    if perm.shape != (features,) or sorted(perm.tolist()) != list(range(features)):
        raise ValueError(f"MADE: order must be a permutation of 0..{features - 1}, got {perm.tolist()}")
    degrees = torch.empty(features, dtype=torch.long)
    degrees[torch.from_numpy(perm).long()] = torch.arange(1, features + 1)  # perm[k]: the k-th generated
    return degrees


class MADE(nn.Module):
    r"""Masked autoencoder (Germain et al. 2015): ``params_per_feature`` outputs per coordinate,
    each seeing only the coordinates before it in the order.

    Input unit :math:`t` has degree :math:`\pi(t) \in 1..D`, hidden units degrees in :math:`1..D-1`
    (cycled deterministically); a weight into a hidden unit of degree :math:`k` from degree
    :math:`k'` is kept iff :math:`k \ge k'`, into an output of degree :math:`d` iff :math:`d > k`.
    Every path from input :math:`s` to output :math:`t` needs :math:`\pi(s) < \pi(t)`: the Jacobian
    is strictly triangular in the order. Returns ``[batch, features, params_per_feature]``.

    With ``context_features = C > 0`` the network also sees a context vector :math:`h` [batch, C]
    (IAF's in a VAE posterior, Kingma et al. 2016): :math:`W_h h` is added to the first hidden layer,
    unmasked, so every output may depend on it and the ordering in :math:`x` is unchanged.
    """

    @checked
    def __init__(self, features: Count, hidden: Count = 64, layers: Count = 2, params_per_feature: Count = 2,
                 order: str | Sequence[int] | Tensor = "natural", context_features: Count0 = 0):
        super().__init__()
        self.context_features = context_features
        if features > 1 and hidden < features - 1:
            raise ValueError(f"MADE needs hidden >= features - 1 = {features - 1} to see every past, got {hidden}")
        self.context = nn.Linear(context_features, hidden) if context_features else None
        self.features, self.params_per_feature = features, params_per_feature
        self.register_buffer("degrees", autoregressive_degrees(features, order))
        # With D = 1 there is no past at all: degree 0 hidden units are cut from every output.
        d_hidden = torch.arange(hidden) % max(features - 1, 1) + (1 if features > 1 else 0)
        blocks, prev = [], self.degrees
        for _ in range(layers):
            blocks += [MaskedLinear(prev.numel(), hidden, (d_hidden[:, None] >= prev[None, :]).float()), nn.ReLU()]
            prev = d_hidden
        d_out = self.degrees.repeat_interleave(params_per_feature)  # outputs grouped per coordinate
        blocks.append(MaskedLinear(prev.numel(), features * params_per_feature,
                                   (d_out[:, None] > prev[None, :]).float()))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        if (context is None) != (self.context is None):
            raise ValueError(f"MADE has context_features={self.context_features}: pass a context iff that is > 0")
        if context is None:
            out = self.net(x)
        else:
            out = self.net[1:](self.net[0](x) + self.context(context))
        return out.reshape(x.shape[0], self.features, self.params_per_feature)
