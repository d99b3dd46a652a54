"""flowlab.coding.entropy: the lecture's entropies exactly, and ANS at the information content."""
import math

import numpy as np
import pytest

from flowlab.coding import decode_iid, encode_iid, entropy_bits, information_bits


def test_lecture_entropy_examples():
    assert entropy_bits([0.5, 0.5]) == 1.0
    assert entropy_bits([0.8, 0.2]) == pytest.approx(-(0.8 * math.log2(0.8) + 0.2 * math.log2(0.2)), abs=1e-15)
    assert round(entropy_bits([0.8, 0.2]), 4) == 0.7219
    assert entropy_bits([1.0, 0.0]) == 0.0


@pytest.mark.parametrize("probs", [[0.8, 0.2], [0.5, 0.25, 0.125, 0.125], [0.97, 0.01, 0.01, 0.01]])
def test_ans_round_trip_at_the_information_content(probs):
    rng = np.random.default_rng(3)
    s = rng.choice(len(probs), size=50_000, p=probs)
    words = encode_iid(s, probs)
    assert np.array_equal(decode_iid(words, probs, len(s)), s)
    info = information_bits(s, probs)
    # ANS overhead: at most two 32-bit words of state, plus the 24-bit fixed-point rounding of probs
    assert abs(32 * len(words) - info) <= 64 + 1e-3 * info


def test_bad_inputs():
    with pytest.raises(ValueError, match="summing to 1"):
        entropy_bits([0.5, 0.6])
    with pytest.raises(ValueError, match="non-negative"):
        entropy_bits([1.5, -0.5])
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        encode_iid([0, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="infinite information"):
        information_bits([1], [1.0, 0.0])
    with pytest.raises(TypeError, match="uint32"):
        decode_iid([1, 2], [0.5, 0.5], 3)
    with pytest.raises(ValueError, match="left over"):
        s = np.random.default_rng(0).integers(0, 2, 100)
        decode_iid(encode_iid(s, [0.5, 0.5]), [0.5, 0.5], 10)


def test_compressors_on_packed_bits():
    from flowlab.coding import compressor_bits_per_dim
    from flowlab.coding.baselines import pack_bits

    x = np.zeros((10, 64), dtype=int)
    x[:, ::2] = 1
    assert pack_bits(x) == bytes([0b10101010]) * 80
    rates = compressor_bits_per_dim(x)
    assert set(rates) == {"gzip", "bz2", "lzma"} and all(0 < r < 1 for r in rates.values())
    noise = np.random.default_rng(0).integers(0, 2, (50, 64))
    assert all(r > 0.95 for r in compressor_bits_per_dim(noise).values())  # random bits do not compress
    with pytest.raises(ValueError, match="compressor_bits_per_dim"):
        compressor_bits_per_dim(np.full((2, 3), 2))
