"""Training objectives for :func:`flowlab.train.fit`: functions ``batch -> scalar loss``."""
from __future__ import annotations

from typing import Callable

from torch import Tensor, nn


def nll_loss(model: nn.Module, nfe_of: nn.Module | None = None,
             nfe_log: list | None = None) -> Callable[[Tensor], Tensor]:
    """Mean negative log-likelihood of a batch under ``model``. With ``nfe_of`` (a CNF) and
    ``nfe_log``, each step appends that CNF's forward-solve NFE: the cost curve of training."""
    if not callable(getattr(model, "log_prob", None)):
        raise TypeError(f"nll_loss expects a density model with log_prob(x), got {type(model).__name__}")
    if (nfe_of is None) != (nfe_log is None):
        raise ValueError("nll_loss: give both nfe_of (the CNF) and nfe_log (a list), or neither")

    def loss(x: Tensor) -> Tensor:
        value = -model.log_prob(x).mean()
        if nfe_log is not None:
            nfe_log.append(nfe_of.nfe)
        return value

    return loss
