r"""The variational autoencoder (Kingma & Welling 2014; Rezende et al. 2014), with flow posteriors.

Generative model :math:`p(z) = \mathcal N(0, I)`, :math:`p(x|z)` a pixel likelihood whose parameters
an MLP decoder computes from :math:`z` (:mod:`flowlab.models.likelihoods`); inference model
:math:`q(z|x)` a diagonal Gaussian from an MLP encoder, optionally followed by an amortized flow
(:mod:`flowlab.models.posteriors`). For draws :math:`z_s \sim q(z|x)` the log-weights are

.. math:: \log w_s = \log p(x | z_s) + \log p(z_s) - \log q(z_s | x),

and (lecture 001, "But the receiver doesn't have p(z|x)?"; lecture 003, "A Digression on
Variational Inference"):

- the ELBO :math:`\mathcal L = \mathbb E_q[\log w] = \log p(x) - \mathrm{KL}(q(z|x) \| p(z|x))`,
  estimated by the mean of :math:`\log w_s`; with KL warm-up the training objective is
  :math:`\mathbb E_q[\log p(x|z)] - \beta\,\mathbb E_q[\log q(z|x) - \log p(z)]`, :math:`\beta: 0 \to 1`;
- the importance-sampled log-likelihood
  :math:`\log \hat p_S(x) = \log \frac1S \sum_{s=1}^S w_s`, a lower bound for every :math:`S`
  (Jensen), tighter as :math:`S` grows and consistent as :math:`S \to \infty` (Burda et al. 2016);
  van den Berg et al. use :math:`S = 5000` per image, evaluated in chunks here.

:class:`LocalPosterior` holds one datapoint's posterior parameters as free tensors, initialised at the
encoder's output, for the per-datapoint optimum :math:`q^*` of the gap decomposition
:math:`\log p(x) - \mathcal L[q] = (\log p(x) - \mathcal L[q^*]) + (\mathcal L[q^*] - \mathcal L[q])`
(approximation gap + amortization gap; Cremer et al. 2018).
"""
from __future__ import annotations

import copy
import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from flowlab.models.likelihoods import PixelLikelihood
from flowlab.models.posteriors import POSTERIORS, FlowPosterior
from flowlab.nn.conditioners import ACTIVATIONS, MLP
from flowlab.validate import Count, Count0, EventShape, IsA, Number, OneOf, Rng, check_pixels, check_tensor, checked


class LogWeights(NamedTuple):
    """The terms of :math:`\\log w` for S draws per image, each [S, batch]."""

    log_px_z: Tensor
    log_pz: Tensor
    log_q: Tensor

    @property
    def total(self) -> Tensor:
        return self.log_px_z + self.log_pz - self.log_q


def logmeanexp(values: Tensor, dim: int = 0) -> Tensor:
    """:math:`\\log \\frac1n \\sum_i e^{v_i}` along ``dim``, without overflow (``-inf``, a zero weight,
    counts as one of the ``n``)."""
    return torch.logsumexp(values, dim) - math.log(values.shape[dim])


