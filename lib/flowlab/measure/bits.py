r"""Bits per dimension: the one conversion every image result goes through.

Discrete data :math:`x \in \{0, \dots, K-1\}^D` is dequantized to :math:`y = (x + u) / K`,
:math:`u \sim U[0,1)^D`, so that :math:`y \in [0,1)^D`. A density :math:`p` on that cube gives a
lower bound on the discrete log-likelihood, :math:`\log P(x) \ge \mathbb E_u[\log p(y)] - D\log K`,
and the reported number is that negative bound in bits per dimension:

.. math:: \mathrm{bpd} = \frac{-\log p(y) + D \log K}{D \log 2}.

(This is Glow's formula with :math:`K = 256`: :math:`-\log p(\tilde x)/(D\ln 2) + 8` for data
scaled to :math:`[-1/2, 1/2)`, a shift that leaves the Jacobian unchanged.) A uniform model on the
cube has :math:`\log p = 0`, hence :math:`\log_2 K` bits per dimension: 4.087 for 17-level digits.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from flowlab.validate import (
    AtLeast,
    Count,
    FloatTensor,
    Function,
    Number,
    check_number,
    check_tensor,
    checked,
)


@checked
def bits_per_dim(log_prob_unit_cube: Tensor | float, num_dims: Count, levels: AtLeast(2) = 256) -> Tensor | float:
    """Bits/dim of data with ``levels`` values per dimension, from ``log p`` of the data scaled to [0,1)."""
    who = "bits_per_dim"
    if isinstance(log_prob_unit_cube, Tensor):
        check_tensor(log_prob_unit_cube, f"{who} (its log-probability)")
    else:
        check_number(log_prob_unit_cube, "log-probability", who)
    return (-log_prob_unit_cube + num_dims * math.log(levels)) / (num_dims * math.log(2))


@checked
def nats_to_bits_per_dim(log_likelihood_nats: Number, num_dims: int, levels: int = 256) -> float:
    """A published log-likelihood in nats (data in [0,1]) as bits/dim, e.g. NICE's MNIST 1980.50
    (:func:`bits_per_dim` of that number, which checks ``num_dims`` and ``levels``)."""
    return float(bits_per_dim(log_likelihood_nats, num_dims, levels))


def bits_per_dim_to_nats(bpd: float, num_dims: int, levels: int = 256) -> float:
    """The inverse of :func:`nats_to_bits_per_dim`: a log-likelihood in nats for data in [0,1]."""
    return float(num_dims * math.log(levels) - bpd * num_dims * math.log(2))


@checked
def mean_bits_per_dim(log_prob: Function, y: FloatTensor, levels: int, chunk: Count = 500) -> float:
    """Mean bits/dim of a dataset ``y`` (dequantized, in [0, 1)) under ``log_prob``, in chunks
    (``levels`` and each chunk's log-probabilities are checked by :func:`bits_per_dim`)."""
    dims = int(y[0].numel())
    return torch.cat([bits_per_dim(log_prob(part), dims, levels) for part in y.split(chunk)]).mean().item()
