r"""Affine maps: the simplest flows, with closed-form densities to check everything else against."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from flowlab.flows.base import Flow, check_invertible
from flowlab.validate import Count, check_tensor, checked


class Affine(Flow):
    r""":math:`z = A x + b` for an invertible :math:`d \times d` matrix; :math:`\log|\det| = \log|\det A|`.

    Pushing :math:`\mathcal N(0, I)` backwards gives :math:`x = A^{-1}(z - b)`, so the model density
    is :math:`\mathcal N(-A^{-1}b, (A^\top A)^{-1})`.
    """

    def __init__(self, matrix: Tensor, shift: Tensor | None = None, trainable: bool = False):
        super().__init__()
        matrix = torch.as_tensor(matrix, dtype=torch.get_default_dtype()) if not isinstance(matrix, Tensor) else matrix
        check_tensor(matrix, "Affine (its matrix)", nonempty=False)
        shift = torch.zeros(matrix.shape[:1], dtype=matrix.dtype, device=matrix.device) if shift is None \
            else torch.as_tensor(shift, dtype=matrix.dtype, device=matrix.device)
        check_tensor(shift, "Affine (its shift)", nonempty=False)
        d = matrix.shape[0] if matrix.dim() == 2 and matrix.shape[0] == matrix.shape[1] else 0
        if not d or shift.shape != (d,):
            raise ValueError(f"Affine needs a square matrix [d, d], shift [d]; got {[*matrix.shape]} {[*shift.shape]}")
        check_invertible(torch.linalg.slogdet(matrix.detach())[1], "Affine", "matrix")
        self.event_shape = (d,)
        if trainable:
            self.matrix, self.shift = nn.Parameter(matrix.clone()), nn.Parameter(shift.clone())
        else:
            self.register_buffer("matrix", matrix.clone())
            self.register_buffer("shift", shift.clone())

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logdet = check_invertible(torch.linalg.slogdet(self.matrix)[1], "Affine", "matrix")
        return x @ self.matrix.T + self.shift, logdet.expand(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        logdet = check_invertible(torch.linalg.slogdet(self.matrix)[1], "Affine.inverse", "matrix")
        x = torch.linalg.solve(self.matrix, (z - self.shift).T).T
        return x, (-logdet).expand(z.shape[0])


class ElementwiseAffine(Flow):
    r""":math:`z = e^{s} \odot x + t` with learned vectors; :math:`\log|\det| = \sum_i s_i`.

    The "affine flow" baseline: it can only shift and scale, so a Gaussian base stays Gaussian.
    """

    @checked
    def __init__(self, features: Count):
        super().__init__()
        self.features = features
        self.event_shape = (self.features,)
        self.log_scale = nn.Parameter(torch.zeros(features))
        self.shift = nn.Parameter(torch.zeros(features))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = x * self.log_scale.exp() + self.shift
        return z, self.log_scale.sum().expand(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        x = (z - self.shift) * (-self.log_scale).exp()
        return x, (-self.log_scale.sum()).expand(z.shape[0])
