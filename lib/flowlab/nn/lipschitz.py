r"""Lipschitz-constrained networks for residual flows: spectral normalisation by power iteration,
LipSwish, and an MLP whose Lipschitz constant is bounded by a coefficient below 1."""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import Tensor, nn

from flowlab.validate import Count, Count0, Positive, Rng, checked


class SpectralNormLinear(nn.Module):
    r"""A linear layer whose weight is scaled to spectral norm at most ``coeff`` (i-ResNet, Residual Flows):

    .. math:: \tilde W = W / \max(1, \hat\sigma / c), \qquad \hat\sigma = u^\top W v,

    with :math:`u, v` buffers refined by power iteration, :math:`u \leftarrow Wv/\|Wv\|`,
    :math:`v \leftarrow W^\top u/\|W^\top u\|` (torch's ``spectral_norm`` order). ``n_power_iterations``
    run at every forward in training mode (none in eval mode, inside a ``torch.func`` transform, or
    while :func:`frozen_power_iteration` holds); ``init_iterations`` run at construction.
    :math:`\hat\sigma = \|W^\top u\| \le \sigma_1` approaches from below: after :math:`n` iterations
    from :math:`v_0`,
    :math:`1 - \hat\sigma/\sigma_1 \le \tan^2\theta_0\,(\sigma_2/\sigma_1)^{4n-2}`, with
    :math:`\theta_0` the angle between :math:`v_0` and the top right singular vector. Gradients flow
    through :math:`\hat\sigma` (not through :math:`u, v`). Residual Flows uses ``coeff`` 0.98 on images
    and 0.9 on toys; invertibility of a residual block needs the product over its layers below 1.
    """

    @checked
    def __init__(self, in_features: Count, out_features: Count, *, coeff: Positive = 0.9,
                 n_power_iterations: Count0 = 1, init_iterations: Count0 = 50, bias: bool = True,
                 generator: Rng = None):
        super().__init__()
        self.coeff, self.n_power_iterations = coeff, n_power_iterations
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5, generator=generator)  # nn.Linear's default
        bound = in_features ** -0.5
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound, generator=generator)) if bias \
            else None
        self.register_buffer("u", nn.functional.normalize(torch.randn(out_features, generator=generator), dim=0))
        self.register_buffer("v", nn.functional.normalize(torch.randn(in_features, generator=generator), dim=0))
        self.frozen = False
        self._power_iterate(init_iterations)

    @checked
    def power_iterate(self, n: Count0 = 1) -> Tensor:
        """Run ``n`` power iterations on the current weight; return the estimate :math:`\\hat\\sigma`."""
        return self._power_iterate(n)

    @torch.no_grad()
    def _power_iterate(self, n: int) -> Tensor:
        W = self.weight.detach()
        for _ in range(n):
            self.u.copy_(nn.functional.normalize(W @ self.v, dim=0))
            self.v.copy_(nn.functional.normalize(W.T @ self.u, dim=0))
        return self.u @ W @ self.v

    def normalized_weight(self) -> Tensor:
        sigma = self.u @ self.weight @ self.v
        return self.weight / torch.clamp(sigma / self.coeff, min=1.0)

    def forward(self, x: Tensor) -> Tensor:
        # Inside a torch.func transform (jacrev, vmap) the buffers cannot be mutated: no iteration there.
        if self.training and not self.frozen and self.n_power_iterations and \
                not torch._C._functorch.is_functorch_wrapped_tensor(x):
            self._power_iterate(self.n_power_iterations)
        return nn.functional.linear(x, self.normalized_weight(), self.bias)

    def extra_repr(self) -> str:
        out, inp = self.weight.shape
        return f"{inp}, {out}, coeff={self.coeff}, n_power_iterations={self.n_power_iterations}"


@contextmanager
def frozen_power_iteration(module: nn.Module):
    """No power iteration in any :class:`SpectralNormLinear` of ``module`` inside the block: every
    evaluation then sees the same normalised weights (a residual block's output, its Jacobian and
    its inverse within one step)."""
    layers = [m for m in module.modules() if isinstance(m, SpectralNormLinear)]
    before = [m.frozen for m in layers]
    for m in layers:
        m.frozen = True
    try:
        yield module
    finally:
        for m, was in zip(layers, before):
            m.frozen = was


class LipSwish(nn.Module):
    r""":math:`x \sigma(\beta x) / 1.1` with :math:`\beta = \mathrm{softplus}(b) > 0` learnable (Residual
    Flows): the swish's derivative :math:`\sigma(u) + u\sigma(u)(1 - \sigma(u))`, :math:`u = \beta x`,
    lies in :math:`[-0.0998, 1.0998]` for every :math:`\beta`, so dividing by 1.1 makes it 1-Lipschitz."""

    def __init__(self):
        super().__init__()
        self.beta_raw = nn.Parameter(torch.tensor(0.5))

    @property
    def beta(self) -> Tensor:
        return nn.functional.softplus(self.beta_raw)

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.beta * x) / 1.1


class LipschitzMLP(nn.Sequential):
    r"""``features -> hidden -> ... -> features``: :class:`SpectralNormLinear` layers (each scaled to
    spectral norm <= ``coeff``) with :class:`LipSwish` between them, so
    :math:`\mathrm{Lip} \le \prod_l \|\tilde W_l\|_2 \approx` ``coeff ** (layers + 1)``: the residual
    :math:`g` of an i-ResNet block."""

    @checked
    def __init__(self, features: Count, hidden: Count = 64, layers: Count0 = 2, *, coeff: Positive = 0.9,
                 n_power_iterations: Count0 = 1, init_iterations: Count0 = 50, generator: Rng = None):
        widths = [features] + [hidden] * layers + [features]
        mods: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            mods.append(SpectralNormLinear(a, b, coeff=coeff, n_power_iterations=n_power_iterations,
                                           init_iterations=init_iterations, generator=generator))
            if i < len(widths) - 2:
                mods.append(LipSwish())
        super().__init__(*mods)
        self.features = features

    @checked
    def power_iterate(self, n: Count0 = 1) -> None:
        for m in self:
            if isinstance(m, SpectralNormLinear):
                m._power_iterate(n)

    @torch.no_grad()
    def lipschitz_bound(self) -> float:
        """:math:`\\prod_l \\|\\tilde W_l\\|_2` by SVD: an upper bound on Lip of the network (its
        activations are 1-Lipschitz), exact for a single linear layer."""
        bound = 1.0
        for m in self:
            if isinstance(m, SpectralNormLinear):
                bound *= float(torch.linalg.svdvals(m.normalized_weight())[0])
        return bound
