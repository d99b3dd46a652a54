"""The one place inputs are checked: counts, sizes, tensors, arrays, shapes, dtypes and finiteness.

Every public function and layer of flowlab validates its arguments through these helpers, so every
bad input gets the same kind of message: who complained, what was wrong, what is expected.

Most arguments declare their contract in the signature, and :func:`checked` enforces it at the call,
once, before the body runs (the body trusts what it gets)::

    @checked
    def sample_toy(name: OneOf(TOY_DENSITIES), n: Count, generator: Rng = None): ...

An annotation ``Annotated[T, Check(...)]`` (``Count``, ``Positive``, ``Rng``, ``OneOf(...)``...) is both
the documentation of the argument and its check; a complaint names the function (the class, for an
``__init__``) and the argument. :func:`Shape` relates the tensors of one call by named sizes
(``q_mean: Shape("B k"), p_cov: Shape("k k")``); other checks that relate several arguments stay in the body.
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Sequence

import numpy as np
import torch
from torch import Tensor


def _at(who: str) -> str:
    return f"{who}: " if who else ""


def _is_integer(value) -> bool:
    # Python and NumPy integers are counts; bools (Python's or NumPy's) and floats are not.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_count(value, name: str, who: str = "", *, minimum: int = 1) -> int:
    """``value`` as an ``int`` >= ``minimum``; bools and floats are refused (``True`` is not a count,
    nor is ``2.0``); NumPy integers are counts."""
    if not _is_integer(value):
        raise TypeError(f"{_at(who)}{name} must be an integer >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        kind = "positive integer" if minimum == 1 else f"integer >= {minimum}"
        raise ValueError(f"{_at(who)}{name} must be a {kind}, got {value!r}")
    return int(value)


def check_number(value, name: str, who: str = "", *, finite: bool = True, positive: bool = False) -> float:
    """A real number (Python or NumPy; not a bool, not a tensor), finite unless ``finite=False``, and
    > 0 (and finite) with ``positive``: a step size, a time, a tolerance."""
    kind = "positive " if positive else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_at(who)}{name} must be a {kind or 'real '}number, got {type(value).__name__} {value!r}")
    if (finite or positive) and not math.isfinite(value) or positive and not value > 0:
        raise ValueError(f"{_at(who)}{name} must be a {kind}finite number, got {value!r}")
    return float(value)


def check_positive(value, name: str, who: str = "") -> float:
    """A finite real number > 0."""
    return check_number(value, name, who, positive=True)


def check_fraction(value, name: str, who: str, *, high: float = 1.0, zero: bool = False) -> float:
    """A real number in ``(0, high)``, or ``[0, high)`` with ``zero``: a probability, a rate, a Lipschitz bound."""
    x = check_number(value, name, who)
    if not ((x >= 0 if zero else x > 0) and x < high):
        raise ValueError(f"{who}: {name} must lie in {'[' if zero else '('}0, {high:g}), got {value!r}")
    return x


def check_choice(value, choices: Sequence, name: str, who: str = ""):
    """One of ``choices``, compared by type too: True is not the choice 1, nor is 1.0 (a str matches a str)."""
    if not any((type(value) is type(c) or isinstance(value, str)) and value == c for c in choices):
        raise ValueError(f"{_at(who)}unknown {name} {value!r}; expected one of {tuple(choices)}")
    return value


def check_instance(value, cls: type | tuple[type, ...], who: str, what: str):
    """``value`` when it is an instance of ``cls``; a ``TypeError`` saying ``what`` it must be otherwise
    (``check_instance(vae, VAE, "vae_codec", "vae must be a flowlab.models VAE")``)."""
    if not isinstance(value, cls):
        raise TypeError(f"{who}: {what}, got {type(value).__name__}")
    return value


def check_path(path, who: str) -> Path:
    """A filesystem path (``str`` or ``os.PathLike``) as a ``Path``."""
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{who} expects a path (str or pathlib.Path), got {type(path).__name__} {path!r}")
    return Path(path)


def check_sequence(values, name: str, who: str, *, nonempty: bool = True) -> tuple:
    """``values`` (a list, tuple, range, generator...; not a string or a single number) as a tuple,
    with at least one item unless ``nonempty=False``."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{who}: {name} must be a sequence, got {type(values).__name__} {values!r}")
    if nonempty and not (values := tuple(values)):
        raise ValueError(f"{who}: {name} is empty; pass at least one")
    return tuple(values)


