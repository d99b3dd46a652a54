r"""Affine autoregressive flows: MADE, MAF and IAF.

An affine autoregressive map, in an order :math:`\pi` of the :math:`D` coordinates, is

.. math:: y_t = x_t \, e^{a_t(u_{<t})} + m_t(u_{<t}),

where the conditioner :math:`(m, a)` is a MADE network that sees only the coordinates that come
before :math:`t` in the order. Its Jacobian :math:`\partial y / \partial x` (when :math:`u = x`) is
triangular in that order with diagonal :math:`e^{a_t}`, so :math:`\log|\det| = \sum_t a_t`.

**MADE** (Germain et al. 2015) enforces the ordering with binary masks on a plain MLP. Each input
unit gets the degree :math:`\pi(t) \in \{1..D\}`, each hidden unit a degree :math:`k \in \{1..D-1\}`;
a weight from a unit of degree :math:`k'` into a hidden unit of degree :math:`k` is kept iff
:math:`k \ge k'`, and into an output of degree :math:`d` iff :math:`d > k`. Every path from input
:math:`s` to output :math:`t` then needs :math:`\pi(s) < \pi(t)`: the Jacobian of the network's
outputs with respect to its inputs is *strictly* triangular in the order.

**MAF** (Papamakarios et al. 2017) conditions on the data: in the normalizing direction
:math:`z_t = (x_t - m_t(x_{<t})) e^{-a_t(x_{<t})}`. Every :math:`(m_t, a_t)` depends on :math:`x`
only, so the density needs **one** network pass; sampling must rebuild :math:`x_1, x_2, \dots` in
order, **D** passes.

**IAF** (Kingma et al. 2016) conditions on the latent: :math:`x_t = z_t e^{a_t(z_{<t})} + m_t(z_{<t})`.
Sampling is **one** pass; the density of a given :math:`x` must recover :math:`z` coordinate by
coordinate, **D** passes. (The lectures' :math:`f(x)_t = s(x_{<t}) x_t + m(x_{<t})`, with
:math:`s = e^{a}`, positive hence invertible.)

Every MADE counts its calls in ``made.passes``; :func:`network_passes` sums them over a model and
:class:`CallCounter` counts the calls of any modules (e.g. a coupling layer's conditioner).
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn

from flowlab.flows.base import Compose, Flow, check_shape

__all__ = ["MaskedLinear", "MADE", "MAF", "IAF", "maf", "iaf", "network_passes", "reset_passes",
           "CallCounter", "direction_costs"]


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 ``mask`` of shape [out, in]."""

    def __init__(self, in_features: int, out_features: int, mask: Tensor):
        super().__init__(in_features, out_features)
        if mask.shape != (out_features, in_features):
            raise ValueError(f"MaskedLinear mask must have shape {[out_features, in_features]}, "
                             f"got {list(mask.shape)}")
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


def _order(features: int, order: str | Sequence[int] | Tensor) -> Tensor:
    """The position of each coordinate in the autoregressive order, as degrees 1..D."""
    if isinstance(order, str):
        if order == "natural":
            return torch.arange(1, features + 1)
        if order == "reverse":
            return torch.arange(features, 0, -1)
        raise ValueError(f"order must be 'natural', 'reverse' or a permutation of 0..{features - 1}, "
                         f"got {order!r}")
    perm = torch.as_tensor(order, dtype=torch.long)
    if perm.shape != (features,) or not torch.equal(perm.sort().values, torch.arange(features)):
        raise ValueError(f"order must be a permutation of 0..{features - 1}, got {perm.tolist()}")
    degrees = torch.empty(features, dtype=torch.long)
    degrees[perm] = torch.arange(1, features + 1)  # perm[k] is the k-th coordinate to be generated
    return degrees


