"""Input checks of the coding package.

``coding`` is a leaf of the library (it imports numpy, torch and constriction only, never another
flowlab layer), so it cannot reach ``flowlab.measure.validate``; these few checks give the same kind
of message: who complained, what was wrong, what is expected.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch


def count(value, name: str, who: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{who}: {name} must be an integer >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{who}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def positive(value, name: str, who: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{who}: {name} must be a positive number, got {type(value).__name__} {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{who}: {name} must be a positive finite number, got {value!r}")
    return float(value)


def as_array(x, name: str, who: str) -> np.ndarray:
    """A finite float64 array from a tensor, array or sequence."""
    if isinstance(x, torch.Tensor):
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


def probabilities(p, who: str, name: str = "probs") -> np.ndarray:
    """A probability vector (or a batch of them, last axis): non-negative, summing to 1."""
    a = as_array(p, name, who)
    if (a < 0).any():
        raise ValueError(f"{who}: {name} must be non-negative, got min {a.min()}")
    sums = a.sum(axis=-1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        raise ValueError(f"{who}: {name} must sum to 1 along the last axis, got sums in "
                         f"[{sums.min():.6g}, {sums.max():.6g}]")
    return a


def symbols(x, alphabet: int, who: str, name: str = "symbols") -> np.ndarray:
    """Integer symbols in 0 .. alphabet - 1 (integer dtype, or integer-valued floats)."""
    if isinstance(x, torch.Tensor):
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


def callable_(fn, name: str, who: str):
    if not callable(fn):
        raise TypeError(f"{who}: {name} must be callable, got {type(fn).__name__}")
    return fn
