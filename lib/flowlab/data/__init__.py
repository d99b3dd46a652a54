"""Datasets: toy 2D densities, the energies U1-U4, image sets (built in, shipped or from files),
dequantization and binarization."""
from flowlab.data.binary import binarize
from flowlab.data.dequantize import dequantize
from flowlab.data.energies import ENERGIES, energy, grid, log_normalizer
from flowlab.data.freyfaces import (
                                    FREYFACES_SHA256,
                                    FREYFACES_TEST,
                                    FREYFACES_TRAIN,
                                    FREYFACES_VALIDATION,
                                    freyfaces_path,
                                    load_freyfaces,
)
from flowlab.data.images import (
                                    IMAGE_DATASETS,
                                    ImageData,
                                    load_cifar10,
                                    load_digits,
                                    load_images,
                                    load_mnist,
                                    load_mnist5k,
                                    read_cifar_batch,
                                    read_idx,
)
from flowlab.data.toy2d import TOY_DENSITIES, sample_toy

__all__ = ["ENERGIES", "FREYFACES_SHA256", "FREYFACES_TEST", "FREYFACES_TRAIN", "FREYFACES_VALIDATION",
           "IMAGE_DATASETS", "ImageData", "TOY_DENSITIES", "binarize", "dequantize", "energy",
           "freyfaces_path", "grid", "load_cifar10", "load_digits", "load_freyfaces", "load_images",
           "load_mnist", "load_mnist5k", "log_normalizer", "read_cifar_batch", "read_idx", "sample_toy"]
