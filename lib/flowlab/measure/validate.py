"""The one place inputs are checked: counts, sizes, tensors, shapes, dtypes and finiteness.

Every public function and layer of flowlab validates its arguments through these helpers, so every
bad input gets the same kind of message: who complained, what was wrong, what is expected.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor


def check_count(value, name: str, who: str = "", *, minimum: int = 1) -> int:
    """``value`` as an ``int`` >= ``minimum``; bools and floats are refused (``True`` is not a count)."""
    prefix = f"{who}: " if who else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{prefix}{name} must be an integer >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        kind = "positive integer" if minimum == 1 else f"integer >= {minimum}"
        raise ValueError(f"{prefix}{name} must be a {kind}, got {value!r}")
    return value


def check_positive(value, name: str, who: str = "") -> float:
    """A finite real number > 0 (a step size, a time, a tolerance)."""
    prefix = f"{who}: " if who else ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{prefix}{name} must be a positive number, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{prefix}{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_choice(value, choices: Sequence, name: str, who: str = ""):
    prefix = f"{who}: " if who else ""
    if value not in choices:
        raise ValueError(f"{prefix}unknown {name} {value!r}; expected one of {tuple(choices)}")
    return value


def check_event_shape(shape, who: str) -> tuple[int, ...]:
    """A non-empty event shape of positive integer sizes; an int ``D`` means ``(D,)``."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"{who} needs an event shape (a tuple of positive integers), got {shape!r}") from None
    if not shape or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in shape):
        raise ValueError(f"{who} needs a non-empty event shape of positive integers, got {shape}")
    return shape


def check_tensor(x, who: str, *, finite: bool = True, nonempty: bool = True,
                 like: Tensor | None = None) -> Tensor:
    """A floating tensor with at least one sample, no NaN/inf, and ``like``'s dtype and device."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{who} expects a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{who} expects a floating-point tensor, got dtype {x.dtype}; convert it with .float()")
    if like is not None:
        if x.dtype != like.dtype:
            raise TypeError(f"{who} expects dtype {like.dtype} (its parameters' dtype), got {x.dtype}; "
                            f"convert the input with .to({like.dtype}) or the layer with .to(dtype)")
        if x.device != like.device:
            raise ValueError(f"{who} expects a tensor on {like.device} (its parameters' device), got {x.device}")
    if _under_vmap(x):
        return x  # a value-dependent check cannot run inside torch.func.vmap (nor is it needed there)
    if nonempty and x.dim() > 0 and x.shape[0] == 0:
        raise ValueError(f"{who} got an empty batch (shape {list(x.shape)}); pass at least one sample")
    if finite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{who} got non-finite values (NaN or inf) in its input")
    return x


def _under_vmap(x: Tensor) -> bool:
    try:
        return bool(torch._C._functorch.is_batchedtensor(x))
    except AttributeError:  # pragma: no cover - older torch
        return False


def check_shape(x, event_shape: Sequence[int | None], who: str, *, like: Tensor | None = None,
                finite: bool = True) -> Tensor:
    """``check_tensor`` plus: ``x`` is a batch ``[B, *event_shape]`` (``None`` accepts any size)."""
    check_tensor(x, who, finite=finite, like=like)
    expected = tuple(event_shape)
    want = "[batch, " + ", ".join("*" if s is None else str(s) for s in expected) + "]"
    if x.dim() != len(expected) + 1 or any(
        s is not None and s != actual for s, actual in zip(expected, x.shape[1:])
    ):
        raise ValueError(f"{who} expects input of shape {want}, got {list(x.shape)}")
    return x


def first_parameter(module) -> Tensor | None:
    """The first parameter or floating buffer of ``module`` (what fixes its dtype and device)."""
    for p in module.parameters():
        return p
    for b in module.buffers():
        if b.is_floating_point():
            return b
    return None
