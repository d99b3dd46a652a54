"""What the lectures compare flows against, and combine them with: the VAE with flow posteriors and
its pixel likelihoods, the linear-Gaussian model whose posterior is known in closed form, the GAN and
its density ratio, the DDPM with guidance (notebooks 15, 16), the VAE as a bits-back coder (notebook
14) and the model zoo (notebook 17). The parts they are built from (``FlowPosterior``,
``NoiseSchedule``, ``Categorical``...) live in the submodules."""
from flowlab.models.compression import vae_codec
from flowlab.models.diffusion import DDPM, linear_schedule
from flowlab.models.gan import (
    Discriminator,
    Generator,
    discriminator_loss,
    fit_logistic,
    minimax_generator_loss,
    nonsaturating_generator_loss,
    quadratic_features,
)
from flowlab.models.likelihoods import Bernoulli, make_likelihood
from flowlab.models.linear_gaussian import LinearGaussian, elbo_gap_z, gaussian_gap_moments
from flowlab.models.vae import VAE, LocalPosterior
from flowlab.models.zoo import FAMILIES, block_structures, free_form, likelihood_kind, sampling_costs

__all__ = ["Bernoulli", "DDPM", "Discriminator", "FAMILIES", "Generator", "LinearGaussian", "LocalPosterior", "VAE",
           "block_structures", "discriminator_loss", "elbo_gap_z", "fit_logistic", "free_form",
           "gaussian_gap_moments", "likelihood_kind", "linear_schedule", "make_likelihood", "minimax_generator_loss",
           "nonsaturating_generator_loss", "quadratic_features", "sampling_costs", "vae_codec"]
