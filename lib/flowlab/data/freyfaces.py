"""Frey Faces, shipped with the project: 1,965 grey-scale faces of 28 x 20 pixels, 256 levels
(B. Frey, as distributed by S. Roweis), the Freyfaces column of the Sylvester-flows table (lecture 003).

The file ``data/freyfaces.npz`` holds one uint8 array ``images`` [1965, 28, 20] (numpy's
``savez_compressed``, read with ``allow_pickle=False``); its SHA-256 is checked on every load, so a
truncated or altered copy is reported by name with the expected checksum.

**Split.** As in van den Berg et al. (2018): a seeded shuffle (numpy seed 123, the first of the
paper's three ``--freyseed`` values), then 1,565 train, 200 validation and 200 test images. The
project's :class:`~flowlab.data.images.ImageData` has a train and a test part, so ``train`` holds train then
validation, in that order: ``data.train[:FREYFACES_TRAIN]`` is the paper's training set and
``data.train[FREYFACES_TRAIN:]`` its validation set. There are no classes: the labels are zeros.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from flowlab.data.images import ImageData
from flowlab.files import repo_root

FREYFACES_FILE = "freyfaces.npz"
FREYFACES_SHA256 = "3c70375e0a9c4751ad49ad5f1f692bd094c46f133cf4aa8ea77d1cb14e1efcd1"
FREYFACES_TRAIN, FREYFACES_VALIDATION, FREYFACES_TEST = 1565, 200, 200
FREYFACES_SPLIT_SEED = 123  # van den Berg et al.'s first --freyseed
_HOW = "it ships with the project as data/freyfaces.npz (see data/README.md); restore it from the repository"


def freyfaces_path(root: str | Path | None = None) -> Path:
    """Where the file is read from: ``<root>/freyfaces.npz``, by default the project's ``data/``."""
    return (repo_root() / "data" if root is None else Path(root)) / FREYFACES_FILE


def _read_checked(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"load_freyfaces: missing data file {path} (expected SHA-256 "
                                f"{FREYFACES_SHA256}); {_HOW}")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != FREYFACES_SHA256:
        raise ValueError(f"load_freyfaces: corrupt data file {path}: SHA-256 {digest} != {FREYFACES_SHA256}; {_HOW}")
    with np.load(path, allow_pickle=False) as archive:
        return archive["images"]  # uint8 [1965, 28, 20]: the checksum matched


def load_freyfaces(root: str | Path | None = None) -> ImageData:
    """Frey Faces as integer pixels [N, 1, 28, 20] in 0..255: train = the paper's 1,565 train then its
    200 validation images, test = its 200 test images (module docstring). ``root``: a folder that
    :func:`~flowlab.data.load_images` checked."""
    images = _read_checked(freyfaces_path(root))
    order = np.random.RandomState(FREYFACES_SPLIT_SEED).permutation(len(images))
    n_train = FREYFACES_TRAIN + FREYFACES_VALIDATION
    def as_tensor(idx):
        return torch.from_numpy(images[idx].astype(np.int64)[:, None])
    train, test = order[:n_train], order[n_train:n_train + FREYFACES_TEST]
    return ImageData("freyfaces", as_tensor(train), torch.zeros(len(train), dtype=torch.long),
                     as_tensor(test), torch.zeros(len(test), dtype=torch.long), 256)
