"""The one place inputs are checked: counts, sizes, tensors, arrays, shapes, dtypes and finiteness.

Every public function and layer of flowlab validates its arguments through these helpers, so every
bad input gets the same kind of message: who complained, what was wrong, what is expected.
"""
from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor


def _is_integer(value) -> bool:
    # Python and NumPy integers are counts; bools (Python's or NumPy's) and floats are not.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_count(value, name: str, who: str = "", *, minimum: int = 1) -> int:
    """``value`` as an ``int`` >= ``minimum``; bools and floats are refused (``True`` is not a count,
    nor is ``2.0``); NumPy integers are counts."""
    prefix = f"{who}: " if who else ""
    if not _is_integer(value):
        raise TypeError(f"{prefix}{name} must be an integer >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        kind = "positive integer" if minimum == 1 else f"integer >= {minimum}"
        raise ValueError(f"{prefix}{name} must be a {kind}, got {value!r}")
    return int(value)


def check_number(value, name: str, who: str = "", *, finite: bool = True) -> float:
    """A real number (Python or NumPy; not a bool, not a tensor), finite unless ``finite=False``."""
    prefix = f"{who}: " if who else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{prefix}{name} must be a real number, got {type(value).__name__} {value!r}")
    if finite and not math.isfinite(value):
        raise ValueError(f"{prefix}{name} must be a finite number, got {value!r}")
    return float(value)


def check_positive(value, name: str, who: str = "") -> float:
    """A finite real number > 0 (a step size, a time, a tolerance)."""
    prefix = f"{who}: " if who else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{prefix}{name} must be a positive number, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{prefix}{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_choice(value, choices: Sequence, name: str, who: str = ""):
    prefix = f"{who}: " if who else ""
    try:
        known = value in choices
    except TypeError:  # an unhashable value asked of a dict or set
        known = False
    if not known:
        raise ValueError(f"{prefix}unknown {name} {value!r}; expected one of {tuple(choices)}")
    return value


def check_event_shape(shape, who: str, *, allow_none: bool = False) -> tuple[int, ...]:
    """A non-empty event shape of positive integer sizes; an int ``D`` means ``(D,)``.

    Sizes that are not integers (``2.5``, ``True``) are a ``TypeError``, sizes <= 0 a ``ValueError``;
    with ``allow_none``, ``None`` stands for "any size" (e.g. the H, W of a channel mask)."""
    if _is_integer(shape):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"{who} needs an event shape (a tuple of positive integers), got {shape!r}") from None
    sizes = [s for s in shape if not (allow_none and s is None)]
    if any(not _is_integer(s) for s in sizes):
        raise TypeError(f"{who} needs an event shape of positive integers, got {shape}")
    if not shape or any(s <= 0 for s in sizes):
        raise ValueError(f"{who} needs a non-empty event shape of positive integers, got {shape}")
    return tuple(s if s is None else int(s) for s in shape)


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
    if x.device.type == "meta":
        raise ValueError(f"{who} got a tensor on the 'meta' device, which holds no values; "
                         "pass a tensor on a real device (cpu or cuda)")
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


def check_dtype(dtype, who: str, name: str = "dtype") -> torch.dtype:
    """A floating-point ``torch.dtype`` (what every density computation here runs in)."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{who}: {name} must be a floating-point torch.dtype such as torch.float64, got {dtype!r}")
    return dtype


def check_callable(fn, name: str, who: str):
    if not callable(fn):
        raise TypeError(f"{who}: {name} must be callable, got {type(fn).__name__}")
    return fn


def check_module(module, name: str, who: str):
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{who}: {name} must be a torch.nn.Module, got {type(module).__name__}")
    return module


def check_generator(generator, who: str, *, optional: bool = True):
    """A ``torch.Generator`` (or ``None`` when ``optional``: the global RNG)."""
    if generator is None and optional:
        return None
    if not isinstance(generator, torch.Generator):
        need = "a torch.Generator or None" if optional else \
            "an explicit torch.Generator as generator= (every draw is seeded)"
        raise TypeError(f"{who}: pass {need}, got {type(generator).__name__}")
    return generator


def check_path(path, who: str) -> Path:
    """A filesystem path (``str`` or ``os.PathLike``) as a ``Path``."""
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{who} expects a path (str or pathlib.Path), got {type(path).__name__} {path!r}")
    return Path(path)


def check_invertible(logabsdet: Tensor, who: str, what: str = "weight matrix", matrix: Tensor | None = None) -> Tensor:
    """``log|det|`` of a layer's matrix must be finite: a singular matrix (``-inf``) would make every
    log-density ``-inf`` silently, and its inverse does not exist. With ``matrix``, a numerically
    singular one (smallest singular value below ``C * eps`` times the largest) is refused too: rounding
    then gives a finite but meaningless ``log|det|`` (about -19 for a float32 3x3 with two equal columns)."""
    if _under_vmap(logabsdet) or logabsdet.device.type == "meta":
        return logabsdet
    singular = False
    if matrix is not None and not _under_vmap(matrix) and matrix.device.type != "meta":
        s = torch.linalg.svdvals(matrix.detach())
        singular = bool(s.min() <= s.max() * matrix.shape[-1] * torch.finfo(matrix.dtype).eps)
    if singular or not bool(torch.isfinite(logabsdet).all()):
        raise ValueError(f"{who}: the {what} is singular or not finite (log|det| = "
                         f"{logabsdet.detach().flatten()[0].item()}); the layer is only a bijection for an "
                         "invertible matrix: re-initialise it "
                         "(or lower the learning rate if training made it singular)")
    return logabsdet


def check_pixels(x, levels: int, who: str) -> Tensor:
    """A non-empty tensor of integer-valued pixels in ``0 .. levels - 1`` (integer or float dtype)."""
    check_count(levels, "levels", who, minimum=2)
    if not isinstance(x, Tensor):
        raise TypeError(f"{who} expects a tensor of integer pixels, got {type(x).__name__}")
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{who} expects integer pixels 0 .. {levels - 1}, got dtype {x.dtype}")
    if x.device.type == "meta":
        raise ValueError(f"{who} got a tensor on the 'meta' device, which holds no values; "
                         "pass a tensor on a real device (cpu or cuda)")
    if x.numel() == 0 or (x.dim() > 0 and x.shape[0] == 0):
        raise ValueError(f"{who} got an empty batch (shape {list(x.shape)}); pass at least one image")
    if x.is_floating_point():
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{who} got non-finite pixel values (NaN or inf)")
        if not torch.equal(x, x.round()):
            raise ValueError(f"{who} expects integer-valued pixels (0 .. levels-1), got fractional values")
    if x.min() < 0 or x.max() > levels - 1:
        raise ValueError(f"{who}: pixel values must lie in [0, {levels - 1}], "
                         f"got [{x.min().item()}, {x.max().item()}]")
    return x


def check_array(x, name: str, who: str) -> np.ndarray:
    """A finite float64 array from a tensor, array or sequence."""
    if isinstance(x, Tensor):
        x = x.detach().cpu().double().numpy()
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{who}: {name} must be an array of numbers, got {type(x).__name__}")
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: {name} must be an array of numbers, got {type(x).__name__}") from None
    if a.size == 0:
        raise ValueError(f"{who}: {name} is empty; pass at least one value")
    if not np.isfinite(a).all():
        raise ValueError(f"{who}: {name} has non-finite values (NaN or inf)")
    return a


def check_probabilities(p, who: str, name: str = "probs") -> np.ndarray:
    """A probability vector (or a batch of them, last axis): non-negative, summing to 1."""
    a = check_array(p, name, who)
    if (a < 0).any():
        raise ValueError(f"{who}: {name} must be non-negative, got min {a.min()}")
    sums = a.sum(axis=-1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        raise ValueError(f"{who}: {name} must sum to 1 along the last axis, got sums in "
                         f"[{sums.min():.6g}, {sums.max():.6g}]")
    return a


def check_symbols(x, alphabet: int, who: str, name: str = "symbols") -> np.ndarray:
    """Integer symbols in 0 .. alphabet - 1 (integer dtype, or integer-valued floats)."""
    if isinstance(x, Tensor):
        if x.dtype == torch.bool or x.is_complex():
            raise TypeError(f"{who}: {name} must be integers 0 .. {alphabet - 1}, got dtype {x.dtype}")
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise TypeError(f"{who}: {name} must be integers 0 .. {alphabet - 1}, got dtype {a.dtype}")
    if a.size == 0:
        raise ValueError(f"{who}: {name} is empty; pass at least one symbol")
    if np.issubdtype(a.dtype, np.floating) and not (np.isfinite(a).all() and np.array_equal(a, np.round(a))):
        raise ValueError(f"{who}: {name} must be integer-valued, got fractional or non-finite values")
    if a.min() < 0 or a.max() > alphabet - 1:
        raise ValueError(f"{who}: {name} must lie in 0 .. {alphabet - 1}, got [{a.min()}, {a.max()}]")
    return a.astype(np.int32)


def first_parameter(module) -> Tensor | None:
    """The first parameter or floating buffer of ``module`` (what fixes its dtype and device)."""
    for p in module.parameters():
        return p
    for b in module.buffers():
        if b.is_floating_point():
            return b
    return None


def check_counts(who: str, *, minimum: int = 1, **counts) -> tuple[int, ...]:
    """:func:`check_count` of each keyword argument (its name is the count's name), in order: one call
    for a constructor's sizes, ``check_counts("MLP", in_features=a, hidden=h)``; returns them as ``int``."""
    return tuple(check_count(value, name, who, minimum=minimum) for name, value in counts.items())


def check_sequence(values, name: str, who: str, *, nonempty: bool = True) -> tuple:
    """``values`` (a list, tuple, range, generator...; not a string or a single number) as a tuple,
    with at least one item unless ``nonempty=False``."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{who}: {name} must be a sequence, got {type(values).__name__} {values!r}")
    values = tuple(values)
    if nonempty and not values:
        raise ValueError(f"{who}: {name} is empty; pass at least one")
    return values


def check_square(A, who: str, *, batched: bool = False) -> Tensor:
    """``check_tensor`` plus: a non-empty square matrix ``[m, m]`` (a batch ``[..., m, m]`` when ``batched``)."""
    check_tensor(A, who, nonempty=False)
    if A.dim() < 2 or (A.dim() > 2 and not batched) or A.shape[-1] != A.shape[-2] or A.numel() == 0:
        want = "[..., m, m]" if batched else "[m, m]"
        raise ValueError(f"{who} expects a non-empty square matrix {want}, got shape {list(A.shape)}")
    return A


def check_samples(x, who: str, minimum: int) -> Tensor:
    """``check_tensor`` plus: i.i.d. draws along the first dimension, ``[n, *batch]`` with ``n >= minimum``."""
    check_tensor(x, who, nonempty=False)
    if x.dim() < 1 or x.shape[0] < minimum:
        raise ValueError(f"{who} needs at least {minimum} samples along the first dimension, got shape {list(x.shape)}")
    return x


def check_fraction(value, name: str, who: str, *, high: float = 1.0, zero: bool = False) -> float:
    """A real number in ``(0, high)``, or ``[0, high)`` with ``zero``: a probability, a rate, a Lipschitz bound."""
    x = check_number(value, name, who)
    if not ((x >= 0 if zero else x > 0) and x < high):
        raise ValueError(f"{who}: {name} must lie in {'[' if zero else '('}0, {high:g}), got {value!r}")
    return x


def check_instance(value, cls: type | tuple[type, ...], who: str, what: str):
    """``value`` when it is an instance of ``cls``; a ``TypeError`` saying ``what`` it must be otherwise
    (``check_instance(vae, VAE, "vae_codec", "vae must be a flowlab.models VAE")``)."""
    if not isinstance(value, cls):
        raise TypeError(f"{who}: {what}, got {type(value).__name__}")
    return value
