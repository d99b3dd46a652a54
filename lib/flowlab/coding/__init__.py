"""Entropy coding and bits-back coding with ANS (a leaf: numpy, torch and constriction only)."""
from flowlab.coding.bitsback import BitsBackCodec, CodingReport, standard_normal_prior
from flowlab.coding.entropy import decode_iid, encode_iid, entropy_bits, information_bits
from flowlab.coding.latent import LatentGrid, Mismatch, aggregate_posterior_kl, gaussian_entropy_bits
from flowlab.coding.message import MessageError

__all__ = ["BitsBackCodec", "CodingReport", "LatentGrid", "MessageError", "Mismatch", "aggregate_posterior_kl",
           "decode_iid", "encode_iid", "entropy_bits", "gaussian_entropy_bits", "information_bits",
           "standard_normal_prior"]
