"""Training objectives for :func:`flowlab.train.fit`: functions ``batch -> scalar loss`` (NLL, the
ELBO with KL warm-up)."""
from __future__ import annotations

from typing import Callable

from torch import Tensor, nn

from flowlab.models.vae import VAE
from flowlab.validate import Count, Count0, IsA, Rng, checked


def nll_loss(model: nn.Module) -> Callable[[Tensor], Tensor]:
    """Mean negative log-likelihood of a batch under ``model``."""
    if not callable(getattr(model, "log_prob", None)):
        raise TypeError(f"nll_loss: model must be a density model with a log_prob method, got {type(model).__name__}")
    return lambda x: -model.log_prob(x).mean()


def kl_warmup(step: int, warmup_steps: int) -> float:
    """KL warm-up weight :math:`\\beta_t = \\min(1, t / T)` at step ``t`` (1-based) of a ``T``-step
    warm-up; 1 throughout when ``warmup_steps`` is 0 (Bowman et al. 2016; Sønderby et al. 2016).
    :func:`elbo_loss` checks ``warmup_steps``."""
    return 1.0 if warmup_steps == 0 else min(1.0, step / warmup_steps)


@checked
def elbo_loss(vae: IsA(VAE, "a flowlab.models VAE"), *, warmup_steps: Count0 = 0, num_samples: Count = 1,
              generator: Rng = None, betas: list | None = None) -> Callable[[Tensor], Tensor]:
    r"""Mean negative ELBO of a batch of images under ``vae`` (a :class:`flowlab.models.VAE`), with KL
    warm-up. The closure takes ``(step, images)``, as a data function ``lambda step: (step, images)`` hands
    it to :func:`~flowlab.train.fit`, and at step :math:`t` weighs the KL part by :func:`kl_warmup`
    :math:`(t, T)`: the objective anneals from reconstruction alone to the bound itself, and a run resumed
    from a checkpoint resumes its warm-up too. Draws come from ``generator``; each step's :math:`\beta` is
    appended to ``betas``."""

    def loss(batch: tuple[int, Tensor]) -> Tensor:
        if not (isinstance(batch, tuple) and len(batch) == 2 and isinstance(batch[0], int)):
            raise TypeError(f"elbo_loss: a batch is (step, images), as the data function lambda step: (step, "
                            f"images) gives it to fit; got {type(batch).__name__}")
        step, x = batch
        beta = kl_warmup(step, warmup_steps)
        if betas is not None:
            betas.append(beta)
        return -vae.elbo(x, num_samples, beta, generator).mean()

    return loss
