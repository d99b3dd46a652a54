"""Where a notebook's results and figures go (written atomically and deterministically).

- Under the papermill driver (``make reproduce``), to a staging folder named by
  ``FLOWLAB_RESULTS_DIR`` / ``FLOWLAB_FIGURES_DIR``; the driver moves them into place only when the
  whole notebook succeeded, so a failed run never leaves half its files behind.
- Run interactively with the default parameters, to the committed references: ``results/`` and
  ``figures/`` (``results/full/``, ``figures/full/`` in full mode).
- Run interactively with any other parameter (another seed, more steps...), to
  ``build/interactive/``, never over the committed references; the notebook says so once.

Figures share one style (:mod:`flowlab.lab.style`) and are saved as PNG at a projector-friendly
resolution without timestamps, so the same figure gives the same bytes.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

from flowlab.files import repo_root, write_bytes_atomic

DPI = 150
_told: set[str] = set()


def _where(params_or_mode) -> tuple[str, bool]:
    """(mode, interactive with non-default parameters?) of a Params or a bare mode string."""
    if isinstance(params_or_mode, str):
        return params_or_mode, False
    nondefault = params_or_mode.seed != 0 or bool(params_or_mode.given)
    return params_or_mode.mode, nondefault


def _folder(kind: str, env: str, params_or_mode) -> Path:
    mode, nondefault = _where(params_or_mode)
    sub = "" if mode == "quick" else mode
    if os.environ.get(env):
        path = Path(os.environ[env])
    elif nondefault:
        path = repo_root() / "build" / "interactive" / kind / sub
        if kind not in _told:
            _told.add(kind)
            print(f"non-default parameters: {kind} go to {path.relative_to(repo_root())}/, "
                  f"not over the committed references")
    else:
        path = repo_root() / kind / sub
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir(params_or_mode="quick") -> Path:
    return _folder("results", "FLOWLAB_RESULTS_DIR", params_or_mode)


def figures_dir(params_or_mode="quick") -> Path:
    return _folder("figures", "FLOWLAB_FIGURES_DIR", params_or_mode)


def save_figure(fig, name: str, params_or_mode="quick", dpi: int = DPI) -> Path:
    """Save ``fig`` as ``figures/<name>.png`` atomically, with no timestamp or version metadata."""
    if not isinstance(name, str) or not name or "/" in name or name.endswith(".png"):
        raise ValueError(f"figure name must be a bare name like '01_density', got {name!r}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    path = figures_dir(params_or_mode) / f"{name}.png"
    write_bytes_atomic(path, buf.getvalue())
    return path
