"""Fitting a density model to integer images by maximum likelihood, in bits/dim."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from flowlab.data.dequantize import dequantize
from flowlab.flows.model import FlowModel
from flowlab.flows.multiscale import initialize_actnorm
from flowlab.measure.bits import bits_per_dim, mean_bits_per_dim
from flowlab.train.loop import fit
from flowlab.validate import Count, IsA, SeededRng, check_pixels, checked


@checked
def fit_image_flow(model: IsA(FlowModel, "a FlowModel"), train: Tensor, test: Tensor, levels: int, *, steps: int,
                   batch_size: Count, lr: float, generator: SeededRng, eval_every: int = 0,
                   device: str = "cpu", grad_clip: float | None = None, desc: str = "train",
                   progress: bool = True, checkpoint=None, checkpoint_every: int = 0):
    """Maximum likelihood on dequantized integer images; returns ``(history, test_bpd)``.

    The loss is bits/dim of the training batch (:func:`flowlab.measure.bits_per_dim`); ActNorm is
    initialised on the first batch. The test set is dequantized once with ``generator`` so that
    every evaluation (``history.evals["test_bpd"]``, every ``eval_every`` steps) sees the same data.
    ``steps``, ``lr``, ``grad_clip``, ``eval_every``, ``checkpoint`` and ``checkpoint_every`` are
    :func:`~flowlab.train.fit`'s, which checks them (a run resumes with ``generator``'s state as it was).
    """
    check_pixels(train, levels, "fit_image_flow (its train images)")
    check_pixels(test, levels, "fit_image_flow (its test images)")
    if train.shape[1:] != test.shape[1:]:
        raise ValueError(f"fit_image_flow: train and test images differ in shape: {[*train.shape]}, {[*test.shape]}")
    dims = math.prod(train.shape[1:])
    model.to(device)
    test_y = dequantize(test, levels, generator).to(device)

    def batch(step):
        idx = torch.randint(0, len(train), (batch_size,), generator=generator)
        return dequantize(train[idx], levels, generator).to(device)

    def test_bpd():
        return mean_bits_per_dim(model.log_prob, test_y, levels)

    initialize_actnorm(model, batch(0))
    history = fit(model, lambda y: bits_per_dim(model.log_prob(y), dims, levels).mean(), batch,
                  steps=steps, lr=lr, grad_clip=grad_clip, desc=desc, progress=progress,
                  eval_fn=lambda: {"test_bpd": test_bpd()}, eval_every=eval_every or steps,
                  checkpoint=checkpoint, checkpoint_every=checkpoint_every, generators=[generator],
                  config={"levels": levels, "batch_size": batch_size, "eval_every": eval_every, "clip": grad_clip})
    return history, history.evals["test_bpd"][-1][1]
