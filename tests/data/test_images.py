"""Image sets: the built-in ones, MNIST idx files and CIFAR-10 batches from disk, clear errors on
missing or corrupt files."""
import gzip

import numpy as np
import pytest
import torch

from flowlab.data import load_digits, load_images, load_mnist5k
from flowlab.data.images import load_cifar10, load_mnist, read_idx


def test_builtin_image_sets():
    d = load_digits()
    assert d.train.shape == (1500, 1, 8, 8) and d.test.shape == (297, 1, 8, 8)
    assert d.levels == 17 and d.train.max() == 16 and d.train.min() == 0
    m = load_mnist5k()
    assert m.train.shape == (4000, 1, 28, 28) and m.test.shape == (1000, 1, 28, 28) and m.levels == 256
    assert len(set(m.test_labels.tolist())) == 10  # the fixed split mixes the (sorted) labels
    assert torch.equal(load_digits().test, d.test)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="load_images: unknown name 'svhn'; expected one of"):
        load_images("svhn")


def write_idx(path, array, magic_type=0x08, compress=False):
    header = bytes([0, 0, magic_type, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open(path, "wb") if compress else open(path, "wb")).write(data)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_files(tmp_path, compress):
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    imgs = {"train": rng.integers(0, 256, (6, 28, 28)), "t10k": rng.integers(0, 256, (3, 28, 28))}
    for split, images in imgs.items():
        suffix = ".gz" if compress else ""
        write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", images, compress=compress)
        write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", rng.integers(0, 10, len(images)), compress=compress)
    data = load_mnist(tmp_path)
    assert data.train.shape == (6, 1, 28, 28) and data.test.shape == (3, 1, 28, 28)
    assert np.array_equal(data.train[:, 0].numpy(), imgs["train"])


def test_mnist_missing_and_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing data file train-images-idx3-ubyte.*make data"):
        load_mnist(tmp_path)
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 100)
    with pytest.raises(ValueError, match=r"corrupt idx file .*bad-idx: .*header's \[5, 28, 28\] in 3936 bytes"):
        read_idx(bad)
    bad.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ValueError, match="should start 00000801 or 00000803.*starts 504b0304"):
        read_idx(bad)


def test_cifar_batches(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        rows = np.concatenate([rng.integers(0, 10, (2, 1)), rng.integers(0, 256, (2, 3072))], 1)
        (folder / name).write_bytes(rows.astype(np.uint8).tobytes())
    data = load_cifar10(tmp_path)
    assert data.train.shape == (10, 3, 32, 32) and data.test.shape == (2, 3, 32, 32)
    (folder / "test_batch.bin").write_bytes(b"\x00" * 1000)
    with pytest.raises(ValueError, match=r"corrupt CIFAR-10 batch .*test_batch.bin"):
        load_cifar10(tmp_path)
    (folder / "data_batch_3.bin").unlink()
    with pytest.raises(FileNotFoundError, match=r"data_batch_3.bin: expected at"):
        load_cifar10(tmp_path)
