"""Parameter budgets: comparisons "at a matched budget" count trainable parameters one way."""
from __future__ import annotations

from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model`` (shared tensors once)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_parameters expects an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
