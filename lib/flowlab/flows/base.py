r"""The flow protocol and composition.

A flow is a bijection :math:`f: x \mapsto z` in the *normalizing* direction (data to latent), as
in the lectures. Every layer returns the log absolute determinant of the Jacobian of the direction
it computes, one value per sample:

.. math:: \texttt{forward}(x) = (f(x),\ \log|\det \partial f / \partial x|), \qquad
          \texttt{inverse}(z) = (f^{-1}(z),\ \log|\det \partial f^{-1} / \partial z|).

so that ``inverse`` returns minus the forward log-det evaluated at the reconstructed point.
Composition :math:`f_S \circ \dots \circ f_1` sums the per-layer log-dets (the chain rule).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Sequence

from torch import Tensor, nn

from flowlab.validate import check_shape, check_tensor, first_parameter


class Flow(nn.Module):
    """Base class of every bijection. Subclasses implement ``forward`` and ``inverse``.

    ``self.check_input(x, event_shape, who)`` is how a layer validates what it is given: a finite,
    non-empty batch of events of ``event_shape`` in the dtype and on the device of its parameters.
    """

    def check_input(self, x: Tensor, event_shape: Sequence[int | None], who: str) -> Tensor:
        return check_shape(x, event_shape, who, like=first_parameter(self))

    # Layers with solver or estimator settings name them in ``SETTINGS`` and validate them in ``_set``.
    SETTINGS: tuple[str, ...] = ()

    def _set(self, **settings) -> None:  # pragma: no cover - overridden where SETTINGS is not empty
        raise ValueError(f"{type(self).__name__} has no settings")

    @contextmanager
    def using(self, **settings):
        """Temporarily change settings, e.g. ``with cnf.using(trace="exact", rtol=1e-7): ...``;
        the previous values come back when the block ends, also after an error."""
        before = {name: getattr(self, name) for name in settings if name in self.SETTINGS}
        self._set(**settings)
        try:
            yield self
        finally:
            self._set(**before)

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
                raise TypeError(
                    f"Compose expects Flow layers; layer {i} is {type(layer).__name__}"
                )
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_tensor(x, "Compose", like=first_parameter(self))
        total = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, logdet = layer(x)
            total = total + logdet
        return x, total

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        check_tensor(z, "Compose.inverse", like=first_parameter(self))
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

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.flow.inverse(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.flow(z)
