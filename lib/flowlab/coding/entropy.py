r"""Entropy and entropy coding of i.i.d. symbols with ANS.

Shannon's source coding theorem: a sequence :math:`s_1..s_n` drawn i.i.d. from :math:`p` cannot be
coded in fewer than :math:`n H(p)` bits on average, with :math:`H(p) = -\sum_a p_a \log_2 p_a`, and
an entropy coder using :math:`p` spends close to the sequence's *information content*
:math:`-\sum_i \log_2 p(s_i)`, whose mean is :math:`n H(p)`. Asymmetric numeral systems (ANS, here
``constriction``'s stack coder) reach it up to a constant of a few words plus the cost of
representing :math:`p` in fixed point (24-bit probabilities).

Examples (lecture 001 "Entropy Coding Example"): :math:`H(0.5, 0.5) = 1` bit and
:math:`H(0.8, 0.2) = 0.7219` bits.
"""
from __future__ import annotations

import constriction
import numpy as np

from flowlab.validate import Count, Distribution, check_symbols, checked


@checked
def entropy_bits(probs: Distribution) -> float:
    """Shannon entropy in bits of one probability vector (zero entries contribute nothing)."""
    nz = probs[probs > 0]
    return float(-(nz * np.log2(nz)).sum())


@checked
def information_bits(symbols, probs: Distribution) -> float:
    """The information content :math:`-\\sum_i \\log_2 p(s_i)` of a sequence under i.i.d. ``probs``."""
    s = check_symbols(symbols, len(probs), "information_bits").ravel()
    if (probs[s] == 0).any():
        raise ValueError("information_bits: a symbol of probability 0 has infinite information content")
    return float(-np.log2(probs[s]).sum())


def _model(p: np.ndarray):
    return constriction.stream.model.Categorical(p.astype(np.float64), perfect=False)


@checked
def encode_iid(symbols, probs: Distribution) -> np.ndarray:
    """ANS-code a sequence of i.i.d. symbols with the categorical ``probs``; return the uint32 words."""
    s = check_symbols(symbols, len(probs), "encode_iid").ravel()
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(s, _model(probs))
    return coder.get_compressed()


@checked
def decode_iid(words, probs: Distribution, n: Count) -> np.ndarray:
    """Decode ``n`` symbols from the words of :func:`encode_iid` (same ``probs``)."""
    w = np.asarray(words)
    if w.dtype != np.uint32 or w.ndim != 1:
        raise TypeError(f"decode_iid expects the uint32 word array of encode_iid, got {w.dtype} {list(w.shape)}")
    coder = constriction.stream.stack.AnsCoder(w)
    out = coder.decode(_model(probs), n)
    if not coder.is_empty():
        raise ValueError("decode_iid: words left over after decoding; the words, probs or n differ from the encoder's")
    return out
