"""Parameter budgets: comparisons "at a matched budget" count trainable parameters one way."""
from __future__ import annotations

from torch import nn

from flowlab.validate import check_module


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model`` (shared tensors once)."""
    check_module(model, "model", "count_parameters")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
