import math

import pytest
import torch

from flowlab.data import load_digits
from flowlab.measure import bits_per_dim, nats_to_bits_per_dim
from flowlab.measure.bits import bits_per_dim_to_nats


def test_uniform_model_on_digits_is_log2_17():
    digits = load_digits()
    log_p = torch.zeros(len(digits.test))  # the uniform density on [0,1)^64
    bpd = bits_per_dim(log_p, digits.num_dims, digits.levels)
    assert torch.allclose(bpd, torch.full_like(bpd, math.log2(17)))
    assert round(bpd[0].item(), 3) == 4.087


def test_nice_mnist_conversion():
    assert round(nats_to_bits_per_dim(1980.50, 784), 3) == 4.356
    assert bits_per_dim_to_nats(nats_to_bits_per_dim(1980.50, 784), 784) == pytest.approx(1980.50)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_dims"):
        bits_per_dim(0.0, 0)
    with pytest.raises(ValueError, match="levels"):
        bits_per_dim(0.0, 10, levels=1)
