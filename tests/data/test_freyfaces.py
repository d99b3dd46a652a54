"""Frey Faces: shipped, checksummed, split as in van den Berg et al. (1565 / 200 / 200 after a seeded
shuffle); a missing or corrupt file is reported by name with the expected checksum."""
import shutil

import numpy as np
import pytest
import torch

from flowlab.data import FREYFACES_TRAIN, load_images
from flowlab.data.freyfaces import FREYFACES_SHA256, FREYFACES_VALIDATION, freyfaces_path, load_freyfaces


def test_the_shipped_file_loads_with_the_papers_split():
    d = load_freyfaces()
    assert d.name == "freyfaces" and d.levels == 256 and d.shape == (1, 28, 20) and d.num_dims == 560
    assert d.train.shape == (FREYFACES_TRAIN + FREYFACES_VALIDATION, 1, 28, 20) and d.test.shape == (200, 1, 28, 20)
    assert d.train.dtype == torch.int64 and 0 <= d.train.min() and d.train.max() <= 255
    raw = np.load(freyfaces_path(), allow_pickle=False)["images"]
    order = np.random.RandomState(123).permutation(1965)          # the paper's shuffle, --freyseed 123
    assert np.array_equal(d.train[:, 0].numpy(), raw[order[:1765]])
    assert np.array_equal(d.test[:, 0].numpy(), raw[order[1765:]])
    every = torch.cat([d.train, d.test]).reshape(1965, -1)
    assert len({tuple(r) for r in every.tolist()}) == 1965          # no image in two parts
    assert torch.equal(load_images("freyfaces").test, d.test)


def test_missing_file_names_the_file_and_the_checksum(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path}.*freyfaces.npz.*{FREYFACES_SHA256}"):
        load_freyfaces(tmp_path)


def test_corrupt_file_names_the_file_and_the_checksum(tmp_path):
    shutil.copy(freyfaces_path(), tmp_path / "freyfaces.npz")
    data = bytearray((tmp_path / "freyfaces.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "freyfaces.npz").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"corrupt data file {tmp_path}.*!= {FREYFACES_SHA256}"):
        load_freyfaces(tmp_path)
    (tmp_path / "freyfaces.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="corrupt data file"):
        load_freyfaces(tmp_path)
    with pytest.raises(TypeError, match=r"load_images \(its root\)"):
        load_images("freyfaces", 3)
