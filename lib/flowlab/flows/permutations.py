r"""Fixed permutations of features (vectors ``[B, D]``) or channels (images ``[B, C, H, W]``).

A permutation matrix :math:`P` has :math:`|\det P| = 1`, so these flows have log-det 0. Between
coupling layers they make every coordinate get transformed (003 "Glow": the reverse and the random
shuffle that the invertible 1x1 convolution replaces):

.. math:: z_i = x_{\pi(i)}, \qquad x_j = z_{\pi^{-1}(j)}.
"""
from __future__ import annotations

import torch
from torch import Tensor

from flowlab.flows.base import Flow
from flowlab.validate import check_generator, check_tensor

__all__ = ["Permutation", "ReversePermutation", "RandomPermutation"]


class Permutation(Flow):
    """Reorders axis 1 (features or channels) by ``permutation``: ``z[:, i] = x[:, permutation[i]]``."""

    def __init__(self, permutation: Tensor):
        super().__init__()
        try:
            permutation = torch.as_tensor(permutation)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"{type(self).__name__} expects a permutation of 0..n-1 (a 1-D integer tensor), "
                            f"got {type(permutation).__name__}") from None
        n = permutation.numel()
        if permutation.dim() != 1 or n < 1 or permutation.dtype.is_floating_point or \
                not torch.equal(permutation.sort().values, torch.arange(n)):
            raise ValueError(f"{type(self).__name__} expects a permutation of 0..n-1, got {permutation.tolist()}")
        self.features = n
        self.register_buffer("permutation", permutation.long().clone())
        self.register_buffer("inverse_permutation", torch.argsort(self.permutation))

    def _check(self, x: Tensor, who: str) -> None:
        name = f"{type(self).__name__}{who}"
        check_tensor(x, name)
        if x.dim() not in (2, 4) or x.shape[1] != self.features:
            raise ValueError(f"{name} expects [batch, {self.features}] vectors or "
                             f"[batch, {self.features}, H, W] images, got {list(x.shape)}")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x, "")
        return x.index_select(1, self.permutation), x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self._check(z, ".inverse")
        return z.index_select(1, self.inverse_permutation), z.new_zeros(z.shape[0])

    def extra_repr(self) -> str:
        return f"features={self.features}"


class ReversePermutation(Permutation):
    """Reverses the order of the ``features`` (or channels): RealNVP/Glow's "reverse"."""

    def __init__(self, features: int):
        if isinstance(features, bool) or not isinstance(features, int) or features < 1:
            raise ValueError(f"ReversePermutation needs a positive number of features, got {features!r}")
        super().__init__(torch.arange(features - 1, -1, -1))


class RandomPermutation(Permutation):
    """A fixed random shuffle of the ``features`` (or channels), drawn once from ``generator``."""

    def __init__(self, features: int, generator: torch.Generator | None = None):
        if isinstance(features, bool) or not isinstance(features, int) or features < 1:
            raise ValueError(f"RandomPermutation needs a positive number of features, got {features!r}")
        check_generator(generator, "RandomPermutation")
        super().__init__(torch.randperm(features, generator=generator))
