"""What the lectures compare flows against, and combine them with: the VAE with flow posteriors,
its pixel likelihoods, and the linear-Gaussian model whose posterior is known in closed form."""
from flowlab.models.likelihoods import (
                                        LIKELIHOODS,
                                        Bernoulli,
                                        Categorical,
                                        DiscretizedLogistic,
                                        PixelLikelihood,
                                        make_likelihood,
)
from flowlab.models.linear_gaussian import GaussianGap, LinearGaussian, elbo_gap_z, gaussian_gap_moments
from flowlab.models.posteriors import POSTERIORS, FlowPosterior, repeat_rows
from flowlab.models.vae import VAE, LocalPosterior, LogWeights, logmeanexp

__all__ = ["Bernoulli", "Categorical", "DiscretizedLogistic", "FlowPosterior", "GaussianGap", "LIKELIHOODS",
           "LinearGaussian", "LocalPosterior", "LogWeights", "POSTERIORS", "PixelLikelihood", "VAE",
           "elbo_gap_z", "gaussian_gap_moments", "logmeanexp", "make_likelihood", "repeat_rows"]
# The GAN and its density ratio, the DDPM with guidance (notebooks 15, 16), the VAE as a bits-back coder
# (notebook 14) and the model zoo (notebook 17)
from flowlab.models.compression import vae_codec
from flowlab.models.diffusion import DDPM, NoiseSchedule, linear_schedule
from flowlab.models.gan import (
                                        Discriminator,
                                        Generator,
                                        LogisticFit,
                                        discriminator_loss,
                                        fit_logistic,
                                        minimax_generator_loss,
                                        nonsaturating_generator_loss,
                                        quadratic_features,
)
from flowlab.models.zoo import (
                                        FAMILIES,
                                        Family,
                                        block_structures,
                                        free_form,
                                        jacobian_structure,
                                        likelihood_kind,
                                        sampling_costs,
)

__all__ += ["DDPM", "Discriminator", "FAMILIES", "Family", "Generator", "LogisticFit", "NoiseSchedule",
            "block_structures", "discriminator_loss", "fit_logistic", "free_form", "jacobian_structure",
            "likelihood_kind", "linear_schedule", "minimax_generator_loss", "nonsaturating_generator_loss",
            "quadratic_features", "sampling_costs", "vae_codec"]
