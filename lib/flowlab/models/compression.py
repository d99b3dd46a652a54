r"""A trained VAE as a lossless coder: its three distributions handed to bits-back ANS.

:class:`flowlab.coding.bitsback.BitsBackCodec` takes callables; this wires them to a
:class:`~flowlab.models.VAE` with a Gaussian posterior and a Bernoulli pixel likelihood:

- :math:`q(z|x) = \mathcal N(\mu(x), \mathrm{diag}\,\sigma^2(x))` from the encoder, with the posterior's
  own variance map :math:`\sigma^2 = \mathrm{softplus}(\cdot) + \sigma^2_{\min}`;
- :math:`p(x|z) = \prod_i \mathrm{Bernoulli}(x_i; \sigma(l_i(z)))` from the decoder's logits;
- :math:`p(z) = \mathcal N(0, I)`.

Flow posteriors are refused: their :math:`q(z|x)` is not a product of per-coordinate Gaussians, which
is what the coder's latent model codes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from flowlab.coding.bitsback import BitsBackCodec, standard_normal_prior
from flowlab.coding.latent import LatentGrid
from flowlab.models.likelihoods import Bernoulli
from flowlab.models.vae import VAE
from flowlab.validate import Count, IsA, checked


@checked
def vae_codec(vae: IsA(VAE, "a flowlab.models VAE"), *, batch: Count = 64, grid: LatentGrid | None = None,
              seed: int = 0) -> BitsBackCodec:
    """A :class:`~flowlab.coding.bitsback.BitsBackCodec` for binary images under ``vae`` (evaluated without
    gradients, in the VAE's dtype, ``batch`` images per network pass on both sides)."""
    if not isinstance(vae.likelihood, Bernoulli) or vae.posterior.flow is not None:
        raise ValueError("vae_codec codes binary images with a Gaussian posterior: it needs Bernoulli() and "
                         f"flow='gaussian', got {type(vae.likelihood).__name__}() and flow={vae.posterior.kind!r}")
    dtype = vae.posterior.mean.weight.dtype

    @torch.no_grad()
    def posterior(x):
        raw = vae.encode(x)
        return raw["mean"], (F.softplus(raw["var_raw"]) + vae.posterior.min_var).sqrt()

    @torch.no_grad()
    def likelihood(z):
        return torch.sigmoid(vae.decoder(z)).reshape(len(z), *vae.event_shape)

    return BitsBackCodec(posterior, likelihood, standard_normal_prior(vae.latent), latent_dim=vae.latent,
                         shape=vae.event_shape, levels=2, grid=grid, batch=batch, seed=seed, dtype=dtype)
