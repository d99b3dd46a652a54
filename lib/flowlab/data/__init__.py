"""Datasets: toy 2D densities, the energies U1-U4, image sets (built in, shipped or from files),
dequantization and binarization. The loaders of single files and sets (``load_mnist``, ``read_idx``,
``load_freyfaces``...) live in :mod:`flowlab.data.images` and :mod:`flowlab.data.freyfaces`;
:func:`load_images` is the one entry point that checks its arguments."""
from flowlab.data.binary import binarize
from flowlab.data.dequantize import dequantize
from flowlab.data.energies import ENERGIES, grid, log_normalizer
from flowlab.data.freyfaces import FREYFACES_TRAIN
from flowlab.data.images import load_digits, load_images, load_mnist5k
from flowlab.data.toy2d import sample_toy

__all__ = ["ENERGIES", "FREYFACES_TRAIN", "binarize", "dequantize", "grid", "load_digits", "load_images",
           "load_mnist5k", "log_normalizer", "sample_toy"]
