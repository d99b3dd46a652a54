r"""Fixed permutations of features (vectors ``[B, D]``) or channels (images ``[B, C, H, W]``).

A permutation matrix :math:`P` has :math:`|\det P| = 1`, so these flows have log-det 0. Between
coupling layers they make every coordinate get transformed (003 "Glow": the reverse and the random
shuffle that the invertible 1x1 convolution replaces):

.. math:: z_i = x_{\pi(i)}, \qquad x_j = z_{\pi^{-1}(j)}.

The multi-scale builder makes them from checked sizes; they trust their arguments.
"""
from __future__ import annotations

import torch
from torch import Tensor

from flowlab.flows.base import Flow
from flowlab.validate import check_shape

__all__ = ["Permutation", "ReversePermutation", "RandomPermutation"]


class Permutation(Flow):
    """Reorders axis 1 (features or channels) by ``permutation`` (of ``0 .. n-1``):
    ``z[:, i] = x[:, permutation[i]]``."""

    def __init__(self, permutation: Tensor):
        super().__init__()
        permutation = torch.as_tensor(permutation)
        self.features = permutation.numel()
        self.register_buffer("permutation", permutation.long().clone())
        self.register_buffer("inverse_permutation", torch.argsort(self.permutation))

    def check_input(self, x, direction: str = "forward", *args, who: str | None = None, **kwargs) -> Tensor:
        # Vectors [batch, n] or images [batch, n, H, W]; any shape in a composition (input_shape is None).
        shape = (self.features, None, None) if isinstance(x, Tensor) and x.dim() > 2 else (self.features,)
        check_shape(x, shape, who or self.name_of(direction))
        return x

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x.index_select(1, self.permutation), x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return z.index_select(1, self.inverse_permutation), z.new_zeros(z.shape[0])

    def extra_repr(self) -> str:
        return f"features={self.features}"


class ReversePermutation(Permutation):
    """Reverses the order of the ``features`` (or channels): RealNVP/Glow's "reverse"."""

    def __init__(self, features: int):
        super().__init__(torch.arange(features - 1, -1, -1))


class RandomPermutation(Permutation):
    """A fixed random shuffle of the ``features`` (or channels), drawn once from ``generator``."""

    def __init__(self, features: int, generator: torch.Generator | None = None):
        super().__init__(torch.randperm(features, generator=generator))
