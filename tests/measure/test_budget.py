"""Parameter budgets: trainable parameters, shared tensors once."""
import pytest
from torch import nn

from flowlab.measure import count_parameters


def test_counts_trainable_parameters_once():
    shared = nn.Linear(3, 4)  # 16 parameters
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 2))
    assert count_parameters(model) == 16 + 10
    model[3].weight.requires_grad_(False)
    assert count_parameters(model) == 16 + 2
    with pytest.raises(TypeError, match="nn.Module"):
        count_parameters([shared])
