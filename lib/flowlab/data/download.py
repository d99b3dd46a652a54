"""``make data``: fetch full MNIST and CIFAR-10 (binary version), verify SHA-256, unpack safely.

Where the internet is not reachable it says which files to put where. Nothing is unpickled: MNIST
comes as idx files, CIFAR-10 as its binary batches.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tarfile
import urllib.request
from pathlib import Path

from flowlab.data.images import CIFAR_TEST, CIFAR_TRAIN, MNIST_FILES, data_root

MNIST_MIRRORS = ("https://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/")
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(urls: list[str], target: Path, digest: str) -> None:
    """Download to ``target`` from the first URL that works, then check its SHA-256."""
    if target.is_file() and sha256(target) == digest:
        print(f"  ok (already here) {target}")
        return
    errors = []
    for url in urls:
        partial = target.with_suffix(target.suffix + ".part")
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
        except OSError as err:
            errors.append(f"{url}: {err}")
            partial.unlink(missing_ok=True)
            continue
        got = sha256(partial)
        if got != digest:
            partial.unlink()
            raise ValueError(f"{url} gave a file with SHA-256 {got}, expected {digest}; not kept")
        partial.replace(target)
        print(f"  ok {target}")
        return
    raise ConnectionError("could not download " + target.name + ":\n    " + "\n    ".join(errors))


def get_mnist(root: Path) -> None:
    folder = root / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for stem in MNIST_FILES.values():
        name = f"{stem}.gz"
        fetch([m + name for m in MNIST_MIRRORS], folder / name, MNIST_SHA256[name])


def get_cifar10(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    archive = root / "cifar-10-binary.tar.gz"
    fetch([CIFAR_URL], archive, CIFAR_SHA256)
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")  # refuses absolute paths and links out of root
    print(f"  ok {root / 'cifar-10-batches-bin'}")


def instructions(root: Path) -> str:
    mnist = "\n".join(f"    {root / 'mnist' / (s + '.gz')}" for s in MNIST_FILES.values())
    cifar = "\n".join(f"    {root / 'cifar-10-batches-bin' / n}" for n in CIFAR_TRAIN + [CIFAR_TEST])
    return (f"Put the files there by hand instead (gzipped or not):\n  MNIST (idx files, from "
            f"{MNIST_MIRRORS[0]}):\n{mnist}\n  CIFAR-10 binary version (unpack {CIFAR_URL}):\n{cifar}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=None, help="data folder (default: data/ or $FLOWLAB_DATA)")
    parser.add_argument("--only", choices=["mnist", "cifar10"], default=None)
    args = parser.parse_args(argv)
    root = data_root(args.root)
    failed = False
    for name, get in (("mnist", get_mnist), ("cifar10", get_cifar10)):
        if args.only and args.only != name:
            continue
        print(f"{name}:")
        try:
            get(root)
        except (ConnectionError, ValueError, OSError) as err:
            failed = True
            print(f"  FAILED: {err}", file=sys.stderr)
    if failed:
        print(instructions(root), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
