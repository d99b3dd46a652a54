"""Entropy coding and bits-back coding with ANS (a leaf: numpy, torch and constriction only).

The bits-back coder itself, :class:`flowlab.coding.bitsback.BitsBackCodec`, is built from a VAE by
:func:`flowlab.models.vae_codec`; its latent grid is :class:`flowlab.coding.latent.LatentGrid`."""
from flowlab.coding.baselines import compressor_bits_per_dim
from flowlab.coding.entropy import decode_iid, encode_iid, entropy_bits, information_bits
from flowlab.coding.latent import aggregate_posterior_kl
from flowlab.coding.message import MessageError

__all__ = ["MessageError", "aggregate_posterior_kl", "compressor_bits_per_dim", "decode_iid", "encode_iid",
           "entropy_bits", "information_bits"]
