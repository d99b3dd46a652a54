r"""Bits-back coding with ANS (Townsend, Bird and Barber 2019), as lecture 001 teaches it.

A latent variable model :math:`p(x|z)\,p(z)` with an approximate posterior :math:`q(z|x)` codes
:math:`x` on a stack of bits (lecture 001 "Sender Perspective" / "Receiver Perspective"):

- sender: **pop** :math:`z` with :math:`q(z|x)` (decoding bits already on the stack, which costs
  :math:`\log_2 q(z|x)` bits: they are *taken off*), **push** :math:`x` with :math:`p(x|z)`, **push**
  :math:`z` with :math:`p(z)`;
- receiver, in reverse: pop :math:`z` with :math:`p(z)`, pop :math:`x` with :math:`p(x|z)`, push
  :math:`z` with :math:`q(z|x)`, which puts the sender's bits back.

The net length per item is :math:`-\log_2 p(x|z) - \log_2 p(z) + \log_2 q(z|x)`, whose mean over
:math:`z \sim q(z|x)` is the negative ELBO in bits. Naive latent coding (``encode_naive``) draws
:math:`z` with fresh randomness and pays :math:`-\log_2 p(x|z) - \log_2 p(z)`: more by the posterior's
entropy at the coding precision. Latents live on a :class:`~flowlab.coding.latent.LatentGrid`.

The first pop needs bits on an empty stack: *initial bits*, random words put under the message and
sealed (``constriction``'s ``seal``) so that the receiver gets them back exactly. Each pop takes at
most 24 bits (the coder's probability precision), so ``batch * latent_dim * 24`` bits always
suffice; they are reported apart from the net rate. Items are coded in chunks of ``batch``; the
three callables must give bit-identical outputs for identical inputs of the same shape (the sender
and the receiver evaluate them on the same chunks).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import constriction
import numpy as np
import torch

from flowlab.coding import message as msg
from flowlab.coding.latent import LatentGrid, gaussian_entropy_bits
from flowlab.validate import Count0, IsA, check_array, check_count, check_symbols, checked

PRECISION = 24  # constriction's default ANS coder: 24-bit probabilities, so one symbol costs <= 24 bits
_MIN_P = 2.0 ** -PRECISION


def standard_normal_prior(latent_dim: int) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
    """The prior :math:`\\mathcal N(0, I)` as the callable ``prior(n) -> (mean, std)`` of shape [n, d]."""
    return lambda n: (torch.zeros(n, latent_dim, dtype=torch.float64), torch.ones(n, latent_dim, dtype=torch.float64))


@dataclass(frozen=True)
class CodingReport:
    """What one message cost, and the information terms per item that explain it (bits)."""

    kind: str
    items: int
    dims: int
    total_bits: int                 # the stack's valid bits at the end (the coder's own count)
    initial_bits: int               # ... right after the initial bits were put on it (and sealed)
    message_bits: int               # what the payload takes in whole 32-bit words
    x_bits: np.ndarray              # -log2 p(x|z) per item
    z_prior_bits: np.ndarray        # -log2 P(z) per item (the grid bin under the prior)
    z_posterior_bits: np.ndarray    # -log2 Q(z|x) per item: bits got back (bits-back) or not (naive)
    posterior_entropy_bits: np.ndarray  # entropy of the discretised q(z|x) per item
    posterior_mean: np.ndarray      # [items, d]
    posterior_std: np.ndarray       # [items, d]

    @property
    def net_bits(self) -> int:
        return self.total_bits - self.initial_bits

    @property
    def bits_per_dim(self) -> float:
        return self.net_bits / (self.items * self.dims)

    @property
    def information_bits(self) -> float:
        """The net length the models predict (before ANS overheads and fixed-point rounding)."""
        back = self.z_posterior_bits.sum() if self.kind == "bits-back" else 0.0
        return float(self.x_bits.sum() + self.z_prior_bits.sum() - back)


def _not_a_message(value, who: str) -> TypeError:
    """The error for a decode input that is not the message bytes ``encode`` returns."""
    got = type(value).__name__
    hint = ""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (bytes, bytearray, memoryview)):
        hint = ("; encode and encode_naive return a tuple (message, report): pass its first element, "
                "e.g. message, report = codec.encode(x); codec.decode(message)")
    elif isinstance(value, str):
        hint = "; a str is text, not a coded message (read a stored message in binary mode, open(path, 'rb'))"
    return TypeError(f"{who} expects the message bytes that BitsBackCodec.encode or encode_naive returned "
                     f"(bytes, bytearray or memoryview), got {got}{hint}")


class BitsBackCodec:
    """Lossless coding of integer data with a latent variable model given by three callables.

    ``posterior(x) -> (mean, std)`` and ``prior(n) -> (mean, std)`` are diagonal Gaussians of shape
    [n, latent_dim]; ``likelihood(z) -> probs`` gives Bernoulli probabilities of shape [n, *shape]
    (binary data) or categorical ones of shape [n, *shape, K] (``levels = K``). ``x`` is handed to
    ``posterior`` and ``z`` to ``likelihood`` as tensors of ``dtype``.

    Built by :func:`flowlab.models.vae_codec` from a VAE, whose three callables are right by construction:
    only what the reader hands over is checked (the grid, the seed, the items to encode, the message to
    decode), and the callables' outputs for finiteness (a diverged model).
    """

    @checked
    def __init__(self, posterior: Callable, likelihood: Callable, prior: Callable, *, latent_dim: int,
                 shape, levels: int = 2, grid: IsA((LatentGrid, type(None)), "a LatentGrid or None") = None,
                 batch: int = 64, initial_words: int | None = None, seed: Count0 = 0,
                 dtype: torch.dtype = torch.float32):
        self.posterior = posterior
        self.likelihood = likelihood
        self.prior = prior
        self.latent_dim = latent_dim
        self.levels = levels
        self.batch = batch
        self.dtype = dtype
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.grid = grid if grid is not None else LatentGrid()
        need = math.ceil(self.batch * self.latent_dim * PRECISION / 32) + 2
        self.initial_words = need if initial_words is None else initial_words
        self.seed = seed
        self.dims = int(np.prod(self.shape))
        k = self.grid.k_max
        self._latent_family = constriction.stream.model.QuantizedGaussian(-k, k)
        self._x_family = (constriction.stream.model.Bernoulli(perfect=False) if self.levels == 2
                          else constriction.stream.model.Categorical(perfect=False))

    # ----------------------------------------------------------------------------- the callables
    def _gaussian(self, out, who: str) -> tuple[np.ndarray, np.ndarray]:
        mean = check_array(out[0], "mean", f"BitsBackCodec ({who})")
        std = check_array(out[1], "std", f"BitsBackCodec ({who})")
        return mean, std

    def _q(self, xb: np.ndarray):
        return self._gaussian(self.posterior(torch.as_tensor(xb).to(self.dtype)), "posterior")

    def _p(self, n: int):
        return self._gaussian(self.prior(n), "prior")

    def _probs(self, k: np.ndarray) -> np.ndarray:
        z = torch.as_tensor(self.grid.centers(k)).to(self.dtype)
        p = check_array(self.likelihood(z), "probs", "BitsBackCodec (likelihood)")
        return p.reshape(len(k), self.dims, -1) if self.levels > 2 else p.reshape(len(k), self.dims)

    # --------------------------------------------------------------------------- stack operations
    def _latent_args(self, mean, std):
        w = self.grid.width
        return (mean / w).ravel(), (std / w).ravel()

    def _pop_z(self, coder, mean, std) -> np.ndarray:
        k = coder.decode(self._latent_family, *self._latent_args(mean, std))
        return k.reshape(mean.shape)

    def _push_z(self, coder, k, mean, std) -> None:
        coder.encode_reverse(k.ravel().astype(np.int32), self._latent_family, *self._latent_args(mean, std))

    def _x_args(self, probs):
        return (probs.reshape(-1, self.levels),) if self.levels > 2 else (probs.ravel(),)

    def _push_x(self, coder, xb, probs) -> None:
        coder.encode_reverse(xb.reshape(-1).astype(np.int32), self._x_family, *self._x_args(probs))

    def _pop_x(self, coder, probs) -> np.ndarray:
        return coder.decode(self._x_family, *self._x_args(probs)).reshape(len(probs), *self.shape)

    # ----------------------------------------------------------------------------- bookkeeping
    def _x_bits(self, xb, probs) -> np.ndarray:
        flat = xb.reshape(len(xb), -1)
        if self.levels == 2:
            p1 = np.clip(probs, _MIN_P, 1 - _MIN_P)
            return -np.log2(np.where(flat == 1, p1, 1 - p1)).sum(1)
        p = np.maximum(np.take_along_axis(probs, flat[..., None], -1)[..., 0], _MIN_P)
        return -np.log2(p / probs.sum(-1)).sum(1)

    def _chunks(self, n: int) -> list[slice]:
        return [slice(i, min(i + self.batch, n)) for i in range(0, n, self.batch)]

    def _initial(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        return rng.integers(0, 2 ** 32, size=self.initial_words, dtype=np.uint32)

    # -------------------------------------------------------------------------------- coding
    def encode(self, x) -> tuple[bytes, CodingReport]:
        """Bits-back code the items ``x`` [N, *shape]; return the message and its report."""
        return self._encode(x, naive=None)

    def encode_naive(self, x, generator: np.random.Generator | int = 0) -> tuple[bytes, CodingReport]:
        """Naive latent coding: draw z ~ q(z|x) with ``generator`` (not from the stack), push x with
        p(x|z) and z with p(z). No bits come back; decode it with :meth:`decode` as well."""
        rng = generator if isinstance(generator, np.random.Generator) else \
            np.random.default_rng(check_count(generator, "generator (a seed)", "encode_naive", minimum=0))
        return self._encode(x, naive=rng)

    def _encode(self, x, naive: np.random.Generator | None) -> tuple[bytes, CodingReport]:
        a = check_symbols(x, self.levels, "BitsBackCodec.encode", "x")
        if tuple(a.shape[1:]) != self.shape:
            raise ValueError(f"BitsBackCodec.encode expects x of shape [N, *{self.shape}], got {list(a.shape)}")
        initial = np.zeros(0, dtype=np.uint32) if naive is not None else self._initial()
        coder = constriction.stream.stack.AnsCoder(initial, seal=True)
        start_bits = coder.num_valid_bits()
        terms = {name: [] for name in ("x", "prior", "post", "ent", "mean", "std")}
        for c in self._chunks(len(a)):
            xb = a[c]
            mq, sq = self._q(xb)
            if naive is None:
                k = self._pop_z(coder, mq, sq)       # the bits that will come back
            else:
                k = np.clip(np.rint(naive.normal(mq, sq) / self.grid.width), -self.grid.k_max, self.grid.k_max)
                k = k.astype(np.int32)
            probs = self._probs(k)
            self._push_x(coder, xb, probs)
            mp, sp = self._p(len(xb))
            self._push_z(coder, k, mp, sp)
            terms["x"].append(self._x_bits(xb, probs))
            terms["prior"].append(-self.grid.log2_mass(k, mp, sp, _MIN_P).sum(1))
            terms["post"].append(-self.grid.log2_mass(k, mq, sq, _MIN_P).sum(1))
            terms["ent"].append(gaussian_entropy_bits(sq) - self.latent_dim * math.log2(self.grid.width))
            terms["mean"].append(mq)
            terms["std"].append(sq)
        words = coder.get_compressed()
        kind = "naive" if naive is not None else "bits-back"
        header = msg.Header(kind, self.shape, len(a), self.batch, len(initial) + 1, len(words), msg.digest(a))
        cat = {k: np.concatenate(v) for k, v in terms.items()}
        report = CodingReport(kind, len(a), self.dims, coder.num_valid_bits(), start_bits, 32 * len(words),
                              cat["x"], cat["prior"], cat["post"], cat["ent"], cat["mean"], cat["std"])
        return msg.pack(header, words), report

    def decode(self, message) -> torch.Tensor:
        """The items of a message from :meth:`encode` or :meth:`encode_naive`, as an int64 tensor.

        Raises :class:`~flowlab.coding.message.MessageError` for a truncated or corrupted message, or
        when the decoded items do not match the sender's checksum (a different model)."""
        if not isinstance(message, (bytes, bytearray, memoryview)):
            raise _not_a_message(message, "BitsBackCodec.decode")
        header, words = msg.unpack(message)
        if header.shape != self.shape:
            raise msg.MessageError(f"message holds items of shape {header.shape}, this codec codes {self.shape}")
        if header.batch != self.batch:
            raise msg.MessageError(f"message was coded in chunks of {header.batch}, this codec uses {self.batch}")
        coder = constriction.stream.stack.AnsCoder(words)
        chunks = self._chunks(header.items)
        out = np.zeros((header.items, *self.shape), dtype=np.int32)
        for c in reversed(chunks):
            n = c.stop - c.start
            mp, sp = self._p(n)
            k = self._pop_z(coder, mp, sp)
            xb = self._pop_x(coder, self._probs(k))
            out[c] = xb
            if header.kind == "bits-back":
                self._push_z(coder, k, *self._q(xb))    # give the sender's bits back
        self._check_rest(coder, header)
        if msg.digest(out) != header.digest:
            raise msg.MessageError("decoded items do not match the sender's checksum: the receiver's model "
                                   "differs from the sender's (weights, dtype or batch)")
        return torch.from_numpy(out.astype(np.int64))

    def _check_rest(self, coder, header: msg.Header) -> None:
        try:
            rest = coder.get_compressed(unseal=True)
        except Exception as err:  # constriction raises a plain error when the seal is missing
            raise msg.MessageError(f"after decoding, the stack does not end in the sealed initial bits "
                                   f"({err}); the message or the model differs from the sender's") from None
        if len(rest) != header.initial_words - 1:
            raise msg.MessageError(f"after decoding, {len(rest)} initial words are left, the sender put "
                                   f"{header.initial_words - 1}; the model differs from the sender's")
