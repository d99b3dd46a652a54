r"""Pixel likelihoods :math:`p(x | z)` for VAE decoders, on discrete images.

Each likelihood turns the decoder's output for one image into the log-*mass* of its pixels,
:math:`\log P(x | z) = \sum_i \log P(x_i | z)` in nats, for pixels :math:`x_i \in \{0, \dots, K-1\}`:

- :class:`Bernoulli` (:math:`K = 2`, binarized images): one logit per pixel;
- :class:`Categorical` (:math:`K = 256`, Frey Faces in van den Berg et al. 2018): a 256-way softmax per
  pixel. The decoder emits ``features_per_pixel`` numbers per pixel and one head shared by all pixels
  maps them to the 256 logits (the paper's last 1x1 convolution), so the output layer does not grow
  as :math:`256 D`;
- :class:`DiscretizedLogistic` (:math:`K = 256`): a logistic of mean :math:`\mu_i` and scale
  :math:`s_i` integrated over each pixel's bin (Kingma et al. 2016; Salimans et al. 2017), pixels
  centred to :math:`c = 2x/(K-1) - 1` with bins of half-width :math:`1/(K-1)`:

  .. math:: P(x_i) = \sigma\Big(\frac{c + \frac{1}{K-1} - \mu}{s}\Big)
            - \sigma\Big(\frac{c - \frac{1}{K-1} - \mu}{s}\Big),

  the edge bins taking the whole tail. With :math:`a > b` the two arguments,
  :math:`\log(\sigma(a) - \sigma(b)) = \log(-\mathrm{expm1}(b - a)) - \mathrm{softplus}(-a) - \mathrm{softplus}(b)`,
  stable for any :math:`a, b` (an edge bin sets :math:`b` or :math:`a` to :math:`\mp\infty`, where the
  formula gives :math:`\log\sigma(a)` and :math:`\log(1 - \sigma(b))`).

**Bits per dimension.** A probability mass :math:`P` on :math:`K^D` cells is the density
:math:`K^D P` on the unit cube (each cell has volume :math:`K^{-D}`), so its bits/dim go through the
one conversion, :func:`flowlab.measure.bits_per_dim`, as :math:`\mathrm{bpd} = -\log P / (D \ln 2)`:
what van den Berg et al. report (their NLL in nats over :math:`D \ln 2`, no dequantization offset).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowlab.measure.bits import bits_per_dim
from flowlab.validate import AtLeast, Count, OneOf, check_count, check_pixels, check_tensor, checked

LIKELIHOODS = ("bernoulli", "categorical", "logistic")


class PixelLikelihood(nn.Module):
    """Base: ``num_params(D)`` outputs per image, ``log_prob(params, x)`` [batch], ``encoder_input(x)``."""

    levels: int = 2
    params_per_pixel: int = 1

    def num_params(self, num_pixels: int) -> int:
        return check_count(num_pixels, "num_pixels", f"{type(self).__name__}.num_params") * self.params_per_pixel

    def encoder_input(self, x: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """Pixels as the encoder's input in [0, 1], flattened to [batch, D], in ``dtype``."""
        return x.reshape(x.shape[0], -1).to(dtype) / (self.levels - 1)

    def log_prob(self, params: Tensor, x: Tensor) -> Tensor:
        """:math:`\\log P(x | z)` per image [batch], from the decoder's ``params`` [batch, num_params(D)]."""
        who = f"{type(self).__name__}.log_prob"
        check_pixels(x, self.levels, who)
        check_tensor(params, f"{who} (its params)")
        flat = x.reshape(x.shape[0], -1)
        expected = [x.shape[0], self.num_params(flat.shape[1])]
        if list(params.shape) != expected:
            raise ValueError(f"{who} expects params {expected} for pixels {list(x.shape)}, got {list(params.shape)}")
        return self._log_prob(params.reshape(x.shape[0], flat.shape[1], self.params_per_pixel), flat.long())

    def _log_prob(self, params: Tensor, pixels: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def initial_bias(self, x: Tensor, levels: int | None = None) -> Tensor:
        """Per-pixel decoder outputs [num_params(D)] that fit the pixels' marginals of the images ``x``
        (the decoder's starting bias: training then starts from the average image, not from noise).
        ``levels``: of ``x`` when it differs from the likelihood's (grey images to be binarized)."""
        who = f"{type(self).__name__}.initial_bias"
        levels = self.levels if levels is None else check_count(levels, "levels", who, minimum=2)
        check_pixels(x, levels, who)
        p = x.reshape(x.shape[0], -1).to(torch.float64) / (levels - 1)
        return self._initial_bias(p).reshape(-1).float()

    def _initial_bias(self, p: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def bits_per_dim(self, log_mass: Tensor | float, num_dims: int) -> Tensor | float:
        """Bits/dim of a log-mass in nats: :math:`-\\log P / (D \\ln 2)` (module docstring)."""
        check_count(num_dims, "num_dims", f"{type(self).__name__}.bits_per_dim")
        return bits_per_dim(log_mass + num_dims * math.log(self.levels), num_dims, self.levels)


class Bernoulli(PixelLikelihood):
    """Binary pixels, one logit each: :math:`\\log P = \\sum_i x_i \\log\\sigma(l_i) + (1-x_i)\\log\\sigma(-l_i)`."""

    levels = 2
    params_per_pixel = 1

    def _initial_bias(self, p):
        return torch.logit(p.mean(0).clamp(1e-3, 1 - 1e-3)).unsqueeze(-1)

    def _log_prob(self, params, pixels):
        return -F.binary_cross_entropy_with_logits(params[..., 0], pixels.to(params.dtype),
                                                   reduction="none").sum(-1)


class Categorical(PixelLikelihood):
    """A ``levels``-way softmax per pixel through a head shared by all pixels (a 1x1 convolution)."""

    params_per_pixel = 8

    @checked
    def __init__(self, levels: AtLeast(2) = 256, features_per_pixel: Count = 8):
        super().__init__()
        self.levels, self.params_per_pixel = levels, features_per_pixel
        self.head = nn.Linear(self.params_per_pixel, self.levels)

    def _initial_bias(self, p):
        # features 0 everywhere; the shared head's bias then carries the pixel-value histogram
        with torch.no_grad():
            counts = torch.bincount((p * (self.levels - 1)).round().long().reshape(-1), minlength=self.levels)
            self.head.bias.copy_((counts.double() + 1).log() - (counts.sum() + self.levels).double().log())
        return torch.zeros(p.shape[1], self.params_per_pixel, dtype=p.dtype)

    def _log_prob(self, params, pixels):
        logits = self.head(params)                                 # [batch, D, levels]
        return logits.log_softmax(-1).gather(-1, pixels.unsqueeze(-1)).squeeze(-1).sum(-1)


class DiscretizedLogistic(PixelLikelihood):
    """A logistic per pixel (mean, log-scale) integrated over the pixel's bin; edge bins take the tails."""

    params_per_pixel = 2
    min_log_scale = -7.0  # s >= e^-7: a bin of width 2/255 can still be resolved, never a point mass

    @checked
    def __init__(self, levels: AtLeast(2) = 256):
        super().__init__()
        self.levels = levels

    def _initial_bias(self, p):
        # a logistic of scale s has sd s pi / sqrt(3): match each pixel's mean and sd (on [-1, 1])
        centred = 2 * p - 1
        sd = centred.std(0).clamp_min(2 / (self.levels - 1))
        return torch.stack([centred.mean(0), (sd * math.sqrt(3) / math.pi).log()], -1)

    def _log_prob(self, params, pixels):
        mean, log_scale = params[..., 0], params[..., 1].clamp_min(self.min_log_scale)
        half = 1.0 / (self.levels - 1)
        centre = 2 * half * pixels.to(params.dtype) - 1
        inv_scale = torch.exp(-log_scale)
        far = torch.finfo(params.dtype).max ** 0.25  # "infinite" but finite: no inf - inf anywhere
        upper = torch.where(pixels == self.levels - 1, far, (centre + half - mean) * inv_scale)
        lower = torch.where(pixels == 0, -far, (centre - half - mean) * inv_scale)
        log_bin = torch.log(-torch.expm1(lower - upper)) - F.softplus(-upper) - F.softplus(lower)
        return log_bin.sum(-1)


@checked
def make_likelihood(kind: OneOf(LIKELIHOODS), **options) -> PixelLikelihood:
    """A pixel likelihood by name: ``bernoulli``, ``categorical`` or ``logistic``."""
    return {"bernoulli": Bernoulli, "categorical": Categorical, "logistic": DiscretizedLogistic}[kind](**options)
