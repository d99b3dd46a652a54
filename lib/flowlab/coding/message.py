"""The coded message: a self-checking header, then the ANS stack's words.

Layout (little-endian)::

    magic "FLBB" | version u8 | kind u8 | ndim u8 | event shape: ndim x u32
    items u32 | batch u32 | initial words u32 | payload words u32
    SHA-256 of the encoded symbols (32 bytes) | CRC-32 of the payload u32 | CRC-32 of the header u32
    payload: the coder's uint32 words

Two checks guard the decoder. The payload's CRC-32 and its stated length catch a flipped bit or a
truncated message *before* decoding (ANS decodes any words into some symbols, so without it a
corrupted message would silently decode to a wrong image). The SHA-256 of the encoded symbols is
checked *after* decoding: it catches a receiver whose model differs from the sender's, the one
failure a payload checksum cannot see.
"""
from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

import numpy as np

MAGIC = b"FLBB"
VERSION = 1
KINDS = {"bits-back": 0, "naive": 1}
_HEAD = struct.Struct("<4sBBB")
_COUNTS = struct.Struct("<IIII")


class MessageError(ValueError):
    """A message that cannot be decoded faithfully: corrupted, truncated, or from another model."""


@dataclass(frozen=True)
class Header:
    kind: str
    shape: tuple[int, ...]
    items: int
    batch: int
    initial_words: int
    payload_words: int
    digest: bytes


def digest(symbols: np.ndarray) -> bytes:
    """SHA-256 of the symbols' shape and their int32 little-endian bytes."""
    a = np.ascontiguousarray(symbols, dtype="<i4")
    return hashlib.sha256(repr(a.shape).encode() + a.tobytes()).digest()


def pack(header: Header, words: np.ndarray) -> bytes:
    """The message of ``header`` (built by the encoder with ``payload_words = len(words)``) and ``words``."""
    payload = np.ascontiguousarray(words, dtype="<u4").tobytes()
    head = (_HEAD.pack(MAGIC, VERSION, KINDS[header.kind], len(header.shape))
            + struct.pack(f"<{len(header.shape)}I", *header.shape)
            + _COUNTS.pack(header.items, header.batch, header.initial_words, header.payload_words)
            + header.digest + struct.pack("<I", zlib.crc32(payload)))
    return head + struct.pack("<I", zlib.crc32(head)) + payload


def _need(data: bytes, end: int, what: str) -> None:
    if len(data) < end:
        raise MessageError(f"message truncated: {len(data)} bytes end inside the {what} (needs {end} bytes)")


def unpack(data) -> tuple[Header, np.ndarray]:
    """The header and payload words of a message (bytes-like: the decoder checks that), after checking its
    length and both CRCs."""
    data = bytes(data)
    _need(data, _HEAD.size, "header")
    magic, version, kind, ndim = _HEAD.unpack_from(data)
    if magic != MAGIC:
        raise MessageError(f"not a flowlab bits-back message (magic {magic!r}, expected {MAGIC!r})")
    if version != VERSION:
        raise MessageError(f"message version {version}; this decoder reads version {VERSION}")
    pos = _HEAD.size + 4 * ndim
    head_end = pos + _COUNTS.size + 32 + 4
    _need(data, head_end + 4, "header")
    (crc_head,) = struct.unpack_from("<I", data, head_end)
    if zlib.crc32(data[:head_end]) != crc_head:
        raise MessageError("message header is corrupted (its CRC-32 does not match)")
    names = {v: k for k, v in KINDS.items()}
    if kind not in names:
        raise MessageError(f"unknown message kind {kind}")
    shape = struct.unpack_from(f"<{ndim}I", data, _HEAD.size)
    items, batch, initial, n_words = _COUNTS.unpack_from(data, pos)
    dig = data[pos + _COUNTS.size: pos + _COUNTS.size + 32]
    (crc_payload,) = struct.unpack_from("<I", data, pos + _COUNTS.size + 32)
    payload = data[head_end + 4:]
    if len(payload) != 4 * n_words:
        raise MessageError(f"message truncated or padded: payload is {len(payload)} bytes, "
                           f"the header says {4 * n_words}")
    if zlib.crc32(payload) != crc_payload:
        raise MessageError("message payload is corrupted (its CRC-32 does not match); refusing to decode")
    header = Header(names[kind], tuple(shape), items, batch, initial, n_words, dig)
    return header, np.frombuffer(payload, dtype="<u4").astype(np.uint32)
