"""The seeds of one image-flow architecture trained together, as one ``torch.func.vmap`` ensemble.

A sweep's runs of one variant (C11's seeds of conv + affine, say) differ only in their seeds, so
their parameters stack along a new first axis and one vmapped call evaluates every copy's loss:
Python and dispatch overhead, which dominate small models on a CPU, are paid once per step instead of
once per copy. Each copy draws its batches, dequantization noise and test set from its own generator in
the order :func:`~flowlab.train.fit_image_flow` does, and the copies' losses are summed: they share no
parameters and Adam's update is elementwise, so each copy takes the steps it would take alone, up to
the rounding of vmap's batched kernels. ``make bench`` times it against training the copies one by one.
"""
from __future__ import annotations

import copy
import math
from dataclasses import replace

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from flowlab.data.dequantize import dequantize
from flowlab.flows.model import FlowModel
from flowlab.flows.multiscale import initialize_actnorm
from flowlab.measure.bits import bits_per_dim, mean_bits_per_dim
from flowlab.train.loop import History, fit
from flowlab.train.reverse_kl import _StackedParameters
from flowlab.validate import Count, Count0, IsA, ItemsOf, Positive, SeededRng, check_pixels, checked

__all__ = ["fit_image_flow_ensemble"]


class _CallAs(nn.Module):
    """``forward`` as one of the model's methods: what ``functional_call`` and DDP run."""

    def __init__(self, model: nn.Module, method: str):
        super().__init__()
        self.model, self.method = model, method

    def forward(self, *args, **kwargs):
        return getattr(self.model, self.method)(*args, **kwargs)


def _split_buffers(models: list) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Buffers that differ between copies (stacked, one per copy) and those all copies share (ActNorm's
    ``initialized`` flag, fixed masks): a shared one stays a plain tensor, so Python may branch on it."""
    named = [dict(m.named_buffers()) for m in models]
    shared = {n: b for n, b in named[0].items() if all(torch.equal(b, other[n]) for other in named[1:])}
    return {n: torch.stack([other[n] for other in named]) for n in named[0] if n not in shared}, shared


@checked
def fit_image_flow_ensemble(models: ItemsOf(IsA(FlowModel, "a FlowModel")), train: Tensor, test: Tensor, levels: int,
                            *, steps: Count, batch_size: Count, lr: Positive, generators: ItemsOf(SeededRng),
                            eval_every: Count0 = 0, device: str = "cpu", desc: str = "ensemble",
                            progress: bool = True, checkpoint=None, checkpoint_every: Count0 = 0,
                            config: dict | None = None) -> list[tuple[History, float]]:
    """:func:`~flowlab.train.fit_image_flow` for copies of one architecture at once (module docstring):
    copy ``i`` is ``models[i]`` trained on draws from ``generators[i]``; returns its ``(history, test_bpd)``
    for each, the trained weights loaded back into ``models``. No gradient clipping: a clip of the summed
    loss's gradient would couple the copies. ``checkpoint`` and ``checkpoint_every`` are
    :func:`~flowlab.train.fit`'s: the stacked copies are cached there when done and resume mid-run, keyed
    by the settings and ``config`` (name there what else defines the run: the architecture, the seeds)."""
    who = "fit_image_flow_ensemble"
    check_pixels(train, levels, f"{who} (its train images)")
    check_pixels(test, levels, f"{who} (its test images)")
    if train.shape[1:] != test.shape[1:] or len(models) != len(generators):
        raise ValueError(f"{who}: train and test images must share a shape, got {[*train.shape]}, {[*test.shape]}, "
                         f"and each model needs its generator, got {len(models)} models, {len(generators)} generators")
    dims = math.prod(train.shape[1:])

    def draw(g):
        return dequantize(train[torch.randint(0, len(train), (batch_size,), generator=g)], levels, g).to(device)

    tests = [dequantize(test, levels, g).to(device) for g in generators]  # fit_image_flow's order: test, init, steps
    for model, g in zip(models, generators):
        initialize_actnorm(model.to(device), draw(g))
    wrapped = [_CallAs(m, "log_prob") for m in models]
    params, _ = stack_module_state(wrapped)
    stacked_buffers, shared = _split_buffers(wrapped)
    skeleton = copy.deepcopy(wrapped[0]).to("meta")
    stacked = _StackedParameters(params)

    def copy_loss(p, b, y):
        return bits_per_dim(functional_call(skeleton, {**p, **b, **shared}, (y,)), dims, levels).mean()

    def loss_fn(_):
        return vmap(copy_loss)(stacked.as_dict(), stacked_buffers, torch.stack([draw(g) for g in generators]))

    def copy_state(i: int) -> dict[str, Tensor]:
        return {**{n: v[i] for n, v in stacked.as_dict().items()}, **{n: v[i] for n, v in stacked_buffers.items()},
                **shared}

    def test_bpds():
        return {f"test_bpd/{i}": mean_bits_per_dim(lambda y, i=i: functional_call(skeleton, copy_state(i), (y,)),
                                                   tests[i], levels) for i in range(len(models))}

    history = fit(stacked, loss_fn, lambda step: step, steps=steps, lr=lr, desc=desc, progress=progress,
                  eval_fn=test_bpds, eval_every=eval_every or steps, checkpoint=checkpoint,
                  checkpoint_every=checkpoint_every, generators=generators,
                  config={"levels": levels, "batch_size": batch_size, "eval_every": eval_every, "copies": len(models),
                          **(config or {})})
    out = []
    with torch.no_grad():
        for i, model in enumerate(wrapped):
            own = {**dict(model.named_parameters()), **dict(model.named_buffers())}  # non-persistent ones too
            for name, value in copy_state(i).items():
                own[name].copy_(value)
            evals = {"test_bpd": history.evals[f"test_bpd/{i}"]}
            out.append((replace(history, losses=[v[i] for v in history.losses], evals=evals), evals["test_bpd"][-1][1]))
    return out
