r"""Every network that parametrizes something in flowlab.

- :class:`~flowlab.nn.conditioners.MLP` and :class:`~flowlab.nn.conditioners.ConvNet`: the
  conditioners of coupling layers (RealNVP/Glow's ``NN()``), last layer zero-initialised so that a
  fresh coupling is the identity.
- :class:`~flowlab.nn.made.MaskedLinear` and :class:`MADE`: the masked autoencoder of autoregressive
  flows.
- :class:`TimeConcatMLP` and :class:`TimeConcatConvNet`: the one time-conditioned vector field
  :math:`f(t, z)` (FFJORD's ``concat`` layers: :math:`t` enters every layer as an extra input),
  on vectors or on images, split as :math:`f = g \circ h` (``encode`` / ``decode``) for
  Hutchinson's bottleneck trick; :class:`~flowlab.nn.fields.StackedTimeMLP` evaluates several
  one-hidden-layer vector fields as one (the CNF ensembles of :mod:`flowlab.train.reverse_kl`).
- :class:`TimeLabelMLP`: the noise predictor :math:`\epsilon_\theta(x_t, t, y)` of a DDPM, with an
  empty label for classifier-free guidance.
- :class:`SpectralNormLinear`, :class:`~flowlab.nn.lipschitz.LipSwish`, :class:`LipschitzMLP`:
  Lipschitz-constrained networks (the residual :math:`g` of i-ResNet / Residual Flows blocks),
  spectral normalisation by power iteration, and
  :func:`~flowlab.nn.lipschitz.frozen_power_iteration` to hold the normalised weights fixed.

The constructors named here validate their sizes; the inner networks (imported from their modules)
trust the layers and models that build them. Inputs are checked where data enters a model, not in
these networks, which run inside solvers and layers (the fields check only the state's shape).
"""
from flowlab.nn.fields import TimeConcatConvNet, TimeConcatMLP, TimeLabelMLP
from flowlab.nn.lipschitz import LipschitzMLP, SpectralNormLinear
from flowlab.nn.made import MADE

__all__ = ["LipschitzMLP", "MADE", "SpectralNormLinear", "TimeConcatConvNet", "TimeConcatMLP", "TimeLabelMLP"]
