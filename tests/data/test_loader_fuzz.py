"""Fuzzing the data loaders with truncated and bit-flipped files.

Tiny valid files (MNIST idx, plain and gzipped; CIFAR-10 binary batches) are written to a temporary
``FLOWLAB_DATA`` folder, then damaged: truncated at seeded lengths, or with one to three seeded bit
flips. Every variant must either load data of the right shape and dtype (a flip inside the pixels,
or in bytes gzip ignores, cannot be told from real data) or raise ``ValueError`` /
``FileNotFoundError`` naming the damaged file: never a raw gzip, zlib, struct or numpy error, and
never a hang (each load runs under an alarm).
"""
from __future__ import annotations

import gzip
import random
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from flowlab.data.images import load_cifar10, load_mnist, read_cifar_batch, read_idx

SEED = 20260101
CLEAR = (ValueError, FileNotFoundError)
RECORD = 1 + 3 * 32 * 32
SECONDS = 10  # per load; a healthy one takes milliseconds

MNIST = {"train-images-idx3-ubyte": (3, 28, 28), "train-labels-idx1-ubyte": (3,),
         "t10k-images-idx3-ubyte": (2, 28, 28), "t10k-labels-idx1-ubyte": (2,)}
CIFAR = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


@contextmanager
def no_hang(what: str):
    def alarm(signum, frame):
        raise TimeoutError(f"loading {what} did not finish within {SECONDS} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def idx_bytes(shape, rng: np.random.Generator, labels: bool = False) -> bytes:
    values = rng.integers(0, 10 if labels else 256, shape).astype(np.uint8)
    header = bytes([0, 0, 0x08, len(shape)]) + b"".join(int(s).to_bytes(4, "big") for s in shape)
    return header + values.tobytes()


def cifar_bytes(records: int, rng: np.random.Generator) -> bytes:
    rows = np.concatenate([rng.integers(0, 10, (records, 1)), rng.integers(0, 256, (records, RECORD - 1))], 1)
    return rows.astype(np.uint8).tobytes()


def truncations(data: bytes, rnd: random.Random, count: int) -> list[bytes]:
    """Cut at 0, inside the header, at record edges, one byte short, and at seeded random lengths."""
    cuts = {c for c in (0, 1, 3, 4, 7, 8, 11, 15, 16, len(data) - 1, len(data) // 2) if c < len(data)}
    while len(cuts) < min(count, len(data)):
        cuts.add(rnd.randrange(0, len(data)))
    return [data[:c] for c in sorted(cuts) if c < len(data)]


def bit_flips(data: bytes, rnd: random.Random, count: int, header: int = 20) -> list[bytes]:
    """One to three flipped bits; half of the variants aim at the first ``header`` bytes."""
    out = []
    for i in range(count):
        damaged = bytearray(data)
        for _ in range(rnd.randint(1, 3)):
            pos = rnd.randrange(min(header, len(data))) if i % 2 == 0 else rnd.randrange(len(data))
            damaged[pos] ^= 1 << rnd.randrange(8)
        out.append(bytes(damaged))
    return out


class Tally:
    def __init__(self):
        self.loaded = self.rejected = 0
        self.failures: list[str] = []

    def run(self, path: Path, load, check) -> None:
        """``load()`` must give data that passes ``check`` or a clear error naming ``path``."""
        start = time.perf_counter()
        try:
            with no_hang(str(path)):
                out = load()
        except CLEAR as err:
            if str(path) not in str(err):
                self.failures.append(f"{path.name}: {type(err).__name__} without the path: {err}")
            else:
                self.rejected += 1
        except Exception as err:  # noqa: BLE001 - exactly what must not happen
            self.failures.append(f"{path.name}: raw {type(err).__module__}.{type(err).__name__}: {err}")
        else:
            problem = check(out)
            if problem:
                self.failures.append(f"{path.name}: loaded wrong data: {problem}")
            else:
                self.loaded += 1
        if time.perf_counter() - start > SECONDS:  # pragma: no cover - the alarm fires first
            self.failures.append(f"{path.name}: took {time.perf_counter() - start:.1f} s")

    def assert_clean(self, minimum: int) -> None:
        print(f"{self.loaded + self.rejected} variants: {self.loaded} loaded, {self.rejected} rejected clearly")
        assert not self.failures, f"{len(self.failures)} bad outcomes, e.g.:\n" + "\n".join(self.failures[:10])
        assert self.loaded + self.rejected >= minimum
        assert self.rejected > 0


def _array_check(shape):
    def check(a):
        if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.shape != shape:
            return f"got {type(a).__name__} {getattr(a, 'dtype', '')} {getattr(a, 'shape', '')}, expected uint8 {shape}"
        return ""
    return check


@pytest.mark.parametrize("compress", [False, True], ids=["idx", "gz"])
def test_read_idx_fuzz(tmp_path, compress):
    rng, rnd = np.random.default_rng(SEED), random.Random(SEED + compress)
    tally = Tally()
    for shape, labels in (((4, 28, 28), False), ((9,), True)):
        raw = idx_bytes(shape, rng, labels)
        data = gzip.compress(raw, mtime=0) if compress else raw
        path = tmp_path / ("file-idx" + (".gz" if compress else ""))
        variants = truncations(data, rnd, 40) + bit_flips(data, rnd, 80, header=20 if compress else 4 + 4 * len(shape))
        for damaged in variants:
            path.write_bytes(damaged)
            tally.run(path, lambda path=path: read_idx(path), _array_check(shape))
    tally.assert_clean(200)


def test_read_cifar_batch_fuzz(tmp_path):
    rng, rnd = np.random.default_rng(SEED), random.Random(SEED + 2)
    data = cifar_bytes(2, rng)
    path = tmp_path / "data_batch_1.bin"
    tally = Tally()

    for damaged in truncations(data, rnd, 60) + [data[:RECORD]] + bit_flips(data, rnd, 120, header=RECORD + 1):
        path.write_bytes(damaged)
        # No header: a batch cut exactly at a record edge is a valid, shorter batch.
        records = len(damaged) // RECORD if len(damaged) % RECORD == 0 and damaged else 2

        def check(out, records=records):
            images, labels = out
            if images.dtype != np.uint8 or images.shape != (records, 3, 32, 32) or labels.shape != (records,):
                return f"images {images.dtype} {images.shape}, labels {labels.shape}"
            if labels.max() > 9:
                return f"label {labels.max()}"
            return ""
        tally.run(path, lambda: read_cifar_batch(path), check)
    tally.assert_clean(150)


def _write_mnist(folder: Path, rng, compress: bool) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for stem, shape in MNIST.items():
        raw = idx_bytes(shape, rng, labels="labels" in stem)
        data = gzip.compress(raw, mtime=0) if compress else raw
        name = stem + (".gz" if compress else "")
        (folder / name).write_bytes(data)
        files[name] = data
    return files


def _check_mnist(data) -> str:
    if data.train.shape != (3, 1, 28, 28) or data.test.shape != (2, 1, 28, 28):
        return f"train {tuple(data.train.shape)}, test {tuple(data.test.shape)}"
    if data.train_labels.shape != (3,) or data.test_labels.shape != (2,) or int(data.train_labels.max()) > 9:
        return f"labels {tuple(data.train_labels.shape)}, {tuple(data.test_labels.shape)}"
    if str(data.train.dtype) != "torch.int64" or int(data.train.max()) > 255 or data.levels != 256:
        return f"pixels {data.train.dtype}"
    return ""


@pytest.mark.parametrize("compress", [False, True], ids=["idx", "gz"])
def test_load_mnist_fuzz(tmp_path, monkeypatch, compress):
    root = tmp_path / "data"
    monkeypatch.setenv("FLOWLAB_DATA", str(root))
    rng, rnd = np.random.default_rng(SEED + 3), random.Random(SEED + 3 + compress)
    files = _write_mnist(root / "mnist", rng, compress)
    assert not _check_mnist(load_mnist())
    tally = Tally()
    for name, data in files.items():
        path = root / "mnist" / name
        for damaged in truncations(data, rnd, 12) + bit_flips(data, rnd, 24):
            path.write_bytes(damaged)
            tally.run(path, load_mnist, _check_mnist)
        path.write_bytes(data)
    # A missing file names what is missing and where it was looked for.
    (root / "mnist" / next(iter(files))).unlink()
    with pytest.raises(FileNotFoundError, match=r"missing data file train-images-idx3-ubyte.*make data"):
        load_mnist()
    tally.assert_clean(120)


def test_load_cifar10_fuzz(tmp_path, monkeypatch):
    root = tmp_path / "data"
    monkeypatch.setenv("FLOWLAB_DATA", str(root))
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    rng, rnd = np.random.default_rng(SEED + 4), random.Random(SEED + 4)
    files = {name: cifar_bytes(2, rng) for name in CIFAR}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    assert load_cifar10().train.shape == (10, 3, 32, 32)
    tally = Tally()
    for name in (CIFAR[0], CIFAR[-1]):
        data, path = files[name], folder / name
        for damaged in truncations(data, rnd, 25) + bit_flips(data, rnd, 50, header=RECORD + 1):
            path.write_bytes(damaged)
            edge = damaged and len(damaged) % RECORD == 0
            n = len(damaged) // RECORD if edge else 2
            n_train, n_test = (8 + n, 2) if name != "test_batch.bin" else (10, n)

            def check(data, n_train=n_train, n_test=n_test):
                if tuple(data.train.shape) != (n_train, 3, 32, 32) or tuple(data.test.shape) != (n_test, 3, 32, 32):
                    return f"train {tuple(data.train.shape)}, test {tuple(data.test.shape)}"
                if int(data.train_labels.max()) > 9 or int(data.test_labels.max()) > 9:
                    return "a label outside 0..9"
                return ""
            tally.run(path, load_cifar10, check)
        path.write_bytes(data)
    tally.assert_clean(140)
