r"""Every network that parametrizes something in flowlab.

- :class:`MLP` and :class:`ConvNet`: the conditioners of coupling layers (RealNVP/Glow's ``NN()``),
  last layer zero-initialised so that a fresh coupling is the identity.
- :class:`MaskedLinear` and :class:`MADE`: the masked autoencoder of autoregressive flows.
- :class:`TimeConcatMLP` and :class:`TimeConcatConvNet`: the one time-conditioned vector field
  :math:`f(t, z)` (FFJORD's ``concat`` layers: :math:`t` enters every layer as an extra input),
  on vectors or on images, split as :math:`f = g \circ h` (``encode`` / ``decode``) for
  Hutchinson's bottleneck trick.
- :class:`TimeLabelMLP`: the noise predictor :math:`\epsilon_\theta(x_t, t, y)` of a DDPM, with an
  empty label for classifier-free guidance.
- :class:`SpectralNormLinear`, :class:`LipSwish`, :class:`LipschitzMLP`: Lipschitz-constrained
  networks (the residual :math:`g` of i-ResNet / Residual Flows blocks), spectral normalisation by
  power iteration, and :func:`frozen_power_iteration` to hold the normalised weights fixed.

Shapes are checked where data enters a model, not here: these run inside solvers and layers.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Sequence

import torch
from torch import Tensor, nn

from flowlab.measure.validate import (check_choice, check_count, check_event_shape, check_generator,
                                      check_module, check_positive, check_tensor)

__all__ = ["MLP", "ConvNet", "MaskedLinear", "MADE", "autoregressive_degrees", "ConcatLinear",
           "ConcatConv2d", "TimeConcatMLP", "TimeConcatConvNet", "ACTIVATIONS", "SpectralNormLinear", "LipSwish",
           "LipschitzMLP", "frozen_power_iteration", "TimeLabelMLP"]

ACTIVATIONS = {"relu": nn.ReLU, "softplus": nn.Softplus, "tanh": nn.Tanh, "elu": nn.ELU, "swish": nn.SiLU}


def _zero(layer: nn.Module) -> nn.Module:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class MLP(nn.Sequential):
    """``in -> hidden -> ... -> out`` with ``layers`` hidden layers; the last layer starts at zero."""

    def __init__(self, in_features: int, out_features: int, hidden: int = 64, layers: int = 2,
                 activation: type[nn.Module] = nn.ReLU, zero_last: bool = True):
        for name, value in (("in_features", in_features), ("out_features", out_features),
                            ("hidden", hidden), ("layers", layers)):
            check_count(value, name, "MLP")
        mods: list[nn.Module] = []
        width = in_features
        for _ in range(layers):
            mods += [nn.Linear(width, hidden), activation()]
            width = hidden
        last = nn.Linear(width, out_features)
        super().__init__(*mods, _zero(last) if zero_last else last)


class ConvNet(nn.Sequential):
    """3x3 conv -> 1x1 conv -> 3x3 conv (RealNVP/Glow's ``NN()``); the last conv starts at zero."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 64,
                 activation: type[nn.Module] = nn.ReLU):
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("hidden", hidden)):
            check_count(value, name, "ConvNet")
        # The last layer is built first so that a seeded model draws the same weights as it always has.
        last = _zero(nn.Conv2d(hidden, out_channels, 3, padding=1))
        super().__init__(nn.Conv2d(in_channels, hidden, 3, padding=1), activation(),
                         nn.Conv2d(hidden, hidden, 1), activation(), last)


