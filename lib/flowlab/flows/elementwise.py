r"""Affine maps: the simplest flows, with closed-form densities to check everything else against."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from flowlab.flows.base import Flow


class Affine(Flow):
    r""":math:`z = A x + b` for an invertible :math:`d \times d` matrix; :math:`\log|\det| = \log|\det A|`.

    Pushing :math:`\mathcal N(0, I)` backwards gives :math:`x = A^{-1}(z - b)`, so the model density
    is :math:`\mathcal N(-A^{-1}b, (A^\top A)^{-1})`.
    """

    def __init__(self, matrix: Tensor, shift: Tensor | None = None, trainable: bool = False):
        super().__init__()
        matrix = torch.as_tensor(matrix, dtype=torch.get_default_dtype()) if not isinstance(matrix, Tensor) else matrix
        if matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"Affine expects a square matrix, got shape {list(matrix.shape)}")
        sign, logabsdet = torch.linalg.slogdet(matrix.detach())
        if sign == 0 or not torch.isfinite(logabsdet):
            raise ValueError("Affine expects an invertible matrix (its determinant is 0)")
        shift = torch.zeros(matrix.shape[0], dtype=matrix.dtype) if shift is None else shift
        if shift.shape != (matrix.shape[0],):
            raise ValueError(f"Affine shift must have shape [{matrix.shape[0]}], got {list(shift.shape)}")
        if trainable:
            self.matrix, self.shift = nn.Parameter(matrix.clone()), nn.Parameter(shift.clone())
        else:
            self.register_buffer("matrix", matrix.clone())
            self.register_buffer("shift", shift.clone())

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(x, (self.matrix.shape[0],), "Affine")
        logdet = torch.linalg.slogdet(self.matrix)[1]
        return x @ self.matrix.T + self.shift, logdet.expand(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(z, (self.matrix.shape[0],), "Affine.inverse")
        x = torch.linalg.solve(self.matrix, (z - self.shift).T).T
        logdet = -torch.linalg.slogdet(self.matrix)[1]
        return x, logdet.expand(z.shape[0])


class ElementwiseAffine(Flow):
    r""":math:`z = e^{s} \odot x + t` with learned vectors; :math:`\log|\det| = \sum_i s_i`.

    The "affine flow" baseline: it can only shift and scale, so a Gaussian base stays Gaussian.
    """

    def __init__(self, features: int):
        super().__init__()
        if features <= 0:
            raise ValueError(f"ElementwiseAffine needs a positive number of features, got {features}")
        self.features = features
        self.log_scale = nn.Parameter(torch.zeros(features))
        self.shift = nn.Parameter(torch.zeros(features))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(x, (self.features,), "ElementwiseAffine")
        z = x * self.log_scale.exp() + self.shift
        return z, self.log_scale.sum().expand(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self.check_input(z, (self.features,), "ElementwiseAffine.inverse")
        x = (z - self.shift) * (-self.log_scale).exp()
        return x, (-self.log_scale.sum()).expand(z.shape[0])
