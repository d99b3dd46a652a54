r"""The flow protocol and composition.

A flow is a bijection :math:`f: x \mapsto z` in the *normalizing* direction (data to latent), as
in the lectures. Every layer returns the log absolute determinant of the Jacobian of the direction
it computes, one value per sample:

.. math:: \texttt{forward}(x) = (f(x),\ \log|\det \partial f / \partial x|), \qquad
          \texttt{inverse}(z) = (f^{-1}(z),\ \log|\det \partial f^{-1} / \partial z|).

so that ``inverse`` returns minus the forward log-det evaluated at the reconstructed point.
Composition :math:`f_S \circ \dots \circ f_1` sums the per-layer log-dets (the chain rule).

**Validation at the boundary.** A tensor is checked once, where the user's call enters the flow
stack: the outermost ``forward`` or ``inverse`` (or a density model's ``log_prob``) checks that it is
a finite, non-empty floating batch of the events it takes, in the dtype and on the device of its
parameters, and names the layer that was called. Everything that call runs, inner layers of a
composition, a layer calling another, trusts its tensors (:func:`trusted`). Each layer declares the
events it takes (:attr:`Flow.event_shape`, :attr:`Flow.latent_shape`); a composition takes those of
its first layer that declares a shape. Under ``torch.func`` transforms the value checks are skipped
(:func:`flowlab.validate.check_tensor`).
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Sequence

import torch
from torch import Tensor, nn

from flowlab.validate import check_shape

_INSIDE = ContextVar("inside_a_validated_flowlab_call", default=False)
# An optional module argument (a conditioner, a residual network g): None means "build the default one".


def _holds_values(x: Tensor) -> bool:
    # a value-dependent check cannot run inside torch.func.vmap (nor is it needed there)
    return not torch._C._functorch.is_batchedtensor(x) and x.device.type != "meta"


def check_invertible(logabsdet: Tensor, who: str, what: str = "weight matrix", matrix: Tensor | None = None) -> Tensor:
    """``log|det|`` of a layer's matrix must be finite: a singular matrix (``-inf``) would make every
    log-density ``-inf`` silently, and its inverse does not exist. With ``matrix``, a numerically
    singular one (smallest singular value below ``C * eps`` times the largest) is refused too: rounding
    then gives a finite but meaningless ``log|det|`` (about -19 for a float32 3x3 with two equal columns)."""
    if not _holds_values(logabsdet):
        return logabsdet
    singular = False
    if matrix is not None and _holds_values(matrix):
        s = torch.linalg.svdvals(matrix.detach())
        singular = bool(s.min() <= s.max() * matrix.shape[-1] * torch.finfo(matrix.dtype).eps)
    if singular or not bool(torch.isfinite(logabsdet).all()):
        raise ValueError(f"{who}: the {what} is singular or not finite (log|det| = {logabsdet.flatten()[0].item()}), "
                         "and not invertible: re-initialise the layer (or lower the learning rate)")
    return logabsdet


def first_parameter(module) -> Tensor | None:
    """The first parameter or floating buffer of ``module`` (what fixes its dtype and device)."""
    return next(iter(module.parameters()), next((b for b in module.buffers() if b.is_floating_point()), None))


def inside() -> bool:
    """Whether a validated call is running: its input was checked where it entered, so what it
    calls trusts its tensors."""
    return _INSIDE.get()


@contextmanager
def trusted():
    """Run a block as inside a validated call: flows called in it skip their input checks (for
    callers that validated the input themselves)."""
    token = _INSIDE.set(True)
    try:
        yield
    finally:
        _INSIDE.reset(token)


def _entry(method, direction: str):
    """``method`` (a layer's ``forward`` or ``inverse``), validating its arguments at the outermost call."""

    @functools.wraps(method)
    def call(self, x, *args, **kwargs):
        if _INSIDE.get():
            return method(self, x, *args, **kwargs)
        self.check_input(x, direction, *args, **kwargs)
        with trusted():
            return method(self, x, *args, **kwargs)

    return call


class Flow(nn.Module):
    """Base class of every bijection. Subclasses implement ``forward`` and ``inverse``, which trust
    their input: the outermost call has validated it (module docstring).

    ``event_shape`` is the shape of one event ``forward`` takes (a batch is ``[B, *event_shape]``;
    ``None`` entries accept any size), ``latent_shape`` that of ``inverse`` when it differs.
    ``event_shape = None`` means any shape, kept as it is (elementwise layers).
    """

    event_shape: tuple | None = None
    latent_shape: tuple | None = None
    # Solver or estimator settings (plain attributes, changed by ``using``), each with its contract, a
    # flowlab.validate annotation (OneOf(...), Count, Count0, Positive, MaybePositive, Fraction), or None
    # (anything). Values are checked when they are set, never per call.
    SETTINGS: dict[str, object] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for direction in ("forward", "inverse"):
            if direction in cls.__dict__:
                setattr(cls, direction, _entry(cls.__dict__[direction], direction))

    def input_shape(self, direction: str = "forward") -> tuple | None:
        """The event shape ``forward`` (or ``inverse``) takes; ``None``: any, kept as it is."""
        if direction == "inverse" and self.latent_shape is not None:
            return self.latent_shape
        return self.event_shape

    def name_of(self, direction: str = "forward") -> str:
        """How messages name this layer's ``forward`` (``"PlanarFlow"``) or ``inverse`` (``"PlanarFlow.inverse"``)."""
        name = self.__dict__.get("name") or type(self).__name__
        return name if direction == "forward" else f"{name}.inverse"

    def check_input(self, x, direction: str = "forward", *args, who: str | None = None,
                    like: Tensor | None = None, **kwargs) -> Tensor:
        """What the outermost ``forward`` (or ``inverse``) call checks: ``x`` is a finite, non-empty
        floating batch of the events ``direction`` takes, in the dtype and on the device of ``like``
        (default: this layer's parameters). ``args``, ``kwargs``: the call's other arguments, which a
        layer taking more (MAF's ``context``) checks in its override."""
        shape, who = self.input_shape(direction), who or self.name_of(direction)
        like = first_parameter(self) if like is None else like
        check_shape(x, shape, who, like=like)
        return x

    def __setattr__(self, name: str, value) -> None:
        if name in type(self).SETTINGS:  # set by the constructor, using() or a plain assignment
            value = self._check_setting(name, value)
        super().__setattr__(name, value)

    def _check_setting(self, name: str, value):
        """``value`` as the setting ``name`` takes it: its contract in ``SETTINGS`` run on it, as ``@checked``
        runs an argument's."""
        contract = self.SETTINGS[name]
        return value if contract is None else contract.__metadata__[0](value, name, self.name_of())

    @contextmanager
    def using(self, **settings):
        """Temporarily change settings, e.g. ``with cnf.using(trace="exact", rtol=1e-7): ...``;
        the previous values come back when the block ends, also after an error."""
        unknown = sorted(set(settings) - set(self.SETTINGS))
        if unknown:
            raise ValueError(f"{self.name_of()} has no setting {', '.join(unknown)}; it has {tuple(self.SETTINGS)}")
        before = {name: getattr(self, name) for name in settings}
        try:
            for name, value in settings.items():
                setattr(self, name, value)
            yield self
        finally:
            for name, value in before.items():
                setattr(self, name, value)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


class Compose(Flow):
    r"""The composition :math:`f_S \circ \dots \circ f_1`; ``layers[0]`` is applied first."""

    def __init__(self, *layers: Flow | Sequence[Flow]):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Flow):
                raise TypeError(f"Compose expects Flow layers; layer {i} is {type(layer).__name__}")
        self.layers = nn.ModuleList(layers)

    def input_shape(self, direction: str = "forward") -> tuple | None:
        # Layers of any shape keep the shape they get: the first layer (last, for inverse) that declares one decides.
        order = self.layers if direction == "forward" else reversed(self.layers)
        return next((s for s in (layer.input_shape(direction) for layer in order) if s is not None), None)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, logdet = layer(x)
            total = total + logdet
        return x, total

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        total = z.new_zeros(z.shape[0])
        for layer in reversed(self.layers):
            z, logdet = layer.inverse(z)
            total = total + logdet
        return z, total

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]


class Inverse(Flow):
    """Swaps the two directions of a flow (turns a MAF into an IAF, a sampler into a density)."""

    def __init__(self, flow: Flow):
        super().__init__()
        self.flow = flow

    def input_shape(self, direction: str = "forward") -> tuple | None:
        return self.flow.input_shape("inverse" if direction == "forward" else "forward")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.flow.inverse(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.flow(z)
