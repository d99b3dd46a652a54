"""General-purpose compressors as baselines for a learned coder: gzip, bz2 and lzma on the same bits.

Binary images are packed eight pixels to a byte (``numpy.packbits`` of the flattened images, all
images in one stream) so that a compressor sees exactly the information a bits-back coder codes, and
each compressor runs at its strongest setting. The cost includes each format's header, as a file
would: bits/dim is ``8 * len(compressed) / (N * D)``.
"""
from __future__ import annotations

import bz2
import gzip
import lzma

import numpy as np

from flowlab.validate import check_symbols

COMPRESSORS = {
    "gzip": lambda b: gzip.compress(b, compresslevel=9, mtime=0),
    "bz2": lambda b: bz2.compress(b, compresslevel=9),
    "lzma": lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME),
}


def pack_bits(x) -> bytes:
    """Binary items ``x`` [N, ...] (values 0/1, as :func:`compressor_bits_per_dim` checks them) as one byte
    string, eight pixels a byte."""
    return np.packbits(np.asarray(x).reshape(-1).astype(np.uint8)).tobytes()


def compressor_bits_per_dim(x) -> dict[str, float]:
    """Bits/dim of gzip, bz2 and lzma (strongest settings) on the packed bits of binary items ``x``."""
    a = check_symbols(x, 2, "compressor_bits_per_dim", "x")
    packed = pack_bits(a)
    return {name: 8 * len(compress(packed)) / a.size for name, compress in COMPRESSORS.items()}
