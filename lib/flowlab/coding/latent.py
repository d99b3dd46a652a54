r"""Continuous latents on a grid, and how far the aggregate posterior is from the prior.

**Discretization.** Bits-back coding needs discrete latents. A Gaussian latent :math:`z` is put on
the grid :math:`z = \delta k`, :math:`k \in \{-K, .., K\}`, :math:`K = \lceil b/\delta \rceil`; the
mass of bin :math:`k` under :math:`\mathcal N(\mu, \sigma^2)` is
:math:`\Phi(\frac{\delta(k + 1/2) - \mu}{\sigma}) - \Phi(\frac{\delta(k - 1/2) - \mu}{\sigma})`
(renormalised on the range). ``constriction``'s ``QuantizedGaussian`` is exactly this family in units
of :math:`\delta` (mean :math:`\mu/\delta`, std :math:`\sigma/\delta`, bins of width 1). For
:math:`\delta \ll \sigma` the mass is :math:`\approx \delta\,\mathcal N(\delta k; \mu, \sigma^2)`,
so the :math:`\log\delta` of the posterior and of the prior cancel in the bits-back rate. The grid
should not be finer than it needs to be: the coder gives each of the :math:`2K + 1` bins at least
:math:`2^{-24}`, so a pop lands in a far-tail bin with probability about :math:`(2K+1)\,2^{-24}` and
then costs up to 24 bits; the default (:math:`\delta = 2^{-6}`, :math:`b = 6`) keeps that below
:math:`5 \times 10^{-5}` per latent while :math:`\delta \ll \sigma` for posterior scales above 0.01.

**Clean bits.** Bits-back pops :math:`z` from bits left by the previous image, which pushed its
latent with the prior. Those bits decode to draws from :math:`q(z|x)` only if they are as random as
fresh bits, i.e. if the latents pushed, distributed as the *aggregate posterior*
:math:`q(z) = \frac1N \sum_n q(z|x_n)`, look like draws from the prior :math:`p(z)`. The mismatch is
:math:`\mathrm{KL}(q(z)\,\|\,p(z)) = \mathbb E_{q(z)}[\log q(z) - \log p(z)]`, estimated by Monte
Carlo with :math:`\log q(z)` the exact log of the :math:`N`-component mixture.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from flowlab.validate import Array, AtLeast, Count, Positive, Rng, checked

LN2 = math.log(2.0)


@dataclass(frozen=True, init=False)
class LatentGrid:
    """The grid :math:`z = \\delta k`, :math:`|k| \\le K`, with :math:`K = \\lceil b/\\delta \\rceil`."""

    width: float = 2.0 ** -6
    bound: float = 6.0

    @checked
    def __init__(self, width: Positive = 2.0 ** -6, bound: Positive = 6.0):
        if not (width < bound and bound / width <= 2 ** 13):
            raise ValueError(f"LatentGrid: need width < bound and at most 2^13 bins a side (more are too many for "
                             f"24-bit probabilities: each takes >= 2^-24), got width {width}, bound {bound}")
        object.__setattr__(self, "width", width)  # frozen: the fields are set once, here
        object.__setattr__(self, "bound", bound)

    @property
    def k_max(self) -> int:
        return int(math.ceil(self.bound / self.width))

    def centers(self, k: np.ndarray) -> np.ndarray:
        return np.asarray(k, dtype=np.float64) * self.width

    def log2_mass(self, k, mean, std, floor: float = 0.0) -> np.ndarray:
        """:math:`\\log_2` of the mass of bin ``k`` under :math:`\\mathcal N(\\mu, \\sigma^2)`, renormalised
        on the grid's range, and at least ``floor`` (the coder gives every bin at least its smallest
        probability, :math:`2^{-24}`)."""
        k, mean, std = (np.asarray(a, dtype=np.float64) for a in (k, mean, std))
        d, K = self.width, self.k_max
        mass = _interval_mass((d * (k - 0.5) - mean) / std, (d * (k + 0.5) - mean) / std)
        total = _interval_mass((-d * (K + 0.5) - mean) / std, (d * (K + 0.5) - mean) / std)
        return np.log2(np.maximum(mass / total, max(floor, 1e-300)))


def _interval_mass(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """:math:`\\Phi(hi) - \\Phi(lo)`, computed in the lower tail (mirrored when both are positive) so
    that far-tail bins do not cancel to zero."""
    lo, hi = np.broadcast_arrays(lo, hi)
    flip = lo > 0
    a, b = np.where(flip, -hi, lo), np.where(flip, -lo, hi)
    # torch's ndtr loses relative accuracy below 1e-10; its erfc does not
    def ndtr(u):
        return 0.5 * torch.special.erfc(-torch.as_tensor(u, dtype=torch.float64) / math.sqrt(2)).numpy()
    return ndtr(b) - ndtr(a)


def gaussian_entropy_bits(std) -> np.ndarray:
    """Differential entropy in bits of :math:`\\mathcal N(\\mu, \\mathrm{diag}\\,\\sigma^2)`, per row
    (``std > 0``: the scales of the coder's posterior)."""
    s = np.atleast_2d(np.asarray(std, dtype=np.float64))
    return (0.5 * np.log2(2 * math.pi * math.e) + np.log2(s)).sum(axis=-1)


@dataclass(frozen=True)
class Mismatch:
    """A Monte Carlo estimate in bits and its standard error."""

    bits: float
    se: float


@checked
def aggregate_posterior_kl(mean: Array, std: Array, *, samples: AtLeast(2) = 4096, generator: Rng = None,
                           chunk: Count = 512) -> Mismatch:
    """:math:`\\mathrm{KL}(q(z)\\,\\|\\,\\mathcal N(0, I))` in bits, with :math:`q(z)` the mixture of the
    diagonal Gaussians :math:`\\mathcal N(\\mu_n, \\sigma_n^2)` given as ``mean``, ``std`` of shape
    [N, d] (the posteriors of the coded images)."""
    who = "aggregate_posterior_kl"
    if mean.ndim != 2 or std.shape != mean.shape or (std <= 0).any():
        raise ValueError(f"{who}: mean, std need one shape [N, d], std positive; got {[*mean.shape]} {[*std.shape]}")
    mu, sd = torch.as_tensor(mean), torch.as_tensor(std)
    n, d = mu.shape
    comp = torch.randint(n, (samples,), generator=generator)
    z = mu[comp] + sd[comp] * torch.randn(samples, d, generator=generator, dtype=mu.dtype)
    log_q = []
    for zc in z.split(chunk):
        # log N(z; mu_n, sd_n^2) for every component n, then the log of their mean
        lp = -0.5 * (((zc[:, None] - mu[None]) / sd[None]) ** 2 + 2 * sd.log()[None] + math.log(2 * math.pi)).sum(-1)
        log_q.append(torch.logsumexp(lp, dim=1) - math.log(n))
    log_p = -0.5 * (z ** 2 + math.log(2 * math.pi)).sum(-1)
    terms = (torch.cat(log_q) - log_p) / LN2
    return Mismatch(float(terms.mean()), float(terms.std() / math.sqrt(samples)))