def check_event_shape(shape, who: str, *, allow_none: bool = False) -> tuple[int, ...]:
    """A non-empty event shape of positive integer sizes; an int ``D`` means ``(D,)``.

    Sizes that are not integers (``2.5``, ``True``) are a ``TypeError``, sizes <= 0 a ``ValueError``;
    with ``allow_none``, ``None`` stands for "any size" (e.g. the H, W of a channel mask)."""
    shape = (shape,) if _is_integer(shape) else shape
    sizes = [s for s in shape if not (allow_none and s is None)] if isinstance(shape, (tuple, list)) else [None]
    if any(not _is_integer(s) for s in sizes):
        raise TypeError(f"{who} needs an event shape (a tuple of positive integers), got {shape!r}")
    if not shape or any(s <= 0 for s in sizes):
        raise ValueError(f"{who} needs a non-empty event shape of positive integers, got {tuple(shape)}")
    return tuple(s if s is None else int(s) for s in shape)


def _refuse_meta(x: Tensor, who: str) -> None:
    if x.device.type == "meta":
        raise ValueError(f"{who} got a tensor on the 'meta' device, which holds no values; pass a cpu or cuda tensor")


def check_tensor(x, who: str, *, finite: bool = True, nonempty: bool = True,
                 like: Tensor | None = None) -> Tensor:
    """A floating tensor with at least one sample, no NaN/inf, and ``like``'s dtype and device."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        got = f"dtype {x.dtype}; convert it with .float()" if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{who} expects a floating-point torch.Tensor, got {got}")
    if like is not None and x.dtype != like.dtype:
        raise TypeError(f"{who} expects dtype {like.dtype} (its parameters' dtype), got {x.dtype}; "
                        f"convert the input with .to({like.dtype}) or the layer with .to(dtype)")
    if like is not None and x.device != like.device:
        raise ValueError(f"{who} expects a tensor on {like.device} (its parameters' device), got {x.device}")
    if not torch._C._functorch.is_batchedtensor(x):
        _refuse_meta(x, who)
        if nonempty and x.dim() > 0 and x.shape[0] == 0:
            raise ValueError(f"{who} got an empty batch (shape {list(x.shape)}); pass at least one sample")
        if finite and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{who} got non-finite values (NaN or inf) in its input")
    return x


def check_shape(x, event_shape: Sequence[int | None], who: str, *, like: Tensor | None = None,
                finite: bool = True) -> Tensor:
    """``check_tensor`` plus: ``x`` is a batch ``[B, *event_shape]`` (a ``None`` size, or shape, accepts any)."""
    check_tensor(x, who, finite=finite, like=like)
    if event_shape is None:
        return x
    want = tuple(event_shape)
    if x.dim() != len(want) + 1 or any(s not in (None, actual) for s, actual in zip(want, x.shape[1:])):
        sizes = ", ".join("*" if s is None else str(s) for s in want)
        raise ValueError(f"{who} expects input of shape [batch, {sizes}], got {list(x.shape)}")
    return x


def check_square(A, who: str, *, batched: bool = False) -> Tensor:
    """``check_tensor`` plus: a non-empty square matrix ``[m, m]`` (a batch ``[..., m, m]`` when ``batched``)."""
    check_tensor(A, who, nonempty=False)
    if A.dim() < 2 or (A.dim() > 2 and not batched) or A.shape[-1] != A.shape[-2] or A.numel() == 0:
        raise ValueError(f"{who} expects a non-empty square matrix {'[..., m, m]' if batched else '[m, m]'}, "
                         f"got shape {list(A.shape)}")
    return A


def check_samples(x, who: str, minimum: int) -> Tensor:
    """``check_tensor`` plus: i.i.d. draws along the first dimension, ``[n, *batch]`` with ``n >= minimum``."""
    check_tensor(x, who, nonempty=False)
    if x.dim() < 1 or x.shape[0] < minimum:
        raise ValueError(f"{who} needs at least {minimum} samples along the first dimension, got shape {list(x.shape)}")
    return x


def check_dtype(dtype, who: str, name: str = "dtype") -> torch.dtype:
    """A floating-point ``torch.dtype`` (what every density computation here runs in)."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{who}: {name} must be a floating-point torch.dtype such as torch.float64, got {dtype!r}")
    return dtype


