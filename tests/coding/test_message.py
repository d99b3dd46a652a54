"""flowlab.coding.message: every kind of damage is named, never decoded."""
import numpy as np
import pytest

from flowlab.coding import MessageError
from flowlab.coding.message import Header, digest, pack, unpack


def _message():
    words = np.arange(1, 11, dtype=np.uint32)
    h = Header("bits-back", (1, 8, 8), 5, 2, 3, len(words), digest(np.zeros((5, 1, 8, 8), np.int32)))
    return h, words, pack(h, words)


def test_round_trip():
    h, words, m = _message()
    h2, w2 = unpack(m)
    assert h2 == h and np.array_equal(w2, words)


def test_every_single_bit_flip_is_caught():
    _, _, m = _message()
    for i in range(8 * len(m)):
        bad = bytearray(m)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(MessageError):
            unpack(bytes(bad))


def test_every_truncation_is_caught():
    _, _, m = _message()
    for n in range(len(m)):
        with pytest.raises(MessageError):
            unpack(m[:n])
    with pytest.raises(MessageError, match="truncated or padded"):
        unpack(m + b"\0\0\0\0")

