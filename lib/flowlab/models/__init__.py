"""What the lectures compare flows against: the GAN and its density ratio, the DDPM with guidance."""
from flowlab.models.diffusion import DDPM, NoiseSchedule, linear_schedule
from flowlab.models.gan import (Discriminator, Generator, LogisticFit, discriminator_loss, fit_logistic,
                                minimax_generator_loss, nonsaturating_generator_loss, quadratic_features)

__all__ = ["DDPM", "Discriminator", "Generator", "LogisticFit", "NoiseSchedule", "discriminator_loss",
           "fit_logistic", "linear_schedule", "minimax_generator_loss", "nonsaturating_generator_loss",
           "quadratic_features"]
from flowlab.models.compression import vae_codec
from flowlab.models.zoo import (FAMILIES, Family, block_structures, free_form, jacobian_structure, likelihood_kind,
                                sampling_costs)

__all__ += ["FAMILIES", "Family", "block_structures", "free_form", "jacobian_structure", "likelihood_kind",
            "sampling_costs", "vae_codec"]
