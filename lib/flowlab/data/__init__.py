"""Datasets: toy 2D densities, the energies U1-U4, image sets (built in, shipped or from files),
and dequantization."""
from flowlab.data.dequantize import dequantize
from flowlab.data.energies import ENERGIES, energy, grid, log_normalizer
from flowlab.data.images import (IMAGE_DATASETS, ImageData, load_cifar10, load_digits, load_images,
                                 load_mnist, load_mnist5k, read_cifar_batch, read_idx)
from flowlab.data.toy2d import TOY_DENSITIES, sample_toy

__all__ = ["ENERGIES", "IMAGE_DATASETS", "ImageData", "TOY_DENSITIES", "dequantize", "energy", "grid",
           "load_cifar10", "load_digits", "load_images", "load_mnist", "load_mnist5k", "log_normalizer",
           "read_cifar_batch", "read_idx", "sample_toy"]
