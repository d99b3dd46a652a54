"""Validation of the parameters a notebook takes (papermill overrides them).

Every notebook's ``parameters`` cell ends with ``p = notebook_params(mode=mode, seed=seed, ...)`` so
that a bad value stops the run at once with a message saying what is expected.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flowlab.measure.validate import check_count

MODES = ("quick", "full")


@dataclass(frozen=True)
class Params:
    mode: str
    seed: int
    device: str
    extra: dict = field(default_factory=dict)

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    def __getattr__(self, name):
        extra = object.__getattribute__(self, "extra")
        if name in extra:
            return extra[name]
        raise AttributeError(name)

    def pick(self, quick, full):
        """The quick-mode or the full-mode value of a setting."""
        return quick if self.quick else full


def _device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} asked for, but no CUDA device is available; use 'cpu' or 'auto'")
        return device
    raise ValueError(f"unknown device {device!r}; expected 'auto', 'cpu' or 'cuda[:N]'")


def notebook_params(mode: str = "quick", seed: int = 0, device: str = "auto", **counts) -> Params:
    """Check the common parameters and any positive counts (steps, seeds, samples...)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    check_count(seed, "seed", "notebook parameters", minimum=0)
    for name, value in counts.items():
        if value is not None:
            check_count(value, name, "notebook parameters (None for the mode's default)")
    return Params(mode=mode, seed=seed, device=_device(device), extra=dict(counts))
