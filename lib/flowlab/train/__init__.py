"""Training: the one loop (seeding, progress, NaN guard, checkpoints), objectives, image-flow
fitting, VAE fitting and evaluation, and reverse-KL fitting of samplers (single or vmapped ensembles)."""
from flowlab.train.images import fit_image_flow
from flowlab.train.loop import History, NonFiniteLossError, fit, progress_quiet, seed_everything, sweep
from flowlab.train.objectives import elbo_loss, kl_warmup, nll_loss
from flowlab.train.reverse_kl import (
                                      StackedTimeMLP,
                                      fit_reverse_kl,
                                      fit_reverse_kl_cnf_ensemble,
                                      fit_reverse_kl_ensemble,
                                      kl_to_target,
                                      reverse_kl_loss,
                                      sample_with_log_prob,
)
from flowlab.train.vae import evaluate_vae, fit_vae

__all__ = ["History", "NonFiniteLossError", "StackedTimeMLP", "elbo_loss", "evaluate_vae", "fit",
           "fit_image_flow", "fit_reverse_kl", "fit_reverse_kl_cnf_ensemble", "fit_reverse_kl_ensemble",
           "fit_vae", "kl_to_target", "kl_warmup", "nll_loss", "progress_quiet", "reverse_kl_loss",
           "sample_with_log_prob", "seed_everything", "sweep"]
