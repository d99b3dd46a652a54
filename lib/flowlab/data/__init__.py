"""Datasets: toy 2D densities, image sets (built in or from files), dequantization and logit."""
from flowlab.data.images import (IMAGE_DATASETS, ImageData, load_cifar10, load_digits, load_images,
                                 load_mnist, load_mnist5k, read_cifar_batch, read_idx)
from flowlab.data.toy2d import TOY_DENSITIES, sample_toy
from flowlab.data.transforms import LogitTransform, dequantize
