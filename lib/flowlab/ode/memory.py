"""Memory held for the backward pass, measured two ways.

1. :func:`saved_tensor_bytes` (deterministic): run ``fn()`` under
   ``torch.autograd.graph.saved_tensors_hooks`` and, once it returns, add up the bytes of the tensors
   that the autograd graph still holds for backward. Each saved tensor is wrapped in a small holder
   object; a holder is alive exactly as long as the graph node that saved it, so tensors saved by
   parts of the graph that were already dropped (rejected adaptive steps, error estimates) are not
   counted. Storages are deduplicated (views of one storage and tensors saved twice count once), and
   all counted storages are alive together, so their addresses identify them.
2. :func:`peak_memory` (noisy): the peak of the process while ``fn()`` runs, minus the level before.
   On CUDA, ``torch.cuda.max_memory_allocated`` after resetting the peak statistics. On CPU, the peak
   resident set size: Linux resets the high-water mark ``VmHWM`` when ``5`` is written to
   ``/proc/self/clear_refs`` (freed heap pages are first handed back to the system with glibc's
   ``malloc_trim``, so that they do not hide the next peak); where that is impossible the lifetime
   peak (``ru_maxrss``) is used and the delta is only a lower bound. Allocator caching and other threads
   make this noisy: show it, assert on the bytes of saved tensors.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import resource
import weakref

import torch

from flowlab.validate import Function, checked


class _Held:
    """A saved tensor as the autograd graph holds it (weak-referenceable)."""

    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor


@checked
def saved_tensor_bytes(fn: Function) -> tuple[object, int]:
    """Run ``fn()`` (a function that builds an autograd graph) and return ``(result, bytes of distinct
    storages held for backward)``."""
    holders: list[weakref.ref] = []

    def pack(tensor):
        # A non-leaf saved as-is would point back at its own graph node through grad_fn: a reference
        # cycle through C++ that the garbage collector cannot see, so the graph would never be freed.
        # Its values are all backward needs (no double backward here); leaves are kept as they are.
        held = _Held(tensor.detach() if tensor.grad_fn is not None else tensor)
        holders.append(weakref.ref(held))
        return held

    def unpack(held):
        return held.tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        result = fn()
    gc.collect()
    storages: dict[tuple, int] = {}
    for ref in holders:
        held = ref()
        if held is None:
            continue
        storage = held.tensor.untyped_storage()
        storages[(held.tensor.device.type, storage.data_ptr())] = storage.nbytes()
    return result, int(sum(storages.values()))


def _rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _release_free_heap() -> None:
    # glibc keeps freed heap pages resident; without returning them the next run's peak would be
    # served from memory already counted in the baseline and show up as zero.
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@checked
def peak_memory(fn: Function, device: str | torch.device = "cpu") -> tuple[object, int]:
    """Run ``fn()`` and return ``(result, peak memory in bytes above the level before it ran)``."""
    try:
        parsed = torch.device(device)
    except (TypeError, RuntimeError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"peak_memory supports 'cpu' and 'cuda' devices, got {device!r}")
    device = parsed
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        result = fn()
        torch.cuda.synchronize(device)
        return result, int(torch.cuda.max_memory_allocated(device) - before)
    _release_free_heap()
    before = _rss_kib("VmRSS")
    if before is not None and _reset_peak_rss():
        result = fn()
        peak = _rss_kib("VmHWM")
        return result, max(0, int(peak - before) * 1024)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = fn()
    return result, max(0, int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