def _check_integers(x: Tensor, size: int, who: str, name: str) -> None:
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{who}: {name} must be integers 0 .. {size - 1}, got dtype {x.dtype}")
    _refuse_meta(x, who)
    if x.numel() == 0 or (x.dim() > 0 and x.shape[0] == 0):
        raise ValueError(f"{who} got an empty batch (shape {list(x.shape)}); pass at least one")
    if x.is_floating_point() and not (bool(torch.isfinite(x).all()) and torch.equal(x, x.round())):
        raise ValueError(f"{who}: {name} must be integer-valued (0 .. {size - 1}), got non-finite or fractional values")
    if x.min() < 0 or x.max() > size - 1:
        raise ValueError(f"{who}: {name} must lie in [0, {size - 1}], got [{x.min().item()}, {x.max().item()}]")


def check_pixels(x, levels: int, who: str) -> Tensor:
    """A non-empty tensor of integer-valued pixels in ``0 .. levels - 1`` (integer or float dtype)."""
    check_count(levels, "levels", who, minimum=2)
    _check_integers(check_instance(x, Tensor, who, "pixels must be a tensor of integers"), levels, who, "pixel values")
    return x


def check_array(x, name: str, who: str) -> np.ndarray:
    """A finite float64 array from a tensor, array or sequence."""
    x = x.detach().cpu().double().numpy() if isinstance(x, Tensor) else x
    try:
        a = None if isinstance(x, (str, bytes)) else np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        a = None
    if a is None:
        raise TypeError(f"{who}: {name} must be an array of numbers, got {type(x).__name__}")
    if a.size == 0 or not np.isfinite(a).all():
        raise ValueError(f"{who}: {name} is empty or has non-finite values (NaN or inf); pass finite numbers")
    return a


def check_distribution(p, who: str, name: str = "probs") -> np.ndarray:
    """One probability vector: non-negative entries summing to 1."""
    a = check_array(p, name, who)
    if a.ndim != 1 or (a < 0).any() or not np.isclose(a.sum(), 1.0, atol=1e-6):
        raise ValueError(f"{who}: {name} must be one vector of non-negative numbers summing to 1, got shape "
                         f"{list(a.shape)}, min {a.min():.6g}, sum {a.sum():.6g}")
    return a


def check_symbols(x, alphabet: int, who: str, name: str = "symbols") -> np.ndarray:
    """Integer symbols in 0 .. alphabet - 1 (integer dtype, or integer-valued floats) as int32."""
    a = x.detach().cpu() if isinstance(x, Tensor) else np.asarray(x)
    if isinstance(a, np.ndarray) and a.dtype.kind not in "iuf":  # not bools, strings or objects
        raise TypeError(f"{who}: {name} must be integers 0 .. {alphabet - 1}, got dtype {a.dtype}")
    t = torch.from_numpy(a.astype(np.int64) if a.dtype.kind == "u" else a) if isinstance(a, np.ndarray) else a
    _check_integers(t, alphabet, who, name)
    return t.numpy().astype(np.int32)