class MADE(nn.Module):
    r"""Masked autoencoder: ``params_per_feature`` outputs per coordinate, each seeing only its past.

    Returns a tensor of shape ``[batch, features, params_per_feature]``. Hidden degrees cycle
    deterministically through :math:`1..D-1`, so the masks depend only on the sizes and the order.
    """

    def __init__(self, features: int, hidden: int = 64, layers: int = 2, params_per_feature: int = 2,
                 order: str | Sequence[int] | Tensor = "natural"):
        super().__init__()
        for name, v in (("features", features), ("hidden", hidden), ("layers", layers),
                        ("params_per_feature", params_per_feature)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"MADE {name} must be a positive integer, got {v!r}")
        if features > 1 and hidden < features - 1:
            raise ValueError(f"MADE needs hidden >= features - 1 = {features - 1} so that every "
                             f"coordinate can depend on all of its past; got hidden={hidden}")
        self.features, self.params_per_feature = features, params_per_feature
        self.register_buffer("degrees", _order(features, order))
        self.passes = 0
        d_in = self.degrees
        # With D = 1 there is no past at all: degree 0 hidden units are cut from every output.
        d_hidden = torch.arange(hidden) % max(features - 1, 1) + (1 if features > 1 else 0)
        blocks, prev = [], d_in
        for i in range(layers):
            mask = (d_hidden[:, None] >= prev[None, :]).float()
            blocks += [MaskedLinear(prev.numel(), hidden, mask), nn.ReLU()]
            prev = d_hidden
        d_out = d_in.repeat_interleave(params_per_feature)  # outputs grouped per coordinate
        blocks.append(MaskedLinear(prev.numel(), features * params_per_feature,
                                   (d_out[:, None] > prev[None, :]).float()))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        check_shape(x, (self.features,), "MADE")
        self.passes += 1
        return self.net(x).reshape(x.shape[0], self.features, self.params_per_feature)


