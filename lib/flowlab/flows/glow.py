r"""Glow's two per-step layers: activation normalisation and the invertible 1x1 convolution.

Both act on images ``[batch, C, H, W]`` and mix nothing across pixels, so their Jacobians are block
diagonal with one :math:`C \times C` block per pixel and the log-det is :math:`H \cdot W` times one
block's log-det (Kingma & Dhariwal 2018, Table 1).

**ActNorm** is a per-channel affine map

.. math:: z_{c,i,j} = (x_{c,i,j} + b_c)\, e^{s_c}, \qquad \log|\det| = H W \sum_c s_c,

initialised from the first batch it sees (*data-dependent init*): :math:`b_c = -\mathrm{mean}_c(x)`,
:math:`s_c = -\log \mathrm{std}_c(x)`, so that the first batch leaves it with zero mean and unit
variance per channel. After that, :math:`b` and :math:`s` are ordinary trainable parameters.

**InvertibleConv1x1** is a learned channel mixing :math:`z_{:,i,j} = W x_{:,i,j}`, i.e. a
convolution with a kernel of shape ``[C, C, 1, 1]``, a "soft permutation":

.. math:: \log\left|\det \frac{\partial\, \mathrm{conv2D}(x; W)}{\partial x}\right| = H W \log|\det W|.

Its *LU* form stores :math:`W = P L (U + \mathrm{diag}(\sigma \odot e^{\ell}))` with a fixed permutation
:math:`P`, unit lower-triangular :math:`L`, strictly upper :math:`U` and fixed signs :math:`\sigma`,
so that :math:`\log|\det W| = \sum_c \ell_c` costs :math:`O(C)` instead of :math:`O(C^3)`.
Both forms start at a random rotation (orthogonal, :math:`\det W = 1`), whose log-det is 0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowlab.flows.base import Flow, check_invertible, inside
from flowlab.validate import Count, Rng, checked


class ActNorm(Flow):
    r"""Per-channel affine normalisation with data-dependent init; see the module docstring.

    The first call to ``forward`` (in any mode) initialises the parameters from that batch. Call
    :meth:`initialize` explicitly to choose the batch, e.g. before running the flow harness.
    """

    @checked
    def __init__(self, channels: Count, eps: float = 1e-6):
        super().__init__()
        self.channels = channels
        self.event_shape = (self.channels, None, None)
        self.eps = eps
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        # A buffer (saved with the weights) so a reloaded model does not re-initialise.
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """Set ``bias`` and ``log_scale`` so that ``x`` comes out with zero mean, unit variance per channel."""
        if not inside():  # called by the first forward: x was checked there
            self.check_input(x, who="ActNorm.initialize")
        if x.shape[0] * x.shape[2] * x.shape[3] < 2:
            raise ValueError("ActNorm.initialize needs at least 2 values per channel (batch * H * W >= 2)")
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True, unbiased=False)
        self.bias.data.copy_(-mean)
        self.log_scale.data.copy_(-torch.log(std + self.eps))
        self.initialized.fill_(True)

    def _logdet(self, x: Tensor) -> Tensor:
        return (x.shape[2] * x.shape[3] * self.log_scale.sum()).expand(x.shape[0])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not self.initialized:
            self.initialize(x)
        return (x + self.bias) * self.log_scale.exp(), self._logdet(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        if not self.initialized:
            raise RuntimeError("ActNorm.inverse called before initialisation: run forward on data first")
        return z * (-self.log_scale).exp() - self.bias, -self._logdet(z)


def random_rotation(channels: int, generator: torch.Generator | None = None,
                    dtype: torch.dtype | None = None) -> Tensor:
    """A random orthogonal matrix with determinant +1 (QR of a Gaussian matrix, signs fixed)."""
    a = torch.randn(channels, channels, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))  # makes the draw Haar-uniform
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.to(dtype or torch.get_default_dtype())


class InvertibleConv1x1(Flow):
    r"""Glow's invertible 1x1 convolution :math:`z_{:,i,j} = W x_{:,i,j}`; ``lu=True`` for the LU form.

    ``log|det| = H * W * log|det W|``: by ``slogdet`` in the plain form, by the sum of the
    diagonal log-magnitudes in the LU form. Initialised at a random rotation (log-det 0).
    """

    @checked
    def __init__(self, channels: Count, lu: bool = False, generator: Rng = None):
        super().__init__()
        self.channels = channels
        self.event_shape = (self.channels, None, None)
        self.lu = bool(lu)
        w = random_rotation(channels, generator)
        if not self.lu:
            self.weight = nn.Parameter(w)
            return
        p, tril, u = torch.linalg.lu(w)
        diag = torch.diagonal(u)
        self.register_buffer("perm", p)
        self.register_buffer("sign", torch.sign(diag))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(tril * self.lower_mask)
        self.upper = nn.Parameter(torch.triu(u, 1))
        self.log_diag = nn.Parameter(diag.abs().log())

    def weight_matrix(self) -> Tensor:
        """The :math:`C \\times C` matrix :math:`W` (assembled from its factors in the LU form)."""
        if not self.lu:
            return self.weight
        lower = self.lower * self.lower_mask + self.eye
        upper = torch.triu(self.upper, 1) + torch.diag(self.sign * self.log_diag.exp())
        return self.perm @ lower @ upper

    def _plain_weight(self) -> Tensor | None:
        # the LU form's log|det| is exact (-inf when a diagonal entry is 0); only slogdet rounds
        return None if self.lu else self.weight

    def log_abs_det_weight(self) -> Tensor:
        """:math:`\\log|\\det W|`, one number."""
        if self.lu:
            return self.log_diag.sum()
        return torch.linalg.slogdet(self.weight)[1]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        log_det_w = check_invertible(self.log_abs_det_weight(), self.name_of(), matrix=self._plain_weight())
        w = self.weight_matrix()
        z = F.conv2d(x, w.reshape(self.channels, self.channels, 1, 1))
        logdet = x.shape[2] * x.shape[3] * log_det_w
        return z, logdet.expand(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        log_det_w = check_invertible(self.log_abs_det_weight(), self.name_of("inverse"), matrix=self._plain_weight())
        w_inv = torch.linalg.inv(self.weight_matrix())
        x = F.conv2d(z, w_inv.reshape(self.channels, self.channels, 1, 1))
        logdet = -z.shape[2] * z.shape[3] * log_det_w
        return x, logdet.expand(z.shape[0])