# ------------------------------------------------------------------ contracts written in signatures
class Check:
    """The metadata of an ``Annotated`` argument: ``check(value, name, who)`` returns the checked value;
    ``optional`` lets ``None`` through; ``label`` is what ``help()`` shows (``n: Annotated[int, Count]``);
    a ``per_call`` check also gets the dict the checks of one call share (:func:`Shape`'s sizes)."""

    def __init__(self, check, label: str, optional: bool = False, per_call: bool = False):
        self.check, self.label, self.optional, self.per_call = check, label, optional, per_call

    def __repr__(self) -> str:
        return self.label

    def __call__(self, value, name: str, who: str, call: dict | None = None):
        if value is None and self.optional:
            return value
        return self.check(value, name, who, call) if self.per_call else self.check(value, name, who)


def _contract(check, label: str, base=object, optional: bool = False, per_call: bool = False):
    return Annotated[base, Check(check, label, optional, per_call)]


def _check_dims(x, dims: tuple[str, ...], positive: bool, name: str, who: str, call: dict) -> Tensor:
    check_tensor(x, f"{who} (its {name})", nonempty=False)
    first, dtype = call.setdefault("", (name, x.dtype))
    own = getattr(call.get("self"), "dtype", None)  # a method's own dtype (LinearGaussian's weight's)
    if isinstance(own, torch.dtype):
        first, dtype = f"the {type(call['self']).__name__}", own
    if x.dtype != dtype:
        raise TypeError(f"{who}: {name} is {x.dtype} but {first} is {dtype}; pass them in one dtype")
    named = dims[1:] if dims[0] == "..." else dims
    lead = x.dim() - len(named)
    sizes = [("...", tuple(x.shape[:lead]))] * (named is not dims) + list(zip(named, x.shape[lead:]))
    fixed = {d: getattr(call.get("self"), d, None) for d, _ in sizes}  # a method's own sizes (LinearGaussian.d)
    if lead < 0 or (lead and named is dims) or any(
            s == 0 or s != call.setdefault(d, fixed[d] if type(fixed[d]) is int else s) for d, s in sizes):
        known = "".join(f"{d} = {call[d]}, " for d in dict.fromkeys(named) if d in call)
        raise ValueError(f"{who}: {name} must have shape [{', '.join(dims)}] ({known}sizes >= 1), got {list(x.shape)}")
    if positive and not bool((x > 0).all()):
        raise ValueError(f"{who}: {name} must be positive")
    return x


def Shape(dims: str, positive: bool = False):  # noqa: N802
    """A finite floating tensor of shape ``dims``, its sizes named as jaxtyping names them (``Shape("B k")``,
    ``"k k"``, ``"... d"``: ``...`` any leading dimensions): one name is one size >= 1 in every argument of
    the call (a method's int attribute of that name fixes it), and all of them share the first one's dtype
    (or the method's own ``dtype`` attribute; torch itself names a mix of devices); ``positive``: every
    entry > 0 (a variance)."""
    names = tuple(dims.split())
    return _contract(lambda v, name, who, call: _check_dims(v, names, positive, name, who, call),
                     f"Shape[{dims}]{' > 0' if positive else ''}", Tensor, per_call=True)


def AtLeast(minimum: int, optional: bool = False):  # noqa: N802 - it names a type, as Annotated does
    return _contract(lambda v, name, who: check_count(v, name, who, minimum=minimum),
                     f"{'MaybeCount' if optional else 'Count'}(>= {minimum})", int, optional)


def OneOf(choices: Sequence):  # noqa: N802
    return _contract(lambda v, name, who: check_choice(v, choices, name, who), f"OneOf{tuple(choices)}", str)


def IsA(cls: type | tuple[type, ...], what: str, optional: bool = False):  # noqa: N802 - what the message says
    return _contract(lambda v, name, who: check_instance(v, cls, who, f"{name} must be {what}"), f"IsA({what})",
                     object, optional)


def FractionIn(high: float = 1.0, zero: bool = False, optional: bool = False):  # noqa: N802 - (0, high), [0, high)
    return _contract(lambda v, name, who: check_fraction(v, name, who, high=high, zero=zero),
                     f"FractionIn({'[' if zero else '('}0, {high:g}))", float, optional)