class _AffineAutoregressive(Flow):
    """Shared machinery: ``_parallel`` is the one-pass direction, ``_sequential`` the D-pass one."""

    def __init__(self, features: int, hidden: int = 64, layers: int = 2,
                 order: str | Sequence[int] | Tensor = "natural", max_log_scale: float = 3.0):
        super().__init__()
        self.features = features
        self.made = MADE(features, hidden, layers, params_per_feature=2, order=order)
        self.max_log_scale = float(max_log_scale)
        # Start at the identity; tests perturb the parameters so the harness is not trivial.
        last = self.made.net[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def _shift_logscale(self, u: Tensor) -> tuple[Tensor, Tensor]:
        out = self.made(u)
        # A soft clamp keeps e^a finite early in training without changing the triangular structure.
        log_scale = self.max_log_scale * torch.tanh(out[..., 1] / self.max_log_scale)
        return out[..., 0], log_scale

    def _parallel(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """y = u * e^a(u) + m(u): one pass, conditioner on the input."""
        m, a = self._shift_logscale(u)
        return u * a.exp() + m, a.sum(-1)

    def _parallel_inverse(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """y = (u - m(u)) e^{-a(u)}: one pass, conditioner on the input."""
        m, a = self._shift_logscale(u)
        return (u - m) * (-a).exp(), -a.sum(-1)

    def _sequential(self, v: Tensor, inverse_of: str) -> tuple[Tensor, Tensor]:
        """Solve for u given v, D passes: after pass k the first k coordinates in the order are exact."""
        u = torch.zeros_like(v)
        for _ in range(self.features):
            m, a = self._shift_logscale(u)
            if inverse_of == "affine":        # v = u e^a + m  =>  u = (v - m) e^{-a}
                u = (v - m) * (-a).exp()
            else:                             # v = (u - m) e^{-a}  =>  u = v e^a + m
                u = v * a.exp() + m
        # The last pass's (m, a) were computed from the exact u: the log-det is exact too.
        return u, (-a.sum(-1) if inverse_of == "affine" else a.sum(-1))


class MAF(_AffineAutoregressive):
    r"""Masked autoregressive flow layer. ``forward`` (density): 1 MADE pass; ``inverse`` (sampling): D.

    .. math:: z_t = (x_t - m_t(x_{<t}))\, e^{-a_t(x_{<t})}, \qquad
              \log|\det \partial z/\partial x| = -\textstyle\sum_t a_t(x_{<t}).
    """

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_shape(x, (self.features,), "MAF")
        return self._parallel_inverse(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        check_shape(z, (self.features,), "MAF.inverse")
        return self._sequential(z, inverse_of="standardize")


class IAF(_AffineAutoregressive):
    r"""Inverse autoregressive flow layer. ``inverse`` (sampling): 1 MADE pass; ``forward`` (density): D.

    .. math:: x_t = z_t\, e^{a_t(z_{<t})} + m_t(z_{<t}), \qquad
              \log|\det \partial x/\partial z| = \textstyle\sum_t a_t(z_{<t}).
    """

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_shape(x, (self.features,), "IAF")
        return self._sequential(x, inverse_of="affine")

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        check_shape(z, (self.features,), "IAF.inverse")
        return self._parallel(z)


def _stack(cls, features: int, num_layers: int, hidden: int, layers: int) -> Compose:
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers <= 0:
        raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
    # Alternating the order lets every coordinate condition on every other across the stack.
    return Compose([cls(features, hidden, layers, order="natural" if i % 2 == 0 else "reverse")
                    for i in range(num_layers)])


def maf(features: int, num_layers: int = 4, hidden: int = 64, layers: int = 2) -> Compose:
    """A stack of MAF layers with alternating natural / reverse orders."""
    return _stack(MAF, features, num_layers, hidden, layers)


def iaf(features: int, num_layers: int = 4, hidden: int = 64, layers: int = 2) -> Compose:
    """A stack of IAF layers with alternating natural / reverse orders."""
    return _stack(IAF, features, num_layers, hidden, layers)


def network_passes(module: nn.Module) -> int:
    """Total MADE calls inside ``module`` since the last :func:`reset_passes`."""
    return sum(m.passes for m in module.modules() if isinstance(m, MADE))


def reset_passes(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, MADE):
            m.passes = 0


class CallCounter:
    """Count calls of arbitrary modules with forward hooks: ``with CallCounter(nets) as c: ...; c.count``."""

    def __init__(self, modules: nn.Module | Iterable[nn.Module]):
        self.modules = [modules] if isinstance(modules, nn.Module) else list(modules)
        if not self.modules or not all(isinstance(m, nn.Module) for m in self.modules):
            raise ValueError("CallCounter expects one or more nn.Module instances")
        self.count = 0
        self._handles = []

    def _hook(self, *_):
        self.count += 1

    def __enter__(self) -> "CallCounter":
        self.count = 0
        self._handles = [m.register_forward_hook(self._hook) for m in self.modules]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


def direction_costs(make_flow: Callable[[int], Flow], dims: Sequence[int], *, batch: int = 128,
                    repeats: int = 5, inner: int = 3,
                    networks: Callable[[nn.Module], Iterable[nn.Module]] | None = None,
                    generator: torch.Generator | None = None) -> dict:
    """Network passes and wall times of both directions of ``make_flow(D)`` for each ``D`` in ``dims``.

    Returns ``{"dims", "passes": {"forward": [...], "inverse": [...]}, "seconds": {...},
    "cpu_seconds": {...}}`` where each timing entry maps a direction to ``[repeats][len(dims)]``.
    ``seconds`` is wall time; ``cpu_seconds`` is the process's CPU time, which on a shared machine is
    not inflated when the scheduler preempts a long call (wall time is, and more so the longer the
    call, which biases log-log slopes upward). Each time is the best of ``inner`` calls; the ``dims``
    are interleaved within each repeat so that a slow spell hits every ``D`` rather than one.
    ``networks(flow)`` picks the modules whose calls count as passes (default: every MADE).
    """
    import time

    dims = [int(d) for d in dims]
    if not dims or min(dims) <= 0:
        raise ValueError(f"direction_costs needs positive dimensions, got {dims}")
    for name, v in (("batch", batch), ("repeats", repeats), ("inner", inner)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"direction_costs: {name} must be a positive integer, got {v!r}")
    networks = networks or (lambda f: [m for m in f.modules() if isinstance(m, MADE)])
    flows = {d: make_flow(d).eval() for d in dims}
    inputs = {d: torch.randn(batch, d, generator=generator) for d in dims}
    out = {"dims": dims, "passes": {"forward": [], "inverse": []},
           "seconds": {k: [[0.0] * len(dims) for _ in range(repeats)] for k in ("forward", "inverse")},
           "cpu_seconds": {k: [[0.0] * len(dims) for _ in range(repeats)] for k in ("forward", "inverse")}}
    with torch.no_grad():
        for d in dims:
            for direction in ("forward", "inverse"):
                call = flows[d] if direction == "forward" else flows[d].inverse
                with CallCounter(networks(flows[d])) as c:
                    call(inputs[d])  # also the warm-up
                out["passes"][direction].append(c.count)
        for r in range(repeats):
            for j, d in enumerate(dims):
                for direction in ("forward", "inverse"):
                    call = flows[d] if direction == "forward" else flows[d].inverse
                    best = best_cpu = float("inf")
                    for _ in range(inner):
                        start, start_cpu = time.perf_counter(), time.process_time()
                        call(inputs[d])
                        best_cpu = min(best_cpu, time.process_time() - start_cpu)
                        best = min(best, time.perf_counter() - start)
                    out["seconds"][direction][r][j] = best
                    out["cpu_seconds"][direction][r][j] = best_cpu
    return out

