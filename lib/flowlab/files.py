"""Files: the repository root, and writes that are atomic and deterministic.

The root is ``FLOWLAB_ROOT`` or the nearest folder above the working directory that holds
``pyproject.toml`` and ``lib/flowlab``. A write goes to a temporary file beside its target and is
renamed into place, so a reader (or a crash) sees the old file or the new one, never half of one.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def repo_root() -> Path:
    env = os.environ.get("FLOWLAB_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "lib" / "flowlab").is_dir():
            return folder
    return Path(__file__).resolve().parents[2]


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` then rename: readers see old or new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, obj) -> None:
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=True) + "\n"
    write_bytes_atomic(path, text.encode())
