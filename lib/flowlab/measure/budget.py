"""Parameter budgets: comparisons "at a matched budget" count trainable parameters one way."""
from __future__ import annotations

from flowlab.validate import Module, checked


@checked
def count_parameters(model: Module) -> int:
    """Trainable parameters of ``model`` (shared tensors once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
