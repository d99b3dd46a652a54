import pytest
import torch

from flowlab.lab import notebook_params


def test_defaults_and_pick():
    p = notebook_params(steps=10)
    assert p.mode == "quick" and p.seed == 0 and p.steps == 10
    assert p.device == ("cuda" if torch.cuda.is_available() else "cpu")  # "auto" picks the accelerator
    assert notebook_params(device="cpu").device == "cpu"
    assert p.pick(1, 2) == 1 and notebook_params(mode="full").pick(1, 2) == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "fast"}, "unknown mode 'fast'; expected one of"),
    ({"seed": -1}, "seed must be a.* integer >= 0"),
    ({"steps": -5}, "steps must be a positive integer"),
    ({"device": "tpu"}, "unknown device"),
])
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        notebook_params(**kwargs)


@pytest.mark.parametrize("kwargs", [{"steps": 2.5}, {"seed": True}, {"steps": "10"}])
def test_non_integer_counts_are_type_errors(kwargs):
    with pytest.raises(TypeError, match="must be an integer"):
        notebook_params(**kwargs)
