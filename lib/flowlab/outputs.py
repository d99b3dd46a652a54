"""Where results and figures go, and how they are written: atomically and deterministically.

The repository root is found from ``FLOWLAB_ROOT`` or by walking up from the working directory to the
folder holding ``pyproject.toml`` and ``lib/flowlab``. The papermill driver redirects a run's outputs
to a staging folder with ``FLOWLAB_RESULTS_DIR`` / ``FLOWLAB_FIGURES_DIR`` and moves them into place
only when the whole notebook succeeded, so a failed run never leaves half its files behind.
"""
from __future__ import annotations

import io
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


def results_dir(mode: str = "quick") -> Path:
    env = os.environ.get("FLOWLAB_RESULTS_DIR")
    path = Path(env) if env else repo_root() / "results" / ("" if mode == "quick" else mode)
    path.mkdir(parents=True, exist_ok=True)
    return path


def figures_dir(mode: str = "quick") -> Path:
    env = os.environ.get("FLOWLAB_FIGURES_DIR")
    path = Path(env) if env else repo_root() / "figures" / ("" if mode == "quick" else mode)
    path.mkdir(parents=True, exist_ok=True)
    return path


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


def save_figure(fig, name: str, mode: str = "quick", dpi: int = 110) -> Path:
    """Save ``fig`` as ``figures/<name>.png`` atomically, with no timestamp or version metadata."""
    if not name or "/" in name or name.endswith(".png"):
        raise ValueError(f"figure name must be a bare name like '01_density', got {name!r}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    path = figures_dir(mode) / f"{name}.png"
    write_bytes_atomic(path, buf.getvalue())
    return path
