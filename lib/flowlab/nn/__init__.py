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
from flowlab.nn.conditioners import ACTIVATIONS, MLP, ConvNet
from flowlab.nn.fields import ConcatConv2d, ConcatLinear, TimeConcatConvNet, TimeConcatMLP, TimeLabelMLP
from flowlab.nn.lipschitz import LipschitzMLP, LipSwish, SpectralNormLinear, frozen_power_iteration
from flowlab.nn.made import MADE, MaskedLinear, autoregressive_degrees

__all__ = ["MLP", "ConvNet", "MaskedLinear", "MADE", "autoregressive_degrees", "ConcatLinear",
           "ConcatConv2d", "TimeConcatMLP", "TimeConcatConvNet", "ACTIVATIONS", "SpectralNormLinear", "LipSwish",
           "LipschitzMLP", "frozen_power_iteration", "TimeLabelMLP"]
