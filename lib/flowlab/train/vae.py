r"""Training a VAE on images with the one loop: random minibatches, optional dynamic binarization, the
ELBO with KL warm-up (:func:`flowlab.train.elbo_loss`), and the test numbers the lectures' tables
report (-ELBO and the importance-sampled NLL, in nats and in bits/dim).

Minibatches are drawn with replacement from ``images`` by ``generator``; with ``binarize_levels``
each batch is binarized afresh, :math:`b \sim \mathrm{Bernoulli}(x / (K - 1))` (dynamic binarization,
as in van den Berg et al.'s Omniglot runs), so a model never sees one fixed binarization of the data.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from flowlab.data.binary import binarize
from flowlab.models.vae import VAE
from flowlab.train.loop import History, fit
from flowlab.train.objectives import elbo_loss
from flowlab.validate import AtLeast, Count, IsA, SeededRng, check_pixels, check_tensor, checked

VAEArg = IsA(VAE, "a flowlab.models VAE")


@checked
def fit_vae(vae: VAEArg, images: Tensor, *, steps: int, generator: SeededRng, batch_size: Count = 100,
            lr: float = 1e-3, warmup_steps: int = 0, binarize_levels: AtLeast(2, optional=True) = None,
            optimizer: torch.optim.Optimizer | None = None, initialize: bool = True,
            checkpoint: str | Path | None = None, checkpoint_every: int = 0, config: dict | None = None,
            desc: str = "vae") -> History:
    """Maximise the (warmed-up) ELBO of ``vae`` on integer ``images`` [N, C, H, W] for ``steps`` steps;
    with ``initialize`` the decoder starts at the images' pixel marginals (``VAE.initialize_decoder``).
    ``steps``, ``lr``, ``optimizer``, ``checkpoint``, ``checkpoint_every`` and ``config`` are
    :func:`~flowlab.train.fit`'s, which checks them (a run stopped mid-way resumes at its last
    checkpoint, ``generator``'s state and the warm-up with it); :func:`~flowlab.train.elbo_loss` checks
    ``warmup_steps``."""
    check_pixels(images, binarize_levels or vae.likelihood.levels, "fit_vae")
    n = images.shape[0]

    def batch(step: int) -> tuple[int, Tensor]:
        x = images[torch.randint(0, n, (batch_size,), generator=generator)]
        return step, (x if binarize_levels is None else binarize(x, binarize_levels, generator))

    if initialize:
        vae.initialize_decoder(images, binarize_levels)
    loss = elbo_loss(vae, warmup_steps=warmup_steps, generator=generator)
    return fit(vae, loss, batch, steps=steps, lr=lr, optimizer=optimizer, checkpoint=checkpoint,
               checkpoint_every=checkpoint_every, generators=(generator,), config=config, desc=desc)


@torch.no_grad()
@checked
def evaluate_vae(vae: VAEArg, images: Tensor, *, generator: SeededRng, elbo_samples: Count = 100,
                 importance_samples: Count = 5000, batch: Count = 1000) -> dict[str, float]:
    """Mean test -ELBO (``elbo_samples`` draws per image) and importance-sampled NLL
    (``importance_samples`` draws per image), in nats and bits/dim."""
    who = "evaluate_vae"
    check_pixels(images, vae.likelihood.levels, who)
    per = max(1, batch // elbo_samples)
    elbo = torch.cat([vae.elbo(part, elbo_samples, generator=generator) for part in images.split(per)])
    log_lik = vae.importance_log_likelihood(images, importance_samples, batch, generator)
    check_tensor(elbo, f"{who} (the ELBO of the images)")
    return {"neg_elbo": -elbo.mean().item(), "nll": -log_lik.mean().item(),
            "neg_elbo_bpd": float(vae.bits_per_dim(elbo.mean()).item()),
            "nll_bpd": float(vae.bits_per_dim(log_lik.mean()).item())}
