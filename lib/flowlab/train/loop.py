"""The one training loop every notebook uses.

``fit`` minimises ``loss_fn(batch)`` over ``steps`` optimiser steps with: seeding from an explicit
seed, a tqdm progress bar with its time estimate (quiet under ``CI``), a guard that stops with a clear
message at the first non-finite loss or gradient (naming the step), an optional checkpoint (loaded with
``weights_only=True``) that caches a finished run and resumes an interrupted one, and the loss history
as the result.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm  # a widget in Jupyter, text in a terminal

from flowlab.files import write_bytes_atomic
from flowlab.validate import (
    Count,
    Count0,
    Function,
    ItemsOf,
    MaybeCount,
    MaybeFunction,
    MaybePositive,
    Module,
    Positive,
    SeededRng,
    check_sequence,
    checked,
)


def progress_quiet() -> bool:
    """True when progress bars should stay quiet: under CI, or inside a notebook that the papermill
    driver runs headlessly (it sets ``FLOWLAB_QUIET``; the bars would only clutter saved outputs)."""
    return bool(os.environ.get("CI") or os.environ.get("FLOWLAB_QUIET"))


@checked
def sweep(runs: Iterable, desc: str, total: MaybeCount = None):
    """An outer progress bar over a multi-run sweep (variants x seeds); quiet like :func:`fit`'s."""
    runs = check_sequence(runs, "runs (an iterable)", "sweep", nonempty=False)
    return tqdm(list(runs), desc=desc, total=total or len(runs), disable=progress_quiet(), leave=False)


@checked
def seed_everything(seed: Count0) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch Generator seeded the same way for explicit draws."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass
class History:
    steps: list[int] = field(default_factory=list)
    losses: list[float] | list[list[float]] = field(default_factory=list)  # per step (per copy)
    evals: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    from_cache: bool = False
    seconds: float = 0.0  # wall time spent training, summed over the calls that resumed the run

    def to_dict(self) -> dict:
        return {"steps": self.steps, "losses": self.losses, "seconds": round(self.seconds, 1),
                "evals": {k: [list(p) for p in v] for k, v in self.evals.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(list(d["steps"]), list(d["losses"]), {k: [tuple(p) for p in v] for k, v in d["evals"].items()},
                   from_cache=True, seconds=d.get("seconds", 0.0))


class NonFiniteLossError(FloatingPointError):
    pass


def _batches(data) -> Callable[[int], object]:
    if callable(data):
        return data
    iterator = iter(data)

    def nxt(step):
        nonlocal iterator
        try:
            return next(iterator)
        except StopIteration:
            iterator = iter(data)
            return next(iterator)

    return nxt


def _restore(checkpoint: Path | None, key: str, model: nn.Module, opt, generators) -> tuple[int, History | None]:
    """``(step, history)`` of the run ``checkpoint`` holds for this ``key``, its weights loaded: mid-run,
    the optimiser's and the random states too, and ``step`` the last one saved; a finished run has
    ``step == -1``; ``(0, History())`` when the file holds no run of this ``key``."""
    if checkpoint is None or not checkpoint.is_file():
        return 0, History()
    state = torch.load(checkpoint, weights_only=True, map_location="cpu")
    if state.get("key") != key:
        return 0, History()
    model.load_state_dict(state["model"])
    history = History.from_dict(json.loads(state["history"]))
    if "optimizer" not in state:  # a finished run (or one cached before runs resumed)
        return -1, history
    if len(state["generators"]) != len(generators):
        raise ValueError(f"fit: {checkpoint} was saved mid-run with {len(state['generators'])} generators' "
                         f"states, but {len(generators)} were passed; resume with the generators it started with")
    opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    for g, g_state in zip(generators, state["generators"]):
        g.set_state(g_state)
    history.from_cache = False
    return state["step"], history


def _save(checkpoint: Path, key: str, model: nn.Module, history: History, opt=None, generators=(),
          step: int = 0) -> None:
    """The run so far: weights and history, and, mid-run, what resuming needs (the optimiser's state, the
    random states, the step)."""
    state = {"key": key, "model": model.state_dict(), "history": json.dumps(history.to_dict())}
    if opt is not None:
        state.update(step=step, optimizer=opt.state_dict(), torch_rng=torch.get_rng_state(),
                     generators=[g.get_state() for g in generators])
    buf = io.BytesIO()
    torch.save(state, buf)
    write_bytes_atomic(checkpoint, buf.getvalue())


def adam(params: list, lr: float) -> torch.optim.Adam:
    """Adam as :func:`fit` builds it: fused (one kernel over all the parameters) where torch has that
    kernel, which takes ~15% off a small model's step on a CPU (``make bench``); the same update rule."""
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float64)
                                 for p in params)
    return torch.optim.Adam(params, lr=lr, fused=fused or None)


