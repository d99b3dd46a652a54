"""Provenance of a results file: mode, seed, device, threads, versions, the commit and the library digest.

The commit says which code produced a result: the last commit that changed the library itself
(``lib/``, ``pyproject.toml``), marked ``-dirty`` only when the library differs from it, not when the
run's own outputs do. The
library digest (a hash of every library source the notebooks import) identifies the code exactly,
committed or not.
"""
from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

from flowlab.files import repo_root

# The driver, its tables and the book builder run outside the notebooks' kernels: changing them
# changes no result.
DRIVER_MODULES = {"reproduce.py", "tables.py", "book.py"}


def library_digest(root: Path | None = None) -> str:
    root = root or repo_root()
    h = hashlib.sha256()
    for path in sorted((root / "lib" / "flowlab").rglob("*.py")):
        if path.parent.name == "lab" and path.name in DRIVER_MODULES:
            continue
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def git_commit() -> str:
    """The last commit that changed the library (``lib/``, ``pyproject.toml``), with ``-dirty`` when the
    library differs from it: commits of notebooks or results alone leave a re-run's results unchanged."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True, timeout=10)

    try:
        head = git("log", "-1", "--format=%h", "--abbrev=10", "--", "lib", "pyproject.toml").stdout.strip()
        if not head:
            return "unknown"
        dirty = git("status", "--porcelain", "--", "lib", "pyproject.toml").stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def code_identity() -> tuple[str, str]:
    """The commit and library digest as this process found them when it first asked: a notebook's
    results describe the code its kernel imported, even if the files change during a long run."""
    global _START
    if _START is None:
        _START = (os.environ.get("FLOWLAB_GIT_COMMIT") or git_commit(), library_digest())
    return _START


_START: tuple[str, str] | None = None


def provenance(mode: str, seed: int, device: str) -> dict:
    import torch

    import flowlab

    versions = {"python": platform.python_version(), "flowlab": flowlab.__version__,
                "torch": torch.__version__, "numpy": np.__version__}
    for name in ("torchdiffeq", "scipy", "sklearn"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            pass
    return {"mode": mode, "seed": seed, "device": device, "threads": torch.get_num_threads(),
            "versions": versions, "git_commit": code_identity()[0], "library_digest": code_identity()[1]}