class VAE(nn.Module):
    """A VAE on images of ``event_shape`` (C, H, W) with a pixel ``likelihood``, ``latent`` dimensions,
    MLP encoder and decoder (``layers`` hidden layers of ``hidden`` units), encoder features of
    ``context`` units, and a posterior ``flow`` of ``num_flows`` maps (``"gaussian"``: none; else one
    of :data:`flowlab.flows.amortized.AMORTIZED_FLOWS`) built with ``flow_options`` (e.g.
    ``{"hidden": 8}``: O-SNF's columns, ``{"reflections": 8}``: H-SNF's).

    The constructor checks every size and the posterior's kind once (the posterior and its flow trust
    them); each public method checks the images it is given once and then runs the network parts,
    which trust it."""

    @checked
    def __init__(self, event_shape: EventShape, likelihood: IsA(PixelLikelihood, "a PixelLikelihood (Bernoulli()...)"),
                 latent: Count = 64, hidden: Count = 300, layers: Count = 2, context: Count = 256,
                 flow: OneOf(POSTERIORS) = "gaussian", num_flows: Count0 = 0,
                 activation: OneOf(ACTIVATIONS) = "softplus", flow_options: dict | None = None):
        super().__init__()
        if (flow == "gaussian") != (num_flows == 0):
            raise ValueError(f"VAE: flow='gaussian' takes num_flows=0, others >= 1; got {flow!r}, {num_flows}")
        act = ACTIVATIONS[activation]
        self.event_shape = event_shape
        self.num_dims = math.prod(self.event_shape)
        self.latent = latent
        self.likelihood = likelihood
        self.encoder = nn.Sequential(MLP(self.num_dims, context, hidden, layers, act, zero_last=False), act())
        self.posterior = FlowPosterior(context, latent, flow, num_flows, **(flow_options or {}))
        self.decoder = MLP(latent, likelihood.num_params(self.num_dims), hidden, layers, act, zero_last=False)

    def _check_x(self, x: Tensor, who: str, levels: int | None = None) -> Tensor:
        check_pixels(x, self.likelihood.levels if levels is None else levels, who)
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(f"{who} expects images of shape [batch, {', '.join(map(str, self.event_shape))}], "
                             f"got {list(x.shape)}")
        return x

    def _raw(self, x: Tensor) -> dict[str, Tensor]:
        dtype = self.posterior.mean.weight.dtype
        return self.posterior.raw_parameters(self.encoder(self.likelihood.encoder_input(x, dtype)))

    def _log_weights(self, x: Tensor, num_samples: int, generator: torch.Generator | None,
                     raw: dict[str, Tensor]) -> LogWeights:
        z, log_q = self.posterior.sample(raw, num_samples, generator)
        params = self.decoder(z.reshape(-1, self.latent))
        flat = x.unsqueeze(0).expand(num_samples, *x.shape).reshape(num_samples * x.shape[0], -1)
        pixels = params.reshape(flat.shape[0], flat.shape[1], self.likelihood.params_per_pixel)
        log_px_z = self.likelihood._log_prob(pixels, flat.long()).reshape(num_samples, -1)
        log_pz = -0.5 * (z * z + math.log(2 * math.pi)).sum(-1)
        return LogWeights(log_px_z, log_pz, log_q)

    def encode(self, x: Tensor) -> dict[str, Tensor]:
        """The posterior's raw parameters for a batch of images (the encoder's output)."""
        self._check_x(x, "VAE.encode")
        return self._raw(x)

    @checked
    def log_weights(self, x: Tensor, num_samples: Count = 1, generator: Rng = None,
                    raw: dict[str, Tensor] | None = None) -> LogWeights:
        """The terms of :math:`\\log w` for ``num_samples`` draws per image (posterior ``raw``, as
        :meth:`encode` returns it, or the encoder's)."""
        self._check_x(x, "VAE.log_weights")
        if raw is None:
            return self._log_weights(x, num_samples, generator, self._raw(x))
        shapes = {k: (x.shape[0], *shape) for k, shape in self.posterior.raw_shapes.items()}
        if not isinstance(raw, dict) or {k: getattr(v, "shape", None) for k, v in raw.items()} != shapes:
            raise ValueError(f"VAE.log_weights: raw must be encode(x)'s dict, shapes {shapes}")
        for name, value in raw.items():
            check_tensor(value, f"VAE.log_weights (its raw {name!r})", like=self.posterior.mean.weight)
        return self._log_weights(x, num_samples, generator, raw)

    @checked
    def elbo(self, x: Tensor, num_samples: int = 1, beta: Number = 1.0, generator: torch.Generator | None = None,
             raw: dict[str, Tensor] | None = None) -> Tensor:
        """Per-image ELBO estimate [batch] from ``num_samples`` draws; ``beta`` weighs the KL part
        (warm-up), 1 for the bound itself. :meth:`log_weights` checks the rest."""
        w = self.log_weights(x, num_samples, generator, raw)
        return (w.log_px_z - beta * (w.log_q - w.log_pz)).mean(0)

    @torch.no_grad()
    @checked
    def importance_log_likelihood(self, x: Tensor, num_samples: Count = 5000, batch: Count = 1000,
                                  generator: Rng = None) -> Tensor:
        """:math:`\\log \\frac1S \\sum_s w_s` per image [batch] with ``S = num_samples`` draws, at most
        ``batch`` (draw, image) pairs per network pass."""
        self._check_x(x, "VAE.importance_log_likelihood")
        chunk = min(num_samples, batch)
        images = max(1, batch // chunk)
        out = []
        for part in x.split(images):
            raw = self._raw(part)
            pieces, done = [], 0
            while done < num_samples:
                n = min(chunk, num_samples - done)
                pieces.append(self._log_weights(part, n, generator, raw).total)
                done += n
            out.append(logmeanexp(torch.cat(pieces), 0))
        return torch.cat(out)

    @torch.no_grad()
    def initialize_decoder(self, x: Tensor, levels: int | None = None) -> "VAE":
        """Set the decoder's output bias to the likelihood's fit of the pixel marginals of ``x``
        (:meth:`PixelLikelihood.initial_bias`; ``levels`` of ``x`` if not the likelihood's, e.g. grey
        images that training binarizes): training starts from the average image."""
        self._check_x(x, "VAE.initialize_decoder", levels)
        last = self.decoder[-1]
        last.bias.copy_(self.likelihood.initial_bias(x, levels).to(last.bias))
        return self

    def bits_per_dim(self, log_mass: Tensor | float) -> Tensor | float:
        """Bits/dim of a per-image log-mass (an ELBO or a log-likelihood, in nats)."""
        return self.likelihood.bits_per_dim(log_mass, self.num_dims)


class LocalPosterior(nn.Module):
    """Free posterior parameters for the images ``x`` (initialised at ``vae``'s encoder), to be
    optimised per datapoint against a frozen copy of ``vae``: its parameters are the only ones
    ``fit`` sees, and ``elbo`` is the bound of :math:`q^*` as it improves."""

    @checked
    def __init__(self, vae: IsA(VAE, "a flowlab.models VAE"), x: Tensor):
        super().__init__()
        with torch.no_grad():
            raw = vae.encode(x)
        self.raw = nn.ParameterDict({k: nn.Parameter(v.detach().clone()) for k, v in raw.items()})
        frozen = copy.deepcopy(vae).requires_grad_(False)
        self.__dict__["vae"] = frozen  # not a submodule: its weights are not the optimiser's
        self.__dict__["x"] = x

    def elbo(self, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        return self.vae.elbo(self.x, num_samples, 1.0, generator, dict(self.raw))