def _guarded_step(model, loss, opt, params, grad_clip, desc: str, step: int, steps: int) -> None:
    """One optimiser step on ``loss`` (summed, when it is an ensemble's vector of losses) that stops at the
    first non-finite loss or gradient, naming the step."""
    if loss.dim() > 1 or loss.numel() == 0:
        raise ValueError(f"loss_fn must return a scalar or a vector of losses, got shape {list(loss.shape)}")
    if not torch.isfinite(loss).all():
        raise NonFiniteLossError(f"{desc}: the loss became {loss.tolist()} at step {step} of {steps}; "
                                 "lower the learning rate or check the inputs")
    opt.zero_grad(set_to_none=True)
    loss.sum().backward()
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    if bad:
        raise NonFiniteLossError(f"{desc}: non-finite gradient at step {step} of {steps} in {bad[:3]}")
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(params, grad_clip)
    opt.step()


def _evaluate(model: nn.Module, eval_fn, history: History, step: int) -> None:
    model.eval()
    with torch.no_grad():
        for name, value in eval_fn().items():
            history.evals.setdefault(name, []).append((step, float(value)))
    model.train()


@checked
def fit(
    model: Module,
    loss_fn: Function,
    data: Callable[[int], object] | Iterable,
    *,
    steps: Count,
    lr: Positive = 1e-3,
    optimizer: torch.optim.Optimizer | None = None,
    grad_clip: MaybePositive = None,
    eval_fn: MaybeFunction = None,
    eval_every: Count0 = 0,
    checkpoint: str | Path | None = None,
    checkpoint_every: Count0 = 0,
    generators: ItemsOf(SeededRng) = (),
    config: dict | None = None,
    desc: str = "train",
    progress: bool = True,
) -> History:
    """Train ``model`` on ``loss_fn(batch)`` for ``steps`` steps; return the loss history.

    ``data`` is a function ``step -> batch`` or an iterable (cycled). ``loss_fn`` returns a scalar, or
    an ensemble's vector of losses (summed for the step, each recorded). With ``checkpoint`` the final
    weights and history are cached there, keyed by ``config``: a later call with the same config loads
    them instead of training (a different config retrains and overwrites). With ``checkpoint_every``
    the run is saved every that many steps too, with the optimiser's state, torch's global random state
    and that of ``generators`` (the ones ``data`` and ``loss_fn`` draw from): a run killed mid-way and
    called again resumes at its last save and ends with the weights it would have had uninterrupted
    (``data`` must be a function of the step, or an iterable that restarts where it was).
    """
    if not callable(data) and not hasattr(data, "__iter__"):
        raise TypeError(f"fit: data must be a function step -> batch or an iterable, got {type(data).__name__}")
    key = hashlib.sha256(json.dumps({"steps": steps, "lr": lr, **(config or {})}, sort_keys=True,
                                    default=str).encode()).hexdigest()[:16]
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    params = [p for p in model.parameters() if p.requires_grad]
    opt = optimizer or adam(params, lr)
    done, history = _restore(checkpoint, key, model, opt, generators)
    if done < 0:
        return history
    next_batch, started, before = _batches(data), time.perf_counter(), history.seconds  # before: resumed runs' time
    model.train()
    bar = tqdm(range(done + 1, steps + 1), desc=desc, disable=not progress or progress_quiet(), leave=False,
               mininterval=1.0, initial=done, total=steps)
    for step in bar:
        loss = loss_fn(next_batch(step))
        _guarded_step(model, loss, opt, params, grad_clip, desc, step, steps)
        history.steps.append(step)
        history.losses.append(loss.tolist())
        history.seconds = before + time.perf_counter() - started
        if step % 25 == 0 or step == steps:
            bar.set_postfix(loss=f"{loss.mean().item():.4g}")  # per copy, for an ensemble
        if eval_fn is not None and eval_every and (step % eval_every == 0 or step == steps):
            _evaluate(model, eval_fn, history, step)
        if checkpoint is not None and checkpoint_every and step % checkpoint_every == 0 and step < steps:
            _save(checkpoint, key, model, history, opt, generators, step)
    bar.close()
    model.eval()
    if checkpoint is not None:
        _save(checkpoint, key, model, history)
    return history