# ------------------------------------------------------------------------------------------ MADE
class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 ``mask`` of shape [out, in]."""

    def __init__(self, in_features: int, out_features: int, mask: Tensor):
        check_count(in_features, "in_features", "MaskedLinear")
        check_count(out_features, "out_features", "MaskedLinear")
        check_tensor(mask, "MaskedLinear (its mask)", nonempty=False)
        super().__init__(in_features, out_features)
        if mask.shape != (out_features, in_features):
            raise ValueError(f"MaskedLinear mask must have shape {[out_features, in_features]}, "
                             f"got {list(mask.shape)}")
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


def autoregressive_degrees(features: int, order: str | Sequence[int] | Tensor) -> Tensor:
    """The position of each coordinate in the autoregressive order, as degrees 1..D."""
    check_count(features, "features", "autoregressive_degrees")
    if isinstance(order, str):
        if order == "natural":
            return torch.arange(1, features + 1)
        if order == "reverse":
            return torch.arange(features, 0, -1)
        raise ValueError(f"autoregressive_degrees: order must be 'natural', 'reverse' or a permutation of "
                         f"0..{features - 1}, got {order!r}")
    try:
        perm = torch.as_tensor(order, dtype=torch.long)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"autoregressive_degrees: order must be 'natural', 'reverse' or a permutation of "
                        f"0..{features - 1}, got {type(order).__name__}") from None
    if isinstance(order, Tensor) and (order.is_floating_point() or order.dtype == torch.bool):
        raise TypeError(f"autoregressive_degrees: a permutation order must be an integer tensor, got {order.dtype}")
    if perm.shape != (features,) or not torch.equal(perm.sort().values, torch.arange(features)):
        raise ValueError(f"autoregressive_degrees: order must be a permutation of 0..{features - 1}, "
                         f"got {perm.tolist()}")
    degrees = torch.empty(features, dtype=torch.long)
    degrees[perm] = torch.arange(1, features + 1)  # perm[k] is the k-th coordinate to be generated
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

    def __init__(self, features: int, hidden: int = 64, layers: int = 2, params_per_feature: int = 2,
                 order: str | Sequence[int] | Tensor = "natural", context_features: int = 0):
        super().__init__()
        for name, v in (("features", features), ("hidden", hidden), ("layers", layers),
                        ("params_per_feature", params_per_feature)):
            check_count(v, name, "MADE")
        self.context_features = check_count(context_features, "context_features", "MADE", minimum=0)
        self.context = nn.Linear(context_features, hidden) if context_features else None
        if features > 1 and hidden < features - 1:
            raise ValueError(f"MADE needs hidden >= features - 1 = {features - 1} so that every "
                             f"coordinate can depend on all of its past; got hidden={hidden}")
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
            raise ValueError(f"MADE built with context_features={self.context_features} was called "
                             f"{'without' if context is None else 'with'} a context")
        if context is None:
            out = self.net(x)
        else:
            out = self.net[1:](self.net[0](x) + self.context(context))
        return out.reshape(x.shape[0], self.features, self.params_per_feature)


# ------------------------------------------------------------------------- time-conditioned field
class ConcatLinear(nn.Module):
    """A linear layer that sees time: :math:`W[h; t] + b` (FFJORD's ``concat`` layer)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        check_count(in_features, "in_features", "ConcatLinear")
        check_count(out_features, "out_features", "ConcatLinear")
        self.linear = nn.Linear(in_features + 1, out_features)

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        tt = torch.as_tensor(t, dtype=h.dtype, device=h.device).reshape(1, 1).expand(h.shape[0], 1)
        return self.linear(torch.cat([h, tt], dim=1))


class ConcatConv2d(nn.Module):
    """A 3x3 convolution over ``[h; t]``: time enters as one constant channel."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        check_count(in_channels, "in_channels", "ConcatConv2d")
        check_count(out_channels, "out_channels", "ConcatConv2d")
        check_count(kernel_size, "kernel_size", "ConcatConv2d")
        if kernel_size % 2 == 0:
            raise ValueError(f"ConcatConv2d needs an odd kernel_size (padding keeps the image size), got {kernel_size}")
        self.conv = nn.Conv2d(in_channels + 1, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        tt = torch.as_tensor(t, dtype=h.dtype, device=h.device).reshape(1, 1, 1, 1)
        return self.conv(torch.cat([h, tt.expand(h.shape[0], 1, *h.shape[2:])], dim=1))


class _TimeConcatStack(nn.Module):
    r"""Layers that each see time, the activation between them: :math:`f = g \circ h`, with
    ``encode`` the first layer and its activation (:math:`h`) and ``decode`` the rest (:math:`g`)."""

    def __init__(self, layer: type[nn.Module], event_shape: tuple, width: int, hidden: Sequence[int],
                 activation: str):
        super().__init__()
        name = type(self).__name__
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
            raise TypeError(f"{name}: hidden must be a sequence of layer widths such as (64, 64), "
                            f"got {type(hidden).__name__} {hidden!r}")
        hidden = tuple(hidden)
        if not hidden:
            raise ValueError(f"{name} needs at least one hidden width, got {hidden}")
        for h in hidden:
            check_count(h, "hidden width", name)
        self.act = ACTIVATIONS[check_choice(activation, ACTIVATIONS, "activation", name)]()
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
        if z.dim() != len(self.event_shape) + 1 or tuple(z.shape[1:]) != self.event_shape:
            raise ValueError(f"{type(self).__name__} expects z of shape [batch, "
                             f"{', '.join(map(str, self.event_shape))}], got {list(z.shape)}")
        return self.decode(t, self.encode(t, z))


class TimeConcatMLP(_TimeConcatStack):
    r"""The vector field :math:`f(t, z)` on :math:`\mathbb R^D`: an MLP with :math:`t` concatenated to
    every layer's input. ``TimeConcatMLP(D, (H,), "tanh")`` is the classic one-hidden-layer
    neural-ODE field."""

    def __init__(self, features: int, hidden: Sequence[int] = (64, 64, 64), activation: str = "softplus"):
        check_count(features, "features", "TimeConcatMLP")
        super().__init__(ConcatLinear, (features,), features, hidden, activation)
        self.features = features


class TimeConcatConvNet(_TimeConcatStack):
    """The field :math:`f(t, z)` on images of ``shape = (C, H, W)``: 3x3 time-concat convolutions
    with ``hidden`` channels per layer, padding keeping the spatial size."""

    def __init__(self, shape: Sequence[int], hidden: Sequence[int] = (32, 32, 32), activation: str = "softplus"):
        shape = check_event_shape(shape, "TimeConcatConvNet")
        if len(shape) != 3:
            raise ValueError(f"TimeConcatConvNet needs an image shape (C, H, W), got {shape}")
        super().__init__(ConcatConv2d, shape, shape[0], hidden, activation)
        self.shape = shape


# ------------------------------------------------------------------ Lipschitz-constrained networks
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

    def __init__(self, in_features: int, out_features: int, *, coeff: float = 0.9, n_power_iterations: int = 1,
                 init_iterations: int = 50, bias: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        who = "SpectralNormLinear"
        check_count(in_features, "in_features", who)
        check_count(out_features, "out_features", who)
        self.coeff = check_positive(coeff, "coeff", who)
        self.n_power_iterations = check_count(n_power_iterations, "n_power_iterations", who, minimum=0)
        check_count(init_iterations, "init_iterations", who, minimum=0)
        check_generator(generator, who)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5, generator=generator)  # nn.Linear's default
        bound = in_features ** -0.5
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound, generator=generator)) if bias \
            else None
        self.register_buffer("u", nn.functional.normalize(torch.randn(out_features, generator=generator), dim=0))
        self.register_buffer("v", nn.functional.normalize(torch.randn(in_features, generator=generator), dim=0))
        self.frozen = False
        self.power_iterate(init_iterations)

    @torch.no_grad()
    def power_iterate(self, n: int = 1) -> Tensor:
        """Run ``n`` power iterations on the current weight; return the estimate :math:`\\hat\\sigma`."""
        check_count(n, "n", "SpectralNormLinear.power_iterate", minimum=0)
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
            self.power_iterate(self.n_power_iterations)
        return nn.functional.linear(x, self.normalized_weight(), self.bias)

    def extra_repr(self) -> str:
        out, inp = self.weight.shape
        return f"{inp}, {out}, coeff={self.coeff}, n_power_iterations={self.n_power_iterations}"


@contextmanager
def frozen_power_iteration(module: nn.Module):
    """No power iteration in any :class:`SpectralNormLinear` of ``module`` inside the block: every
    evaluation then sees the same normalised weights (a residual block's output, its Jacobian and
    its inverse within one step)."""
    check_module(module, "module", "frozen_power_iteration")
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

    def __init__(self, features: int, hidden: int = 64, layers: int = 2, *, coeff: float = 0.9,
                 n_power_iterations: int = 1, init_iterations: int = 50, generator: torch.Generator | None = None):
        check_count(features, "features", "LipschitzMLP")
        check_count(hidden, "hidden", "LipschitzMLP")
        check_count(layers, "layers", "LipschitzMLP", minimum=0)
        widths = [features] + [hidden] * layers + [features]
        mods: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            mods.append(SpectralNormLinear(a, b, coeff=coeff, n_power_iterations=n_power_iterations,
                                           init_iterations=init_iterations, generator=generator))
            if i < len(widths) - 2:
                mods.append(LipSwish())
        super().__init__(*mods)
        self.features = features

    def power_iterate(self, n: int = 1) -> None:
        for m in self:
            if isinstance(m, SpectralNormLinear):
                m.power_iterate(n)

    @torch.no_grad()
    def lipschitz_bound(self) -> float:
        """:math:`\\prod_l \\|\\tilde W_l\\|_2` by SVD: an upper bound on Lip of the network (its
        activations are 1-Lipschitz), exact for a single linear layer."""
        bound = 1.0
        for m in self:
            if isinstance(m, SpectralNormLinear):
                bound *= float(torch.linalg.svdvals(m.normalized_weight())[0])
        return bound


# ------------------------------------------------------------------- noise-prediction network
class TimeLabelMLP(nn.Module):
    r"""The noise predictor :math:`\epsilon_\theta(x_t, t, y)` on :math:`\mathbb R^D`: an :class:`MLP`
    on :math:`[x_t;\ \sin, \cos \text{ features of } t \in [0, 1];\ \text{embedding of } y]`. Label
    ``num_classes`` (or ``y=None``) is the empty label of classifier-free guidance;
    ``num_classes=0`` is unconditional."""

    def __init__(self, features: int, num_classes: int = 0, hidden: int = 128, layers: int = 3,
                 time_features: int = 16, label_features: int = 16, activation: str = "swish"):
        super().__init__()
        check_count(features, "features", "TimeLabelMLP")
        check_count(num_classes, "num_classes", "TimeLabelMLP", minimum=0)
        check_count(time_features, "time_features", "TimeLabelMLP")
        if time_features % 2:
            raise ValueError(f"TimeLabelMLP: time_features must be even (sines and cosines), got {time_features}")
        act = ACTIVATIONS[check_choice(activation, ACTIVATIONS, "activation", "TimeLabelMLP")]
        self.features, self.num_classes = features, num_classes
        self.register_buffer("frequencies", torch.exp(torch.linspace(0.0, 6.0, time_features // 2)))
        self.label = nn.Embedding(num_classes + 1, check_count(label_features, "label_features", "TimeLabelMLP")) \
            if num_classes else None
        width = features + time_features + (label_features if num_classes else 0)
        self.net = MLP(width, features, hidden, layers, activation=act, zero_last=False)

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        arg = t.to(x.dtype)[:, None] * self.frequencies.to(x.dtype)[None]
        parts = [x, torch.sin(arg), torch.cos(arg)]
        if self.label is not None:
            if y is None:
                y = torch.full((len(x),), self.num_classes, dtype=torch.long, device=x.device)
            parts.append(self.label(y).to(x.dtype))
        return self.net(torch.cat(parts, dim=1))
