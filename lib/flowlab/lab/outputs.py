"""Where a notebook's results and figures go (written atomically and deterministically).

The papermill driver redirects a run's outputs
to a staging folder with ``FLOWLAB_RESULTS_DIR`` / ``FLOWLAB_FIGURES_DIR`` and moves them into place
only when the whole notebook succeeded, so a failed run never leaves half its files behind.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

from flowlab.files import repo_root, write_bytes_atomic


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


def save_figure(fig, name: str, mode: str = "quick", dpi: int = 110) -> Path:
    """Save ``fig`` as ``figures/<name>.png`` atomically, with no timestamp or version metadata."""
    if not name or "/" in name or name.endswith(".png"):
        raise ValueError(f"figure name must be a bare name like '01_density', got {name!r}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    path = figures_dir(mode) / f"{name}.png"
    write_bytes_atomic(path, buf.getvalue())
    return path
