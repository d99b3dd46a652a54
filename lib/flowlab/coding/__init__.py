"""Entropy coding and bits-back coding with ANS (a leaf: numpy, torch and constriction only)."""
from flowlab.coding.baselines import COMPRESSORS, compressor_bits_per_dim, pack_bits
from flowlab.coding.bitsback import BitsBackCodec, CodingReport, standard_normal_prior
from flowlab.coding.entropy import decode_iid, encode_iid, entropy_bits, information_bits
from flowlab.coding.latent import LatentGrid, Mismatch, aggregate_posterior_kl, gaussian_entropy_bits
from flowlab.coding.message import MessageError

__all__ = ["BitsBackCodec", "COMPRESSORS", "CodingReport", "LatentGrid", "MessageError", "Mismatch",
           "aggregate_posterior_kl", "compressor_bits_per_dim", "decode_iid", "encode_iid", "entropy_bits",
           "gaussian_entropy_bits", "information_bits", "pack_bits", "standard_normal_prior"]