def ItemsOf(item):  # noqa: N802 - a non-empty sequence whose items each meet ``item`` (hidden: ItemsOf(Count))
    (check,) = [m for m in item.__metadata__ if isinstance(m, Check)]
    return _contract(lambda v, name, who: tuple(check(x, f"{name}[{i}]", who)
                                                for i, x in enumerate(check_sequence(v, name, who))),
                     f"ItemsOf({check.label})", tuple)


def Samples(minimum: int):  # noqa: N802 - i.i.d. draws along the first dimension, at least ``minimum``
    return _contract(lambda v, name, who: check_samples(v, f"{who} (its {name})", minimum),
                     f"Samples(>= {minimum})", Tensor)


def _its(check, **options):
    return lambda v, name, who: check(v, f"{who} (its {name})", **options)


Count, Count0, MaybeCount = AtLeast(1), AtLeast(0), AtLeast(1, optional=True)
Number = _contract(check_number, "Number", float)
Positive = _contract(check_positive, "Positive", float)
MaybePositive = _contract(check_positive, "MaybePositive", float, optional=True)
Fraction = _contract(check_fraction, "Fraction", float)
Function, MaybeFunction = IsA(Callable, "callable"), IsA(Callable, "callable or None", optional=True)
Module, MaybeModule = IsA(torch.nn.Module, "a torch.nn.Module"), IsA(torch.nn.Module, "a torch.nn.Module", True)
Rng = IsA(torch.Generator, "a torch.Generator or None (the global RNG)", optional=True)
SeededRng = IsA(torch.Generator, "an explicit torch.Generator (every draw is seeded)")
EventShape = _contract(lambda v, name, who: check_event_shape(v, who), "EventShape", tuple)
Items = _contract(check_sequence, "Items", tuple)
Dtype = _contract(lambda v, name, who: check_dtype(v, who, name), "Dtype", torch.dtype)
MaybePath = _contract(_its(check_path), "MaybePath", Path, optional=True)
Array = _contract(check_array, "Array", np.ndarray)
Distribution = _contract(lambda v, name, who: check_distribution(v, who, name), "Distribution", np.ndarray)
FloatTensor = _contract(_its(check_tensor), "FloatTensor", Tensor)
Vectors = _contract(lambda v, name, who: check_shape(v, (None,), f"{who} (its {name})"), "Vectors", Tensor)  # [B, d]
SquareMatrix = _contract(_its(check_square), "SquareMatrix", Tensor)
SquareMatrices = _contract(_its(check_square, batched=True), "SquareMatrices", Tensor)  # [..., m, m]


def checked(fn):
    """``fn`` with the :class:`Check` of each annotated argument run on what the caller passed (defaults
    are the library's own and trusted), the checked value (``int(n)``) passed on; a complaint names
    ``fn``, by the class of ``self`` for a method (``Bernoulli.num_params``; ``MAF`` for an ``__init__``)."""
    parameters, plan = inspect.signature(fn).parameters, []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    positions = {n: i for i, (n, p) in enumerate(parameters.items()) if p.kind in positional}
    name_of = fn.__qualname__.rsplit("<locals>.", 1)[-1]
    method = next(iter(parameters), None) == "self"
    suffix = "" if fn.__name__ == "__init__" else f".{fn.__name__}"

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if not plan:  # annotations are strings until the module has loaded; read them at the first call
            hints = typing.get_type_hints(fn, include_extras=True)
            plan.extend([(n, positions.get(n, len(parameters)), c) for n, h in hints.items()
                         for c in getattr(h, "__metadata__", ()) if isinstance(c, Check)] or [None])
        who = type(args[0]).__name__ + suffix if method else name_of
        args, shared = list(args), {"self": args[0]} if method else {}
        for name, at, check in filter(None, plan):
            if at < len(args):
                args[at] = check(args[at], name, who, shared)
            elif name in kwargs:
                kwargs[name] = check(kwargs[name], name, who, shared)
        return fn(*args, **kwargs)
    return call
