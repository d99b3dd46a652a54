"""Training: the one loop (seeding, progress, NaN guard, checkpoints that resume), objectives, image-flow
fitting (one model, or a sweep's seeds as a vmapped ensemble in ``flowlab.train.ensemble``), the
lectures' ordering experiments (``run_experiment``; ``python -m flowlab.train C11``), VAE fitting and
evaluation, and reverse-KL fitting of samplers (vmapped ensembles); ``flowlab.train.distributed`` scales
out on torchrun. The pieces they are built from (``History``, ``kl_warmup``, ``sample_with_log_prob``,
``fit_reverse_kl``...) live in the submodules."""
from flowlab.train.experiments import run_experiment
from flowlab.train.images import fit_image_flow
from flowlab.train.loop import fit, seed_everything, sweep
from flowlab.train.objectives import elbo_loss, nll_loss
from flowlab.train.reverse_kl import fit_reverse_kl_cnf_ensemble, fit_reverse_kl_ensemble, kl_to_target
from flowlab.train.vae import evaluate_vae, fit_vae

__all__ = ["elbo_loss", "evaluate_vae", "fit", "fit_image_flow", "fit_reverse_kl_cnf_ensemble",
           "fit_reverse_kl_ensemble", "fit_vae", "kl_to_target", "nll_loss", "run_experiment", "seed_everything",
           "sweep"]
